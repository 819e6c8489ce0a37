"""Size limit, timeout and cancellation: pg_dump stopped, file removed, no session left."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from backups.errors import BackupCancelled, BackupTimeout, BackupTooLarge
from backups.models import Backup
from backups.pgdump import export_schema
from backups.services import backup_export_run
from backups.storage import backups_storage
from backups.streaming import ExportLimits
from tests.backups.conftest import pg_dump_children, stored_files, tool_sessions

pytestmark = pytest.mark.django_db(transaction=True)


def assert_cleaned_up(store: Path) -> None:
    assert stored_files(store) == []
    assert pg_dump_children() == []
    assert tool_sessions() == 0
    assert not Backup.objects.exists()


@pytest.mark.parametrize("compress", [False, True])
def test_backup_export_run__size_limit_stops_and_cleans_up(
    tenant: Any, backup_store: Path, settings: Any, compress: bool
) -> None:
    project = tenant("acme-shop", extra_tables={"big": 20_000})
    settings.BACKUPS_MAX_BYTES = 64 * 1024
    with pytest.raises(BackupTooLarge) as info:
        backup_export_run(project=project, format="sql", compress=compress)
    assert "BACKUPS_MAX_BYTES" in str(info.value)
    assert_cleaned_up(backup_store)


def test_backup_export_run__timeout_kills_waiting_pg_dump(
    locked_tenant: Any, backup_store: Path, settings: Any
) -> None:
    settings.BACKUPS_TIMEOUT = 1
    with pytest.raises(BackupTimeout) as info:
        backup_export_run(project=locked_tenant, format="tar", compress=True)
    assert "BACKUPS_TIMEOUT" in str(info.value)
    assert_cleaned_up(backup_store)


def test_backup_export_run__cancellation_stops_pg_dump(
    locked_tenant: Any, backup_store: Path
) -> None:
    started = threading.Event()
    asked: list[bool] = []

    def should_cancel() -> bool:
        asked.append(True)
        return started.is_set()

    def progress(phase: str, n: int, pct: float | None) -> None:
        if phase == "starting":
            assert len(pg_dump_children()) == 1  # the dump is really running
            started.set()

    with pytest.raises(BackupCancelled):
        backup_export_run(
            project=locked_tenant,
            format="sql",
            compress=False,
            progress=progress,
            should_cancel=should_cancel,
        )
    assert asked
    assert_cleaned_up(backup_store)


def test_export_schema__cancellation_mid_stream(tenant: Any, backup_store: Path) -> None:
    project = tenant("acme-shop", extra_tables={"big": 200_000})
    seen: list[int] = []
    limits = ExportLimits(max_bytes=1 << 40, timeout=60, progress_interval=0, cancel_interval=0)

    with pytest.raises(BackupCancelled):
        export_schema(
            schema=project.schema_name,
            format="sql",
            compression="gzip",
            key="backups/acme-shop/x.sql.gz",
            storage=backups_storage(),
            limits=limits,
            progress=lambda phase, n, pct: seen.append(n),
            should_cancel=lambda: bool(seen) and seen[-1] > 256 * 1024,
        )
    assert seen[-1] > 256 * 1024  # stopped after data had flowed, not before
    assert_cleaned_up(backup_store)
