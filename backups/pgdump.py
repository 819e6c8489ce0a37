"""Export exactly one tenant schema with pg_dump, straight into the backups storage."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.files.storage import Storage
from django.db import connections

from backups.errors import BackupPermanentError, StoragePathTaken
from backups.models import BackupFormat
from backups.pgprocess import PgProcess
from backups.pgtools import DatabaseParams, find_client_bindir, server_major_version
from backups.streaming import ExportLimits, ExportOutcome, Progress, ShouldCancel, stream_to_storage

# Matches Project.schema_name for every legal slug; anything else never reaches pg_dump.
TENANT_SCHEMA = re.compile(r"^tenant_[a-z][a-z0-9_]{2,39}$")
_FORMAT_FLAGS = {BackupFormat.SQL: "p", BackupFormat.TAR: "t"}


def export_limits() -> ExportLimits:
    """Return the limits configured in settings."""
    return ExportLimits(
        max_bytes=settings.BACKUPS_MAX_BYTES,
        timeout=float(settings.BACKUPS_TIMEOUT),
        gzip_level=settings.BACKUPS_GZIP_LEVEL,
        zstd_level=settings.BACKUPS_ZSTD_LEVEL,
    )


def pg_dump_args(*, schema: str, format: str) -> list[str]:
    """Return pg_dump's arguments for one schema; connection details travel in the environment."""
    if not TENANT_SCHEMA.fullmatch(schema):
        raise BackupPermanentError(f"{schema!r} is not a tenant schema name.")
    return [
        # Double quotes make the pattern literal: no wildcard, exact case, whole name.
        f'--schema="{schema}"',
        "--strict-names",
        "--no-owner",
        "--no-acl",
        f"--format={_FORMAT_FLAGS[BackupFormat(format)]}",
        "--no-password",
    ]


def schema_size_estimate(schema: str, alias: str = "default") -> int:
    """Return the schema's table size from catalog statistics, a rough guide for percent."""
    # relpages, not pg_table_size(): reading statistics takes no lock on the tables,
    # so a table locked by someone else cannot stall the export before it starts.
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(c.relpages::bigint), 0) * current_setting('block_size')::bigint "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'm', 't')",
            [schema],
        )
        row: Any = cursor.fetchone()
    return int(row[0])


def export_schema(
    *,
    schema: str,
    format: str,
    compression: str,
    key: str,
    storage: Storage,
    db: DatabaseParams | None = None,
    limits: ExportLimits | None = None,
    progress: Progress | None = None,
    should_cancel: ShouldCancel | None = None,
) -> ExportOutcome:
    """Dump `schema` into `storage` under `key`; raise a BackupError on any failure."""
    args = pg_dump_args(schema=schema, format=format)
    if storage.exists(key):
        raise StoragePathTaken(f"A file already exists at {key}.")
    bindir = find_client_bindir(server_major_version())
    estimate = schema_size_estimate(schema)
    process = PgProcess(
        bindir=bindir, tool="pg_dump", args=args, db=db or DatabaseParams.from_alias()
    )
    return stream_to_storage(
        process=process,
        storage=storage,
        key=key,
        format=format,
        compression=compression,
        limits=limits or export_limits(),
        progress=progress,
        should_cancel=should_cancel,
        estimate_bytes=estimate,
    )
