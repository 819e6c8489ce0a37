"""Backfill test data: months in any state (the system writes these rows; tests set them up)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from backfill.models import BACKFILL_MONTH_JOB, BackfillLog, BackfillStatus, prompt_variant_for
from jobs.models import Job
from jobs.services import enqueue_job


def month_job(year: int = 2024, month: int = 1, *, batch_size: int = 20) -> Job:
    """Enqueue a `backfill_month` job for the month, as the scheduler would."""
    payload = {
        "year": year,
        "month": month,
        "batch_size": batch_size,
        "prompt_variant": prompt_variant_for(year).value,
    }
    return enqueue_job(type=BACKFILL_MONTH_JOB, payload=payload)[0]


def month(
    year: int = 2024, month: int = 1, *, status: BackfillStatus = BackfillStatus.PENDING, **kw: Any
) -> BackfillLog:
    """Create a month; a `processing` one gets the pending job that carries it, like a claim."""
    if status == BackfillStatus.COMPLETED:
        kw.setdefault("completed_at", timezone.now())
    if status == BackfillStatus.PROCESSING and "last_job" not in kw:
        kw["last_job"] = month_job(year, month)
    return BackfillLog.objects.create(
        year=year,
        month=month,
        status=status,
        prompt_variant=prompt_variant_for(year),
        **kw,
    )
