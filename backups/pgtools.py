"""Locate PostgreSQL client binaries and build their connection environment (never argv)."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections

from backups.errors import PgBinaryNotFound
from controlplane.redaction import redact

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")
# libpq reads these (the worker passes none of its own PG* variables on: see _inherited).
_OPTION_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}


# What pg_dump, psql and pg_restore inherit from the worker: a search path and a locale.
_INHERITED_ENV = frozenset({"PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR"})


def _inherited(name: str) -> bool:
    return name in _INHERITED_ENV or name.startswith("LC_")


@dataclass(frozen=True)
class DatabaseParams:
    """Connection parameters for libpq tools; `password` stays out of repr and argv."""

    dbname: str
    user: str = ""
    host: str = ""
    port: str = ""
    password: str = field(default="", repr=False)
    options: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_alias(cls, alias: str = "default") -> DatabaseParams:
        """Return the parameters Django uses for database `alias` (test names included)."""
        conf: dict[str, Any] = connections[alias].settings_dict
        options = {k: str(v) for k, v in (conf.get("OPTIONS") or {}).items() if k in _OPTION_ENV}
        return cls(
            dbname=str(conf["NAME"]),
            user=str(conf.get("USER") or ""),
            host=str(conf.get("HOST") or ""),
            port=str(conf.get("PORT") or ""),
            password=str(conf.get("PASSWORD") or ""),
            options=options,
        )

    def with_dbname(self, dbname: str) -> DatabaseParams:
        """Return the same parameters aimed at another database of the cluster."""
        return replace(self, dbname=dbname)

    def environment(self, *, application_name: str) -> dict[str, str]:
        """Return a child environment carrying these parameters, the password included."""
        # Allow-listed: the worker's own environment holds every secret of the control plane.
        env = {k: v for k, v in os.environ.items() if _inherited(k)}
        values = {
            "PGDATABASE": self.dbname,
            "PGUSER": self.user,
            "PGHOST": self.host,
            "PGPORT": self.port,
            "PGPASSWORD": self.password,
            "PGAPPNAME": application_name,
        }
        values.update({_OPTION_ENV[k]: v for k, v in self.options.items()})
        env.update({k: v for k, v in values.items() if v})
        env.setdefault("LC_ALL", "C.UTF-8")
        return env

    def psycopg_kwargs(self) -> dict[str, Any]:
        """Return keyword arguments for psycopg.connect."""
        kwargs: dict[str, Any] = {"dbname": self.dbname, "autocommit": True}
        for key in ("user", "host", "port", "password"):
            if getattr(self, key):
                kwargs[key] = getattr(self, key)
        kwargs.update(self.options)
        return kwargs

    def redact(self, text: str) -> str:
        """Return `text` with the password removed, for messages that leave the process."""
        return redact(text, [self.password] if self.password else [])


def server_major_version(alias: str = "default") -> int:
    """Return the major version of the PostgreSQL server behind `alias`."""
    connection = connections[alias]
    connection.ensure_connection()
    return int(connection.pg_version) // 10000  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=32)
def _tool_major(binary: str) -> int | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
        match = _VERSION.search(out)
        if match:
            return int(match.group(1))
    return None


def _candidate_dirs() -> list[Path]:
    dirs: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            dirs.append(Path(out))
    # Debian installs each major version side by side, off PATH.
    versioned = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    dirs.extend(sorted(versioned, key=lambda p: int(p.parent.name)))
    on_path = shutil.which("pg_dump")
    if on_path:
        dirs.append(Path(on_path).resolve().parent)
    return dirs


TOOLS = ("pg_dump", "pg_restore", "psql")


def find_client_bindir(server_major: int) -> Path:
    """Return the folder with pg_dump/pg_restore/psql of `server_major` or the nearest newer."""
    configured = getattr(settings, "BACKUPS_PG_BIN_DIR", "")
    candidates = [Path(configured)] if configured else _candidate_dirs()
    found: list[tuple[int, Path]] = []
    for bindir in dict.fromkeys(candidates):
        if not all((bindir / tool).is_file() for tool in TOOLS):
            continue
        major = _tool_major(str(bindir / "pg_dump"))
        if major is not None and major >= server_major:
            found.append((major, bindir))
    if not found:
        where = f"BACKUPS_PG_BIN_DIR={configured}" if configured else "this machine"
        raise PgBinaryNotFound(
            f"No pg_dump {server_major} or newer (with pg_restore and psql) was found on "
            f"{where}; install the PostgreSQL {server_major} client or set BACKUPS_PG_BIN_DIR."
        )
    # The closest version dumps most faithfully; any newer one still reads the server.
    return min(found, key=lambda item: item[0])[1]
