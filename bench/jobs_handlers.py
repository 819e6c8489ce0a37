"""No-op work for bench/jobs_throughput.py (loaded by qcluster via JOBS_EXTRA_HANDLER_MODULES)."""

from __future__ import annotations

from jobs.context import JobContext
from jobs.registry import job_handler

NOOP_TYPE = "bench.noop"


@job_handler(NOOP_TYPE, max_attempts=3)
def noop(ctx: JobContext) -> None:
    """Do nothing: the benchmark measures the job system, not the handler."""
    return None


def noop_task() -> None:
    """Do nothing, as a plain django-q2 task (the raw `async_task` baseline)."""
    return None
