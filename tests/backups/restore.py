"""Independent restore for tests: decompress in Python, load with psql/pg_restore, read rows."""

from __future__ import annotations

import gzip
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import zstandard
from psycopg import sql

from tests.backups.conftest import conninfo


def _tool_conn_args() -> list[str]:
    info = conninfo()
    args = []
    if info.get("host"):
        args += ["-h", str(info["host"])]
    if info.get("port"):
        args += ["-p", str(info["port"])]
    if info.get("user"):
        args += ["-U", str(info["user"])]
    return args


@contextmanager
def fresh_restore(
    path: Path, *, format: str, compressed: bool = False, compression: str | None = None
) -> Iterator[str]:
    """Restore the dump file into a new database; yield its name; drop it afterwards.

    `compression` names the codec; without it `compressed` means gzip, as before zstd.
    """
    codec = compression or ("gzip" if compressed else "none")
    name = f"test_restore_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(**conninfo()) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        data = path.read_bytes()
        if codec == "gzip":
            data = gzip.decompress(data)
        elif codec == "zstd":
            with zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True) as r:
                data = r.read()
        if format == "sql":
            cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *_tool_conn_args(), "-d", name]
        else:
            cmd = ["pg_restore", "--exit-on-error", *_tool_conn_args(), "-d", name]
        result = subprocess.run(cmd, input=data, capture_output=True, check=False)
        assert result.returncode == 0, result.stderr.decode()
        yield name
    finally:
        with psycopg.connect(**conninfo()) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def schema_contents(dbname: str | None, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Return every table of `schema` with all its rows, sorted."""
    with psycopg.connect(**conninfo(dbname)) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY 1",
                (schema,),
            ).fetchall()
        ]
        return {
            t: sorted(
                conn.execute(
                    sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(t))
                ).fetchall(),
                key=repr,
            )
            for t in tables
        }


def schemas_of(dbname: str) -> set[str]:
    with psycopg.connect(**conninfo(dbname)) as conn:
        return {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace").fetchall()}
