"""Fixtures for the backups tests: a private storage folder and tenant schemas with data."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from tests import factories
from tests.jobs.conftest import qcluster  # noqa: F401


@pytest.fixture(autouse=True)
def backup_store(settings: Any, tmp_path: Path) -> Path:
    """Point STORAGES["backups"] at an empty folder of this test."""
    root = tmp_path / "store"
    root.mkdir()
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    return root


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def conninfo(dbname: str | None = None) -> dict[str, Any]:
    """Return psycopg.connect kwargs for the test database (or another one of the cluster)."""
    conf = connection.settings_dict
    kwargs: dict[str, Any] = {"dbname": dbname or conf["NAME"], "autocommit": True}
    for key, name in (("user", "USER"), ("host", "HOST"), ("port", "PORT")):
        if conf.get(name):
            kwargs[key] = conf[name]
    return kwargs


TableSpec = dict[str, list[tuple[Any, ...]]]

DEFAULT_TABLES: TableSpec = {
    "customers": [
        (1, "Ada", "tab\there"),
        (2, "Bob", "new\nline and \\backslash"),
        (3, "CREATE TABLE fake (x int);", "\\.\n"),
        (4, "Zoë ünïcode", None),
    ],
    "orders": [(i, (i % 4) + 1, f"{i}.50") for i in range(1, 301)],
    "empty_things": [],
}

_DDL = {
    "customers": "CREATE TABLE {s}.customers (id int PRIMARY KEY, name text, note text)",
    "orders": (
        "CREATE TABLE {s}.orders (id int PRIMARY KEY, "
        "customer_id int REFERENCES {s}.customers(id), amount numeric(10,2))"
    ),
    "empty_things": "CREATE TABLE {s}.empty_things (id bigserial PRIMARY KEY, payload jsonb)",
}


@pytest.fixture
def tenant(transactional_db: None) -> Iterator[Callable[..., Any]]:
    """Return make(slug, tables=DEFAULT_TABLES, extra_ddl=[]) creating a project and its schema."""
    schemas: list[str] = []

    def make(
        slug: str, tables: TableSpec | None = None, *, extra_tables: dict[str, int] | None = None
    ) -> Any:
        project = factories.project(slug=slug)
        schema = project.schema_name
        schemas.append(schema)
        spec = DEFAULT_TABLES if tables is None else tables
        with psycopg.connect(**conninfo()) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            ident = sql.Identifier(schema).as_string(conn)
            for name in spec:
                conn.execute(_DDL[name].format(s=ident))
                if spec[name]:
                    values = sql.SQL(", ").join([sql.Placeholder()] * len(spec[name][0]))
                    with conn.cursor() as cur:
                        cur.executemany(
                            sql.SQL("INSERT INTO {}.{} VALUES ({})").format(
                                sql.Identifier(schema), sql.Identifier(name), values
                            ),
                            spec[name],
                        )
            for name, rows in (extra_tables or {}).items():
                conn.execute(
                    sql.SQL("CREATE TABLE {}.{} (id int, filler text)").format(
                        sql.Identifier(schema), sql.Identifier(name)
                    )
                )
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {}.{} SELECT g, repeat(md5(g::text), 8) "
                        "FROM generate_series(1, %s) g"
                    ).format(sql.Identifier(schema), sql.Identifier(name)),
                    (rows,),
                )
        return project

    yield make
    with psycopg.connect(**conninfo()) as conn:
        for schema in schemas:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def pg_dump_children() -> list[int]:
    """Return the pids of pg_dump processes whose parent is this test process."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == me and comm == "pg_dump":
            found.append(int(entry.name))
    return found


def tool_sessions() -> int:
    """Return how many server sessions our PostgreSQL tools still hold."""
    with psycopg.connect(**conninfo("postgres")) as conn:
        row: Any = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'backups-%%'"
        ).fetchone()
    return int(row[0])


def scratch_databases() -> list[str]:
    with psycopg.connect(**conninfo("postgres")) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'backup\\_verify\\_%%'"
        ).fetchall()
    return [r[0] for r in rows]


@pytest.fixture
def locked_tenant(tenant: Any) -> Iterator[Any]:
    """Yield a tenant whose table another session holds ACCESS EXCLUSIVE, so pg_dump waits."""
    project = tenant("acme-shop")
    conn = psycopg.connect(**{**conninfo(), "autocommit": False})
    conn.execute(
        sql.SQL("LOCK TABLE {}.orders IN ACCESS EXCLUSIVE MODE").format(
            sql.Identifier(project.schema_name)
        )
    )
    try:
        yield project
    finally:
        conn.rollback()
        conn.close()


@pytest.fixture
def canary_role(tenant: Any) -> Any:
    """Create a login role with a password (scram over the socket) that may read one tenant."""
    project = tenant("acme-shop")
    role = f"canary_{uuid.uuid4().hex[:8]}"
    password = f"CANARY-{uuid.uuid4().hex}"
    schema = sql.Identifier(project.schema_name)
    with psycopg.connect(**conninfo()) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, sql.Identifier(role)))
        conn.execute(
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
                schema, sql.Identifier(role)
            )
        )
        conn.execute(
            sql.SQL("GRANT SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                schema, sql.Identifier(role)
            )
        )
    yield project, role, password
    with psycopg.connect(**conninfo()) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def rate_window_left(value: str, period: int = 60) -> float:
    """Return the seconds left in django-ratelimit's current window for key `value`."""
    from django_ratelimit.core import _get_window

    return _get_window(value, period) - time.time()


def fresh_rate_window(value: str, *, need: float = 15.0, period: int = 60) -> None:
    """Sleep into the next rate-limit window unless `need` seconds are left in this one."""
    left = rate_window_left(value, period)
    if left < need:
        # The window's last whole second still belongs to it: wake after that second.
        time.sleep(max(0.0, left) + 1.05)
