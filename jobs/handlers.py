"""Housekeeping handlers of the jobs app."""

from __future__ import annotations

from typing import Any

from jobs.context import JobContext
from jobs.registry import job_handler
from jobs.services import jobs_prune

PRUNE_JOB = "jobs.prune"


@job_handler(PRUNE_JOB, housekeeping=True)
def prune(ctx: JobContext) -> dict[str, Any]:
    """Delete finished jobs past retention (and the engine's own task rows)."""
    return {"deleted": jobs_prune()}
