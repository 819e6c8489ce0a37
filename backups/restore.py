"""Restore a backup into another project's schema, the dump itself left byte-for-byte as stored.

A dump names its schema everywhere (`CREATE SCHEMA tenant_a`, `tenant_a.t`, defaults,
search_path settings), so rewriting it for another schema would mean parsing SQL.
Instead: restore it into a scratch database (as the verify job does), rename the schema
there, and move that one schema into the cluster's database with pg_dump piped into
psql, in one transaction that also swaps out the empty schema provisioning created.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

import psycopg
from django.core.files.storage import Storage
from psycopg import sql

from backups.errors import BackupPermanentError, BackupTimeout, PgToolFailed
from backups.models import Backup
from backups.pgdump import TENANT_SCHEMA, pg_dump_args
from backups.pgprocess import PgProcess, terminate_sessions
from backups.pgtools import DatabaseParams, find_client_bindir, server_major_version
from backups.verify import (
    check_integrity,
    compare_rows,
    restore_into,
    scratch_database,
    table_row_counts,
)

_PIPE_READ = 1 << 18
# Relations whose owner moves to the tenant; sequences owned by a column follow their table.
_OWNER_STATEMENTS = {
    "r": "ALTER TABLE {} OWNER TO {}",
    "p": "ALTER TABLE {} OWNER TO {}",
    "v": "ALTER VIEW {} OWNER TO {}",
    "m": "ALTER MATERIALIZED VIEW {} OWNER TO {}",
    "S": "ALTER SEQUENCE {} OWNER TO {}",
}


def schema_relation_count(db: DatabaseParams, schema: str) -> int:
    """Return how many relations `schema` holds (0 for a freshly provisioned one)."""
    with psycopg.connect(**db.psycopg_kwargs()) as conn:
        row: Any = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s",
            (schema,),
        ).fetchone()
    return int(row[0])


def _rename_schema(db: DatabaseParams, old: str, new: str) -> None:
    with psycopg.connect(**db.psycopg_kwargs()) as conn:
        conn.execute(
            sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new))
        )


def move_schema(
    source: DatabaseParams, target: DatabaseParams, *, schema: str, role: str, timeout: float
) -> None:
    """Copy `schema` from `source` into `target`, replacing its empty namesake there.

    One psql transaction drops the empty schema (RESTRICT: one with anything in it stops
    the move), runs the dump, and grants the tenant's role what provisioning granted.
    """
    if not TENANT_SCHEMA.match(schema) or not TENANT_SCHEMA.match(role):
        raise BackupPermanentError(f"{schema!r} is not a tenant schema name.")
    with psycopg.connect(**target.psycopg_kwargs()) as conn:
        ident, grantee = sql.Identifier(schema), sql.Identifier(role)
        before = sql.SQL("DROP SCHEMA {}").format(ident).as_string(conn)
        after = [
            sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(ident).as_string(conn),
            sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}")
            .format(ident, grantee)
            .as_string(conn),
        ]
    bindir = find_client_bindir(server_major_version())
    dump = PgProcess(
        bindir=bindir, tool="pg_dump", args=pg_dump_args(schema=schema, format="sql"), db=source
    )
    args = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-c", before, "-f", "-"]
    for statement in after:
        args += ["-c", statement]
    load = PgProcess(bindir=bindir, tool="psql", args=args, db=target, stdin=True, stdout=False)
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        dump.abort()
        load.abort()

    watchdog = threading.Timer(timeout, stop)
    watchdog.start()
    try:
        _pipe(dump, load)
        dump_code = dump.wait()
        load_code = load.wait()
    except BaseException:
        dump.abort()
        load.abort()
        raise
    finally:
        watchdog.cancel()
    if timed_out.is_set():
        raise BackupTimeout(f"Moving the restored schema took longer than {timeout:g} s.")
    if dump_code != 0:
        raise PgToolFailed(f"pg_dump exited with status {dump_code}: {dump.stderr_text()}")
    if load_code != 0:
        raise PgToolFailed(f"psql exited with status {load_code}: {load.stderr_text()}")
    terminate_sessions(target, load.application_name)


def _pipe(dump: PgProcess, load: PgProcess) -> None:
    assert dump.proc.stdout is not None and load.proc.stdin is not None
    source, sink = dump.proc.stdout.fileno(), load.proc.stdin
    try:
        while piece := os.read(source, _PIPE_READ):
            sink.write(piece)
    except BrokenPipeError:
        pass  # psql exited early; its status and stderr tell why
    finally:
        with contextlib.suppress(BrokenPipeError, OSError):
            sink.close()


def hand_over(db: DatabaseParams, *, schema: str, role: str) -> int:
    """Make `role` the owner of every table, view and free sequence in `schema`; return count."""
    query = (
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'S') "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
        "AND d.objid = c.oid AND d.deptype IN ('a', 'i') AND c.relkind = 'S') "
        "ORDER BY c.relname"
    )
    with psycopg.connect(**{**db.psycopg_kwargs(), "autocommit": False}) as conn:
        rows: list[Any] = conn.execute(query, (schema,)).fetchall()
        for name, kind in rows:
            conn.execute(
                sql.SQL(_OWNER_STATEMENTS[kind]).format(
                    sql.Identifier(schema, name), sql.Identifier(role)
                )
            )
    return len(rows)


def restore_into_schema(
    backup: Backup,
    storage: Storage,
    db: DatabaseParams,
    *,
    schema: str,
    role: str,
    timeout: float,
    moved_already: bool = False,
) -> dict[str, int]:
    """Restore `backup` into `schema` (owned by `role` afterwards); return its row counts.

    Raises VerificationMismatch when the restored rows differ from the dump's. With
    `moved_already` (a retry after the move committed) only ownership and counts are done.
    """
    source_schema = str(backup.project.schema_name)
    if not moved_already:
        check_integrity(backup, storage)
        with scratch_database(db) as scratch:
            restore_into(backup, storage, scratch, timeout=timeout)
            if source_schema != schema:
                _rename_schema(scratch, source_schema, schema)
            move_schema(scratch, db, schema=schema, role=role, timeout=timeout)
    hand_over(db, schema=schema, role=role)
    restored = table_row_counts(db, schema)
    compare_rows(backup, restored)
    return restored
