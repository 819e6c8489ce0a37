"""storage_path rules, export input validation, pg_dump arguments and binary choice."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from backups.errors import BackupPermanentError, InvalidStoragePath, PgBinaryNotFound
from backups.pgdump import pg_dump_args
from backups.pgtools import find_client_bindir, server_major_version
from backups.serializers import BackupExportInput
from backups.storage import default_storage_key, validate_storage_path

SLUG = "acme"


@pytest.mark.parametrize(
    "path",
    ["backups/acme/a.sql", "backups/acme/nightly/2024-01-01.tar.gz", "backups/acme/x y.sql"],
)
def test_validate_storage_path__accepts_files_under_the_project(path: str) -> None:
    assert validate_storage_path(path, project_slug=SLUG) == path


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/backups/acme/a.sql",
        "backups/acme/../other/a.sql",
        "backups/acme/./a.sql",
        "backups/acme//a.sql",
        "backups/acme/",
        "backups/acme",
        "backups/acme-eu/a.sql",
        "backups/acmex/a.sql",
        "other/acme/a.sql",
        "backups/acme/a\x00.sql",
        "backups\\acme\\a.sql",
        "backups/acme/..",
        "C:/backups/acme/a.sql",
        "backups/acme/a\n.sql",
        "backups/acme/" + "a" * 500,
    ],
)
def test_validate_storage_path__refuses_unsafe_paths(path: str) -> None:
    with pytest.raises(InvalidStoragePath):
        validate_storage_path(path, project_slug=SLUG)


def test_default_storage_key__utc_timestamp_and_extension() -> None:
    at = datetime(2024, 5, 6, 9, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert (
        default_storage_key(project_slug="acme", format="tar", compression="gzip", at=at)
        == "backups/acme/20240506T070809.123456Z.tar.gz"
    )
    assert default_storage_key(
        project_slug="acme", format="sql", compression="none", at=at
    ).endswith(".sql")


def test_backup_export_input__defaults_and_field_errors() -> None:
    ok = BackupExportInput(data={"project_id": "acme"})
    assert ok.is_valid(), ok.errors
    assert ok.validated_data == {"project_id": "acme", "format": "sql", "compress": True}
    assert "compression" not in ok.validated_data  # absent: resolved by the service
    bad = BackupExportInput(
        data={
            "project_id": "acme!",
            "format": "zip",
            "notify_email": "nope",
        }
    )
    assert not bad.is_valid()
    assert set(bad.errors) == {"project_id", "format", "notify_email"}
    traversal = BackupExportInput(data={"project_id": "acme", "storage_path": "backups/acme/../x"})
    assert not traversal.is_valid() and "storage_path" in traversal.errors


def test_pg_dump_args__exact_schema_no_connection_details() -> None:
    args = pg_dump_args(schema="tenant_acme", format="tar")
    assert args[0] == '--schema="tenant_acme"'
    assert {"--strict-names", "--no-owner", "--no-acl", "--format=t"} <= set(args)
    assert not any(a.startswith(("-h", "-U", "-d", "--host", "--user", "--dbname")) for a in args)
    assert "--format=p" in pg_dump_args(schema="tenant_acme", format="sql")


@pytest.mark.parametrize("schema", ["public", "tenant_*", "tenant_a.b", 'tenant_x"y', "tenant_"])
def test_pg_dump_args__refuses_non_tenant_schemas(schema: str) -> None:
    with pytest.raises(BackupPermanentError):
        pg_dump_args(schema=schema, format="sql")


def fake_bindir(root: Path, major: int) -> Path:
    bindir = root / f"pg{major}"
    bindir.mkdir()
    for tool in ("pg_dump", "pg_restore", "psql"):
        script = bindir / tool
        script.write_text(f"#!/bin/sh\necho '{tool} (PostgreSQL) {major}.1'\n")
        os.chmod(script, 0o755)  # noqa: S103
    return bindir


def test_find_client_bindir__configured_folder_must_be_new_enough(
    settings: Any, tmp_path: Path
) -> None:
    settings.BACKUPS_PG_BIN_DIR = str(fake_bindir(tmp_path, 14))
    with pytest.raises(PgBinaryNotFound, match="pg_dump 15 or newer"):
        find_client_bindir(15)
    assert find_client_bindir(13) == tmp_path / "pg14"
    settings.BACKUPS_PG_BIN_DIR = str(fake_bindir(tmp_path, 17))
    assert find_client_bindir(15) == tmp_path / "pg17"


@pytest.mark.django_db
def test_find_client_bindir__machine_has_one_for_its_server(settings: Any) -> None:
    settings.BACKUPS_PG_BIN_DIR = ""
    assert (find_client_bindir(server_major_version()) / "pg_dump").is_file()
    with pytest.raises(PgBinaryNotFound):
        find_client_bindir(99)
