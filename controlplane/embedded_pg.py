"""Run a private PostgreSQL cluster from the machine's binaries for `make run` and `make test`.

The cluster lives in a git-ignored folder of the project, listens only on a unix
socket inside that folder, and runs as a non-root user when invoked as root
(PostgreSQL refuses to run as root). Nothing here imports Django, so the same
module serves the Makefile, the settings default and the tests.

    python -m controlplane.embedded_pg start|stop|status|url [--dir DIR]
    python -m controlplane.embedded_pg exec [--dir DIR] -- COMMAND ...
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import hashlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = PROJECT_ROOT / ".embedded" / "pg"
SUPERUSER = "controlplane"
DBNAME = "controlplane"
PORT = 5432
# A unix socket path may hold at most 107 bytes; leave room for "/.s.PGSQL.5432".
_MAX_SOCKET_DIR = 90

HBA = f"""\
# Written by controlplane.embedded_pg: unix socket only.
local all {SUPERUSER} trust
local all all scram-sha-256
"""


class EmbeddedPostgresError(RuntimeError):
    """Raise when the embedded cluster cannot be found, initialised or started."""


def find_bindir(debian_root: Path = Path("/usr/lib/postgresql")) -> Path:
    """Return the folder holding initdb/pg_ctl/postgres: PG_BIN_DIR, pg_config, or Debian's."""
    tools = ("initdb", "pg_ctl", "postgres")
    override = os.environ.get("PG_BIN_DIR")
    if override:
        if all((Path(override) / tool).is_file() for tool in tools):
            return Path(override)
        raise EmbeddedPostgresError(
            f"PG_BIN_DIR={override} does not hold initdb, pg_ctl and postgres."
        )
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            ).stdout.strip()
            candidates.append(Path(out))
    # Debian keeps the server binaries in a versioned folder, off PATH: newest first.
    versioned = [p for p in debian_root.glob("*/bin") if p.parent.name.isdigit()]
    candidates.extend(sorted(versioned, key=lambda p: int(p.parent.name), reverse=True))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in tools):
            return bindir
    raise EmbeddedPostgresError(
        "No PostgreSQL server binaries (initdb, pg_ctl, postgres) were found: install them "
        "(Debian: apt-get install postgresql) or set DATABASE_URL to an existing database."
    )


def _run_as_user() -> pwd.struct_passwd | None:
    """Return the account to run PostgreSQL as when we are root, else None."""
    if os.geteuid() != 0:
        return None
    for name in filter(None, (os.environ.get("EMBEDDED_PG_USER"), "postgres", "nobody")):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise EmbeddedPostgresError(
        "Running as root and no unprivileged account (postgres or nobody) exists to "
        "run PostgreSQL; set EMBEDDED_PG_USER to one."
    )


