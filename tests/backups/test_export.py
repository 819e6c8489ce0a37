"""Exports with the machine's real pg_dump: round trips, isolation between tenants, bookkeeping."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from backups.errors import BackupPermanentError, ProjectNotActive, StoragePathTaken
from backups.models import Backup
from backups.services import backup_export_run
from controlplane.models import ProjectStatus
from controlplane.services import project_suspend
from tests.backups.conftest import pg_dump_children, stored_files, tool_sessions
from tests.backups.restore import fresh_restore, schema_contents, schemas_of

pytestmark = pytest.mark.django_db(transaction=True)


def dump_text(path: Path, *, format: str, compressed: bool) -> str:
    """Return the dump's SQL text (for tar: every member's text joined)."""
    data = path.read_bytes()
    if compressed:
        data = gzip.decompress(data)
    if format == "sql":
        return data.decode()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return "\n".join(
            archive.extractfile(m).read().decode("utf-8", "replace")
            for m in archive.getmembers()
            if m.name != "toc.dat"
        )


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
@pytest.mark.parametrize("format", ["sql", "tar"])
def test_backup_export_run__round_trip_restores_identical_rows(
    tenant: Any, backup_store: Path, format: str, compression: str
) -> None:
    project = tenant("acme-shop")
    source = schema_contents(None, project.schema_name)
    compress = compression != "none"

    backup = backup_export_run(project=project, format=format, compression=compression)

    path = backup_store / backup.storage_path
    ext = f".{format}" + {"none": "", "gzip": ".gz", "zstd": ".zst"}[compression]
    assert backup.storage_path.startswith("backups/acme-shop/") and backup.storage_path.endswith(
        ext
    )
    assert backup.size_bytes == path.stat().st_size
    assert backup.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert backup.table_count == 3
    assert backup.table_rows == {"customers": 4, "orders": 300, "empty_things": 0}
    assert (backup.format, backup.compressed, backup.compression, backup.legal_hold) == (
        format,
        compress,
        compression,
        False,
    )
    assert backup.expires_at > backup.created_at
    with fresh_restore(path, format=format, compression=compression) as db:
        assert schema_contents(db, project.schema_name) == source
    assert Backup.objects.count() == 1


@pytest.mark.parametrize("format", ["sql", "tar"])
def test_backup_export_run__prefix_sharing_tenant_never_included(
    tenant: Any, backup_store: Path, format: str
) -> None:
    acme = tenant("acme", {"customers": [(1, "mine", None)]})
    tenant("acme-eu", {"customers": [(1, "NOT-MINE-EU", None)], "orders": []})
    tenant("acmes", {"customers": [(1, "NOT-MINE-S", None)], "empty_things": []})

    backup = backup_export_run(project=acme, format=format, compress=False)

    text = dump_text(backup_store / backup.storage_path, format=format, compressed=False)
    assert "tenant_acme_eu" not in text and "tenant_acmes" not in text
    assert "NOT-MINE" not in text and "mine" in text
    assert backup.table_rows == {"customers": 1}
    with fresh_restore(backup_store / backup.storage_path, format=format, compressed=False) as db:
        tenant_schemas = {s for s in schemas_of(db) if s.startswith("tenant_")}
        assert tenant_schemas == {"tenant_acme"}


def test_backup_export_run__control_plane_tables_never_included(
    tenant: Any, backup_store: Path
) -> None:
    project = tenant("acme-shop")
    backup = backup_export_run(project=project, format="sql", compress=False)
    text = dump_text(backup_store / backup.storage_path, format="sql", compressed=False)
    assert "controlplane_project" not in text and "public." not in text


def test_backup_export_run__suspended_project_is_a_permanent_error(
    tenant: Any, backup_store: Path
) -> None:
    project = tenant("acme-shop")
    project_suspend(project_ids=[project.pk], actor=None, reason="unpaid")
    with pytest.raises(ProjectNotActive) as info:
        backup_export_run(project=project, format="sql", compress=True)
    assert info.value.permanent and "suspended" in str(info.value)
    assert stored_files(backup_store) == [] and not Backup.objects.exists()


def test_backup_export_run__missing_project_is_a_permanent_error(tenant: Any) -> None:
    with pytest.raises(ProjectNotActive):
        backup_export_run(project=987654, format="sql", compress=True)


def test_backup_export_run__provisioning_project_refused(tenant: Any) -> None:
    from tests import factories

    project = factories.project(slug="not-ready", status=ProjectStatus.PROVISIONING)
    with pytest.raises(ProjectNotActive):
        backup_export_run(project=project, format="tar", compress=True)


def test_backup_export_run__explicit_storage_path(tenant: Any, backup_store: Path) -> None:
    project = tenant("acme-shop")
    backup = backup_export_run(
        project=project,
        format="sql",
        compress=True,
        storage_path="backups/acme-shop/nightly/a.sql.gz",
    )
    assert backup.storage_path == "backups/acme-shop/nightly/a.sql.gz"
    assert (backup_store / "backups/acme-shop/nightly/a.sql.gz").is_file()


def test_backup_export_run__storage_path_taken_keeps_existing_file(
    tenant: Any, backup_store: Path
) -> None:
    project = tenant("acme-shop")
    existing = backup_store / "backups/acme-shop/keep.sql"
    existing.parent.mkdir(parents=True)
    existing.write_bytes(b"precious")
    with pytest.raises(StoragePathTaken):
        backup_export_run(
            project=project, format="sql", compress=False, storage_path="backups/acme-shop/keep.sql"
        )
    assert existing.read_bytes() == b"precious"
    assert pg_dump_children() == [] and tool_sessions() == 0


@pytest.mark.parametrize(
    "path", ["backups/other-proj/x.sql", "../x.sql", "/etc/x", "backups/acme-shop/../x.sql"]
)
def test_backup_export_run__unsafe_storage_path_refused(
    tenant: Any, backup_store: Path, path: str
) -> None:
    project = tenant("acme-shop")
    with pytest.raises(BackupPermanentError):
        backup_export_run(project=project, format="sql", compress=False, storage_path=path)
    assert stored_files(backup_store) == []


def test_backup_export_run__reports_progress_phases(tenant: Any) -> None:
    project = tenant("acme-shop")
    calls: list[tuple[str, int, float | None]] = []
    backup = backup_export_run(
        project=project,
        format="sql",
        compress=True,
        progress=lambda phase, n, pct: calls.append((phase, n, pct)),
    )
    phases = [c[0] for c in calls]
    assert phases[0] == "starting" and phases[-1] == "stored"
    sizes = [c[1] for c in calls]
    assert sizes == sorted(sizes) and sizes[-1] > backup.size_bytes  # raw SQL > gzip
    assert all(p is None or 0 <= p <= 99 for _, _, p in calls)


def test_backup_export_run__records_job_and_returns_it_again(tenant: Any) -> None:
    from jobs.services import enqueue_job

    project = tenant("acme-shop")
    job = enqueue_job(
        type="export_backup",
        payload={"project_id": "acme-shop", "format": "tar", "compress": False},
        project=project,
    )[0]
    backup = backup_export_run(project=project, format="tar", compress=False, job_id=job.pk)
    assert Backup.objects.get(pk=backup.pk).job_id == job.pk

    again = backup_export_run(project=project, format="tar", compress=False, job_id=job.pk)

    assert again.pk == backup.pk and Backup.objects.count() == 1
