"""Restore checks: recompute a file's SHA-256, restore it into a scratch database, count rows.

A plain dump says `CREATE SCHEMA tenant_x` and names every object `tenant_x.<name>`
(also inside function bodies, defaults and search_path settings), so rewriting it
into another schema safely would mean parsing SQL. Restoring into a scratch
*database* created for the check keeps the dump byte-for-byte as stored, cannot
touch the live tenant schema, and is dropped afterwards whatever happens.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
from django.core.files.storage import Storage
from psycopg import sql

from backups.codecs import decompressor
from backups.errors import BackupCorrupted, BackupTimeout, PgToolFailed, VerificationMismatch
from backups.models import Backup, BackupFormat
from backups.pgprocess import PgProcess, terminate_sessions
from backups.pgtools import DatabaseParams, find_client_bindir, server_major_version

_CHUNK = 1 << 18


def stored_chunks(storage: Storage, path: str) -> Iterator[bytes]:
    """Yield the stored file in chunks."""
    with storage.open(path, "rb") as fh:
        yield from iter(lambda: fh.read(_CHUNK), b"")


def stored_sha256(storage: Storage, path: str) -> str:
    """Return the SHA-256 of the stored file, read in bounded memory."""
    digest = hashlib.sha256()
    for chunk in stored_chunks(storage, path):
        digest.update(chunk)
    return digest.hexdigest()


def check_integrity(backup: Backup, storage: Storage) -> None:
    """Raise BackupCorrupted unless the stored file still has the recorded SHA-256."""
    if not storage.exists(backup.storage_path):
        raise BackupCorrupted(f"The file {backup.storage_path} is missing from storage.")
    if stored_sha256(storage, backup.storage_path) != backup.sha256:
        raise BackupCorrupted(
            f"The file {backup.storage_path} does not match its recorded SHA-256; "
            "it was not restored."
        )


@contextlib.contextmanager
def scratch_database(db: DatabaseParams) -> Iterator[DatabaseParams]:
    """Create an empty database for one check and drop it afterwards, whatever happens."""
    name = f"backup_verify_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(**db.psycopg_kwargs()) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield db.with_dbname(name)
    finally:
        with psycopg.connect(**db.psycopg_kwargs()) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def restore_into(
    backup: Backup, storage: Storage, target: DatabaseParams, *, timeout: float
) -> None:
    """Restore the stored dump into `target` with psql (plain) or pg_restore (tar)."""
    bindir = find_client_bindir(server_major_version())
    if backup.format == BackupFormat.SQL:
        tool = "psql"
        args = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", "-"]
    else:
        tool = "pg_restore"
        args = [
            "--no-owner",
            "--no-acl",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={target.dbname}",
        ]
    process = PgProcess(bindir=bindir, tool=tool, args=args, db=target, stdin=True, stdout=False)
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        process.abort()

    watchdog = threading.Timer(timeout, stop)
    watchdog.start()
    try:
        _feed(process, storage, backup)
        code = process.wait()
    except BaseException:
        process.abort()
        raise
    finally:
        watchdog.cancel()
    if timed_out.is_set():
        raise BackupTimeout(f"Restoring took longer than {timeout:g} s.")
    if code != 0:
        raise PgToolFailed(f"{tool} exited with status {code}: {process.stderr_text()}")
    terminate_sessions(target, process.application_name)


def _feed(process: PgProcess, storage: Storage, backup: Backup) -> None:
    stdin = process.proc.stdin
    assert stdin is not None
    inflate = decompressor(backup.compression)
    try:
        for chunk in stored_chunks(storage, backup.storage_path):
            stdin.write(inflate.feed(chunk))
        stdin.write(inflate.end())
    except BrokenPipeError:
        pass  # the tool exited early; its status and stderr tell why
    finally:
        with contextlib.suppress(BrokenPipeError, OSError):
            stdin.close()


def table_row_counts(target: DatabaseParams, schema: str) -> dict[str, int]:
    """Return table → rows (ONLY the table itself, as pg_dump counts it) in `schema`."""
    counts: dict[str, int] = {}
    with psycopg.connect(**target.psycopg_kwargs()) as conn:
        rows: list[Any] = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname",
            (schema,),
        ).fetchall()
        for (table,) in rows:
            query = sql.SQL("SELECT count(*) FROM ONLY {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            result: Any = conn.execute(query).fetchone()
            counts[table] = int(result[0])
    return counts


def verify_restore(backup: Backup, storage: Storage, db: DatabaseParams, *, timeout: float) -> None:
    """Raise unless the file is intact and restores to the tables and rows that were dumped."""
    check_integrity(backup, storage)
    with scratch_database(db) as target:
        restore_into(backup, storage, target, timeout=timeout)
        restored = table_row_counts(target, backup.project.schema_name)
    compare_rows(backup, restored)


def compare_rows(backup: Backup, restored: dict[str, int]) -> None:
    """Raise VerificationMismatch naming the tables whose rows differ from the dump's."""
    expected = {str(k): int(v) for k, v in backup.table_rows.items()}
    if restored != expected or len(restored) != backup.table_count:
        missing = sorted(set(expected) - set(restored))
        extra = sorted(set(restored) - set(expected))
        differ = sorted(t for t in set(expected) & set(restored) if expected[t] != restored[t])
        raise VerificationMismatch(
            "The restored dump differs from what was dumped: "
            f"missing tables {missing}, unexpected tables {extra}, row counts differ in {differ}."
        )
