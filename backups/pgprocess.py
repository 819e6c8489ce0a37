"""Run PostgreSQL client tools as child processes and clean up after them completely."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import psycopg

from backups.pgtools import DatabaseParams

logger = logging.getLogger("backups")

_STDERR_TAIL_BYTES = 8192
_PIPE_BYTES = 1 << 20
_TERM_GRACE_SECONDS = 5.0


class _TailReader(threading.Thread):
    """Drain a pipe so the child never blocks on it, keeping only its last bytes."""

    def __init__(self, pipe: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self._pipe = pipe
        self._chunks: deque[bytes] = deque()
        self._size = 0

    def run(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            for chunk in iter(lambda: self._pipe.read1(4096), b""):  # type: ignore[attr-defined]
                self._chunks.append(chunk)
                self._size += len(chunk)
                while self._size > _STDERR_TAIL_BYTES and len(self._chunks) > 1:
                    self._size -= len(self._chunks.popleft())

    def text(self) -> str:
        return b"".join(self._chunks)[-_STDERR_TAIL_BYTES:].decode("utf-8", "replace").strip()


class PgProcess:
    """One pg_dump/psql/pg_restore child tagged with a unique application_name."""

    def __init__(
        self,
        *,
        bindir: Path,
        tool: str,
        args: Sequence[str],
        db: DatabaseParams,
        stdin: bool = False,
        stdout: bool = True,
    ) -> None:
        self.db = db
        self.tool = tool
        # The tag lets cleanup find this child's server session even after it is killed.
        self.application_name = f"backups-{tool}-{uuid.uuid4().hex[:16]}"
        self.argv = [str(bindir / tool), *args]
        self.env = db.environment(application_name=self.application_name)
        self.proc: subprocess.Popen[bytes] = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=self.env,
            close_fds=True,
        )
        if stdout and self.proc.stdout is not None:
            with contextlib.suppress(OSError, AttributeError):
                fcntl.fcntl(self.proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        assert self.proc.stderr is not None
        self._stderr = _TailReader(self.proc.stderr)
        self._stderr.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr_text(self) -> str:
        """Return the tail of the child's stderr with the password redacted."""
        self._stderr.join(timeout=5)
        return self.db.redact(self._stderr.text())

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to exit and return its exit status."""
        code = self.proc.wait(timeout=timeout)
        self._close_pipes()
        return code

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self._stderr.join(timeout=5)
        if self.proc.stderr is not None:
            with contextlib.suppress(OSError):
                self.proc.stderr.close()

    def abort(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL) and end any server session it left."""
        if self.proc.poll() is None:
            # pg_dump answers SIGTERM by cancelling its query before exiting.
            self.proc.terminate()
            try:
                self.proc.wait(timeout=_TERM_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_pipes()
        terminate_sessions(self.db, self.application_name)


def terminate_sessions(db: DatabaseParams, application_name: str, wait: float = 10.0) -> None:
    """End every server session tagged `application_name` and wait until they are gone."""
    query = (
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) , count(*) "
        "FROM pg_stat_activity WHERE application_name = %s AND pid <> pg_backend_pid()"
    )
    try:
        with psycopg.connect(**db.psycopg_kwargs()) as conn:
            deadline = time.monotonic() + wait
            while True:
                row: Any = conn.execute(query, (application_name,)).fetchone()
                if not row[1] or time.monotonic() > deadline:
                    if row[1]:
                        logger.warning("sessions of %s outlived termination", application_name)
                    return
                time.sleep(0.05)
    except psycopg.Error:
        logger.warning("could not check for sessions left by %s", application_name, exc_info=True)
