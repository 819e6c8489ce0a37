"""Stream pg_dump's output through gzip/zstd and SHA-256 into storage, in bounded memory.

The storage pulls from `DumpStream.read()`; each read pulls the next piece from
pg_dump's stdout, so at most one pipe buffer and one compressed piece are held in
memory, whatever the dump's size, and nothing is written to a temporary file.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import select
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, cast

from django.core.files import File
from django.core.files.storage import Storage

from backups.codecs import compressor
from backups.dumpscan import SqlScanner, TarScanner
from backups.errors import (
    BackupCancelled,
    BackupError,
    BackupTimeout,
    BackupTooLarge,
    PgToolFailed,
)
from backups.pgprocess import PgProcess

logger = logging.getLogger("backups")

Progress = Callable[[str, int, "float | None"], None]
ShouldCancel = Callable[[], bool]

_READ_BYTES = 1 << 18
_POLL_SECONDS = 0.25


@dataclass
class ExportLimits:
    """How far one export may go before it is stopped."""

    max_bytes: int
    timeout: float
    gzip_level: int = 1
    zstd_level: int = 1
    progress_interval: float = 1.0
    cancel_interval: float = 0.5


@dataclass
class ExportOutcome:
    """What landed in storage."""

    storage_path: str
    size_bytes: int
    sha256: str
    table_rows: dict[str, int] = field(default_factory=dict)
    raw_bytes: int = 0

    @property
    def table_count(self) -> int:
        return len(self.table_rows)


class _Throttle:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last = -float("inf")

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            return True
        return False


class DumpStream(io.RawIOBase):
    """A read-only, non-seekable file whose bytes are pg_dump's output, compressed if asked."""

    def __init__(
        self,
        process: PgProcess,
        *,
        scanner: SqlScanner | TarScanner,
        compression: str,
        limits: ExportLimits,
        progress: Progress | None,
        should_cancel: ShouldCancel | None,
        estimate_bytes: int | None,
    ) -> None:
        super().__init__()
        self._process = process
        assert process.proc.stdout is not None
        self._fd = process.proc.stdout.fileno()
        self._scanner = scanner
        self._codec = compressor(
            compression, gzip_level=limits.gzip_level, zstd_level=limits.zstd_level
        )
        self._limits = limits
        self._progress = progress
        self._should_cancel = should_cancel
        self._estimate = estimate_bytes or None
        self._deadline = time.monotonic() + limits.timeout
        self._progress_due = _Throttle(limits.progress_interval)
        self._cancel_due = _Throttle(limits.cancel_interval)
        self._out = bytearray()
        self._eof = False
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.raw_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._out and not self._eof:
            self._pump()
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        del self._out[:n]
        return n

    def read(self, size: int | None = -1) -> bytes:
        """Return `size` bytes (fewer only at the end of the dump), as a blocking file does.

        RawIOBase.read returns whatever one readinto gives. boto3 tells a small upload
        from a multipart one by reading one part's worth: a short read made it send the
        whole dump as one PUT, held in memory.
        """
        if size is None or size < 0:
            return self.readall()
        while len(self._out) < size and not self._eof:
            self._pump()
        chunk = bytes(self._out[:size])
        del self._out[:size]
        return chunk

    def report(self, phase: str) -> None:
        """Call the progress callback now."""
        if self._progress is None:
            return
        percent = None
        if self._estimate:
            percent = round(min(99.0, 100.0 * self.raw_bytes / self._estimate), 1)
        self._progress(phase, self.raw_bytes, percent)

    def _pump(self) -> None:
        """Move one piece from pg_dump to the output buffer, enforcing every limit."""
        self._check_stop()
        ready, _, _ = select.select([self._fd], [], [], self._wait_seconds())
        if ready:
            piece = os.read(self._fd, _READ_BYTES)
            if piece:
                self.raw_bytes += len(piece)
                self._scanner.feed(piece)
                self._emit(self._codec.feed(piece))
            else:
                self._finish()
        if self._progress_due.due():
            self.report("dumping")

    def _wait_seconds(self) -> float:
        return max(0.0, min(_POLL_SECONDS, self._deadline - time.monotonic()))

    def _check_stop(self) -> None:
        if time.monotonic() >= self._deadline:
            raise BackupTimeout(
                f"pg_dump ran longer than BACKUPS_TIMEOUT ({self._limits.timeout:g} s); "
                "it was stopped and the partial file removed."
            )
        if self._should_cancel is not None and self._cancel_due.due() and self._should_cancel():
            raise BackupCancelled("The export was cancelled; the partial file was removed.")

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        if self.size + len(data) > self._limits.max_bytes:
            raise BackupTooLarge(
                f"The backup exceeds BACKUPS_MAX_BYTES ({self._limits.max_bytes} bytes); "
                "pg_dump was stopped and the partial file removed."
            )
        self.size += len(data)
        self.sha256.update(data)
        self._out += data

    def _finish(self) -> None:
        self._emit(self._codec.end())
        code = self._process.wait(timeout=max(1.0, self._deadline - time.monotonic()))
        if code != 0:
            detail = self._process.stderr_text() or "no message"
            raise PgToolFailed(f"pg_dump exited with status {code}: {detail}")
        self._eof = True


def stream_to_storage(
    *,
    process: PgProcess,
    storage: Storage,
    key: str,
    format: str,
    compression: str,
    limits: ExportLimits,
    progress: Progress | None = None,
    should_cancel: ShouldCancel | None = None,
    estimate_bytes: int | None = None,
) -> ExportOutcome:
    """Save pg_dump's output under `key`; on any failure stop pg_dump and remove the file."""
    scanner: SqlScanner | TarScanner = TarScanner() if format == "tar" else SqlScanner()
    stream = DumpStream(
        process,
        scanner=scanner,
        compression=compression,
        limits=limits,
        progress=progress,
        should_cancel=should_cancel,
        estimate_bytes=estimate_bytes,
    )
    saved: str | None = None
    try:
        stream.report("starting")
        saved = storage.save(key, File(cast(IO[bytes], stream), name=key))
    except BaseException as exc:
        process.abort()
        _remove_partial(storage, saved or key)
        if isinstance(exc, BackupError):
            raise
        if isinstance(exc, Exception):
            raise BackupError(f"Storing the backup failed: {type(exc).__name__}") from exc
        raise
    finally:
        stream.close()
    stream.report("stored")
    return ExportOutcome(
        storage_path=saved,
        size_bytes=stream.size,
        sha256=stream.sha256.hexdigest(),
        table_rows=scanner.tables,
        raw_bytes=stream.raw_bytes,
    )


def _remove_partial(storage: Storage, name: str) -> None:
    try:
        if storage.exists(name):
            storage.delete(name)
    except Exception:
        logger.exception("could not remove the partial backup %s", name)