@dataclass(frozen=True)
class EmbeddedPostgres:
    """A private cluster rooted at `root` (data, socket and log folders inside it)."""

    root: Path

    @property
    def runtime(self) -> Path:
        """Return the folder that holds data and socket: root, or its /tmp twin.

        Known before the cluster exists, so a process that computes the URL first (settings)
        and starts the cluster afterwards (rundev) reaches the socket it will listen on.
        """
        return _runtime_for(self.root)

    @property
    def datadir(self) -> Path:
        return self.runtime / "data"

    @property
    def socketdir(self) -> Path:
        return self.runtime / "socket"

    @property
    def logfile(self) -> Path:
        return self.runtime / "postgres.log"

    def url(self, dbname: str = DBNAME) -> str:
        """Return a DATABASE_URL reaching this cluster over its unix socket."""
        host = quote(str(self.socketdir), safe="")
        return f"postgres://{SUPERUSER}@{host}:{PORT}/{dbname}"

    # --- process helpers -------------------------------------------------

    def _pg(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        user = _run_as_user()
        return subprocess.run(
            [str(find_bindir() / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=check,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
            cwd="/",
            env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
        )

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _prepare_runtime(self) -> None:
        """Create the runtime folder, owned by the account PostgreSQL runs as."""
        user = _run_as_user()
        self.root.mkdir(parents=True, exist_ok=True)
        runtime = self.runtime
        if runtime != self.root:
            runtime.mkdir(mode=0o700, exist_ok=True)
            link = self.root / "runtime"
            if not link.is_symlink():
                link.symlink_to(runtime)
        for folder in (runtime, runtime / "socket"):
            folder.mkdir(mode=0o700, exist_ok=True)
            if user is not None:
                os.chown(folder, user.pw_uid, user.pw_gid)
        if user is not None:
            # The state folder itself must be traversable by that account.
            os.chmod(self.root, 0o755)  # noqa: S103

    # --- lifecycle -------------------------------------------------------

    def initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").is_file()

    def running(self) -> bool:
        if not self.initialised():
            return False
        return self._pg("pg_ctl", "status", "-D", str(self.datadir), check=False).returncode == 0

    def init(self, *, fast: bool = False) -> None:
        """Create the cluster if it does not exist yet (idempotent)."""
        if self.initialised():
            return
        self._prepare_runtime()
        if self.datadir.exists():
            shutil.rmtree(self.datadir)  # a half-made cluster from an interrupted initdb
        result = self._pg(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
            check=False,
        )
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed:\n{result.stdout}{result.stderr}")
        (self.datadir / "pg_hba.conf").write_text(HBA)
        settings = [
            "listen_addresses = ''",
            f"unix_socket_directories = '{self.socketdir}'",
            f"port = {PORT}",
            "max_connections = 300",
            "shared_buffers = '128MB'",
        ]
        if fast:
            # A disposable test cluster: durability buys nothing there.
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write("\n# controlplane.embedded_pg\n" + "\n".join(settings) + "\n")

    def start(self, *, fast: bool = False) -> bool:
        """Initialise and start the cluster; return True if this call started it."""
        find_bindir()  # fail with the install hint before touching any folder
        with self._lock():
            self.init(fast=fast)
            if self.running():
                return False
            self._prepare_runtime()
            result = self._pg(
                "pg_ctl",
                "start",
                "-D",
                str(self.datadir),
                "-l",
                str(self.logfile),
                "-w",
                "-t",
                "60",
                check=False,
            )
            if result.returncode != 0:
                log_tail = ""
                with contextlib.suppress(OSError):
                    log_tail = "\n".join(self.logfile.read_text().splitlines()[-20:])
                raise EmbeddedPostgresError(
                    f"PostgreSQL did not start ({result.stderr.strip()}); log tail:\n{log_tail}"
                )
            self._ensure_database()
            return True

    def stop(self) -> bool:
        """Stop the cluster (fast shutdown); return True if it was running."""
        with self._lock():
            if not self.running():
                return False
            self._pg("pg_ctl", "stop", "-D", str(self.datadir), "-m", "fast", "-w", "-t", "60")
            return True

    def _ensure_database(self) -> None:
        psql = [
            "psql",
            "-h",
            str(self.socketdir),
            "-p",
            str(PORT),
            "-U",
            SUPERUSER,
            "-d",
            "postgres",
            "-tAc",
        ]
        query = f"SELECT 1 FROM pg_database WHERE datname = '{DBNAME}'"  # noqa: S608
        exists = self._pg(*psql, query)
        if exists.stdout.strip() != "1":
            self._pg(*psql, f'CREATE DATABASE "{DBNAME}"')


@functools.cache
def _runtime_for(root: Path) -> Path:
    """Return root, or its /tmp twin when its socket path is too long or root is unreachable."""
    link = root / "runtime"
    if link.is_symlink():
        return link.resolve()
    if len(str(root / "socket")) > _MAX_SOCKET_DIR:
        return _tmp_twin(root)
    user = _run_as_user()
    if user is not None:
        # root may not exist yet: we create it traversable, so its nearest ancestor decides.
        existing = next(p for p in (root, *root.parents) if p.exists())
        if not _reachable_by(existing, user):
            return _tmp_twin(root)
    return root


def _reachable_by(path: Path, user: pwd.struct_passwd) -> bool:
    probe = subprocess.run(
        [shutil.which("test") or "/usr/bin/test", "-x", str(path)],
        user=user.pw_uid,
        group=user.pw_gid,
        extra_groups=[],
        check=False,
    )
    return probe.returncode == 0


def _tmp_twin(root: Path) -> Path:
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"controlplane-pg-{digest}"


def default_cluster() -> EmbeddedPostgres:
    """Return the cluster named by EMBEDDED_PG_DIR, or the project's default one."""
    return EmbeddedPostgres(Path(os.environ.get("EMBEDDED_PG_DIR") or DEFAULT_DIR).resolve())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m controlplane.embedded_pg")
    parser.add_argument("action", choices=["start", "stop", "status", "url", "exec"])
    parser.add_argument("--dir", help="state folder (default: $EMBEDDED_PG_DIR or .embedded/pg)")
    parser.add_argument("--fast", action="store_true", help="no fsync (disposable test data)")
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    cluster = EmbeddedPostgres(Path(args.dir).resolve()) if args.dir else default_cluster()
    try:
        if args.action == "start":
            cluster.start(fast=args.fast)
            print(cluster.url())
        elif args.action == "stop":
            cluster.stop()
        elif args.action == "status":
            running = cluster.running()
            print("running" if running else "stopped")
            return 0 if running else 3
        elif args.action == "url":
            print(cluster.url())
        else:
            if not command:
                parser.error("exec needs a command after --")
            started = cluster.start(fast=args.fast)
            try:
                env = {**os.environ, "DATABASE_URL": cluster.url()}
                return subprocess.run(command, env=env, check=False).returncode
            finally:
                if started:
                    cluster.stop()
    except EmbeddedPostgresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
