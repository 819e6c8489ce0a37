"""What a handler gets: its payload, and ways to report progress and honour cancellation."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from jobs import execution
from jobs.errors import JobCancelled


@dataclass
class JobContext:
    """The running attempt of one job, as seen by its handler."""

    job_id: uuid.UUID
    type: str
    payload: dict[str, Any]
    project_id: int | None
    attempt: int
    max_attempts: int
    secrets: list[str] = field(default_factory=list)
    _last_progress: float = field(default=0.0, repr=False)
    _last_cancel_check: float = field(default=0.0, repr=False)
    _cancel_requested: bool = field(default=False, repr=False)

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    def add_secret(self, value: str) -> None:
        """Scrub `value` from any error or traceback this attempt records."""
        if value:
            self.secrets.append(value)

    def report_progress(
        self, phase: str, bytes: int = 0, percent: float | None = None, *, force: bool = False
    ) -> None:
        """Record progress, at most about once a second unless `force`; also renews the lease."""
        now = time.monotonic()
        if not force and now - self._last_progress < settings.JOBS_PROGRESS_INTERVAL:
            return
        self._last_progress = now
        progress = {"phase": phase, "bytes": int(bytes), "percent": percent}
        self._cancel_requested = execution.job_progress_record(
            job_id=self.job_id, attempt=self.attempt, progress=progress
        )

    def cancel_requested(self) -> bool:
        """Return True once staff asked to cancel (asks the database at most once a second)."""
        now = time.monotonic()
        if not self._cancel_requested and now - self._last_cancel_check >= 1.0:
            self._last_cancel_check = now
            self._cancel_requested = execution.job_cancel_requested(
                job_id=self.job_id, attempt=self.attempt
            )
        return self._cancel_requested

    def check_cancelled(self) -> None:
        """Raise JobCancelled at a safe point if cancellation was requested."""
        if self.cancel_requested():
            raise JobCancelled()
