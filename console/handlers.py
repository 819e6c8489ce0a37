"""The console's recurring job: keep the dashboard's rollups current."""

from __future__ import annotations

from typing import Any

from console.services import metrics_rollup
from jobs.context import JobContext
from jobs.registry import job_handler

ROLLUP_JOB = "console.rollup"


@job_handler(ROLLUP_JOB, max_attempts=1, timeout=300, housekeeping=True)
def rollup(ctx: JobContext) -> dict[str, Any]:
    return {"rows": metrics_rollup()}
