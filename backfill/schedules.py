"""Recurring backfill work: the scheduling pass, every BACKFILL_SCHEDULE_MINUTES when enabled."""

from __future__ import annotations

from django.conf import settings

from backfill.services import EnqueueMonths, backfill_claim_months
from jobs.scheduling import RecurringJob

# The job type of one scheduling pass, and the schedule's name (its exclusive key).
SCHEDULE_JOB = "backfill.schedule"

SCHEDULES = [
    RecurringJob(
        name=SCHEDULE_JOB,
        type=SCHEDULE_JOB,
        minutes=lambda: settings.BACKFILL_SCHEDULE_MINUTES,
        enabled=lambda: settings.BACKFILL_SCHEDULE_ENABLED,
    )
]


def backfill_schedule_tick(*, enqueue: EnqueueMonths | None = None) -> dict[str, int]:
    """Run one scheduling pass with BACKFILL_SCHEDULE_BATCH_SIZE and _MAX_MONTHS."""
    result = backfill_claim_months(
        batch_size=settings.BACKFILL_SCHEDULE_BATCH_SIZE,
        max_months=settings.BACKFILL_SCHEDULE_MAX_MONTHS,
        enqueue=enqueue,
    )
    return {"candidates": len(result.candidates), "scheduled": len(result.scheduled)}
