"""The database password reaches pg_dump through its environment only."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from backups.errors import PgToolFailed
from backups.pgdump import export_schema, pg_dump_args
from backups.pgtools import DatabaseParams
from backups.storage import backups_storage
from tests.backups.conftest import pg_dump_children, stored_files, tool_sessions

pytestmark = pytest.mark.django_db(transaction=True)


def params(role: str, password: str) -> DatabaseParams:
    base = DatabaseParams.from_alias()
    return DatabaseParams(
        dbname=base.dbname, host=base.host, port=base.port, user=role, password=password
    )


def test_export_schema__password_only_in_environment(
    canary_role: Any, caplog: pytest.LogCaptureFixture
) -> None:
    project, role, password = canary_role
    caplog.set_level(logging.DEBUG)
    seen: dict[str, bytes] = {}

    def progress(phase: str, n: int, pct: float | None) -> None:
        if phase == "starting":
            (pid,) = pg_dump_children()
            seen["cmdline"] = Path(f"/proc/{pid}/cmdline").read_bytes()
            seen["environ"] = Path(f"/proc/{pid}/environ").read_bytes()

    outcome = export_schema(
        schema=project.schema_name,
        format="sql",
        compression="none",
        key="backups/acme-shop/canary.sql",
        storage=backups_storage(),
        db=params(role, password),
        progress=progress,
    )

    assert outcome.table_rows["orders"] == 300  # the role really logged in with the password
    assert password.encode() not in seen["cmdline"]
    assert b"--no-owner" in seen["cmdline"] and b"--strict-names" in seen["cmdline"]
    assert f"PGPASSWORD={password}".encode() in seen["environ"].split(b"\0")
    assert password not in " ".join(pg_dump_args(schema=project.schema_name, format="sql"))
    assert password not in caplog.text
    assert password not in repr(outcome) and password not in repr(params(role, password))


def test_export_schema__wrong_password_error_names_no_secret(
    canary_role: Any, backup_store: Path
) -> None:
    project, role, password = canary_role
    wrong = password + "-WRONG"
    with pytest.raises(PgToolFailed) as info:
        export_schema(
            schema=project.schema_name,
            format="tar",
            compression="gzip",
            key="backups/acme-shop/x.tar.gz",
            storage=backups_storage(),
            db=params(role, wrong),
        )
    message = str(info.value)
    assert "password authentication failed" in message
    assert wrong not in message and password not in message
    assert stored_files(backup_store) == []
    assert pg_dump_children() == [] and tool_sessions() == 0


def test_database_params__inherited_pg_variables_do_not_leak(monkeypatch: Any) -> None:
    monkeypatch.setenv("PGPASSWORD", "from-the-worker-env")
    monkeypatch.setenv("PGSERVICE", "elsewhere")
    env = DatabaseParams(dbname="d", user="u", password="p").environment(application_name="a")
    assert env["PGPASSWORD"] == "p" and "PGSERVICE" not in env
    assert env["PATH"] == os.environ["PATH"]
