"""The `backfill_month` consumer service: run a processor on a claimed month, record the outcome."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db.models import F
from django.utils import timezone

from backfill.errors import PermanentProcessorError, QuotaExhausted
from backfill.models import BackfillLog, BackfillStatus
from backfill.protocol import MonthProcessor, ProviderUsage
from backfill.services import backfill_month_count_failure, error_text

logger = logging.getLogger("backfill")


def _usage_increments(usage: ProviderUsage) -> dict[str, Any]:
    """Return UPDATE expressions adding this run's calls to the month's running totals."""
    return {
        "gemini_calls": F("gemini_calls") + usage.gemini_calls,
        "xai_calls": F("xai_calls") + usage.xai_calls,
        "isbndb_calls": F("isbndb_calls") + usage.isbndb_calls,
    }


def _calls(usage: ProviderUsage) -> dict[str, int]:
    return {
        "gemini_calls": usage.gemini_calls,
        "xai_calls": usage.xai_calls,
        "isbndb_calls": usage.isbndb_calls,
    }


def backfill_month_process(
    *,
    year: int,
    month: int,
    batch_size: int,
    prompt_variant: str,
    processor: MonthProcessor,
    job_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """Process a `processing` month and move it to its next state; return a JSON-able outcome.

    A month not in `processing` (a duplicate or stale delivery) is left alone. With `job_id`,
    a delivery from a job other than the month's last one is stale too.
    """
    # No transaction around the whole: provider calls must never hold one open. Each
    # outcome is a single conditional UPDATE fenced on `processing`.
    log = BackfillLog.objects.filter(year=year, month=month).values("pk", "status", "last_job_id")
    row = log.first()
    if row is None or row["status"] != BackfillStatus.PROCESSING:
        return {"outcome": "skipped", "status": row["status"] if row else None}
    if job_id is not None and row["last_job_id"] not in (None, job_id):
        return {"outcome": "skipped", "status": row["status"], "reason": "stale job"}
    pk = row["pk"]
    # Fence every outcome on this job too: if the month was reset and claimed again meanwhile,
    # this delivery's result belongs to nobody.
    fence = job_id if job_id is not None and row["last_job_id"] is not None else None
    current = BackfillLog.objects.filter(pk=pk, status=BackfillStatus.PROCESSING)
    if fence is not None:
        current = current.filter(last_job_id=fence)
    usage = ProviderUsage()
    try:
        result = processor.process(
            year=year,
            month=month,
            batch_size=batch_size,
            prompt_variant=prompt_variant,
            usage=usage,
        )
    except QuotaExhausted as exc:
        changed = current.update(
            status=BackfillStatus.PENDING,
            error_message=error_text(exc),
            updated_at=timezone.now(),
            **_usage_increments(usage),
        )
        logger.info("backfill %s-%02d deferred: %s quota", year, month, exc.provider)
        outcome = "deferred" if changed else "superseded"
        return {"outcome": outcome, "deferred": "quota", "provider": exc.provider, **_calls(usage)}
    except Exception as exc:
        message = error_text(exc)
        status = backfill_month_count_failure(
            pk=pk,
            message=message,
            now=timezone.now(),
            permanent=isinstance(exc, PermanentProcessorError),
            extra=_usage_increments(usage),
            job_id=fence,
        )
        logger.warning("backfill %s-%02d failed: %s", year, month, message)
        return {"outcome": status or "superseded", "error": message, **_calls(usage)}
    now = timezone.now()
    changed = current.update(
        status=BackfillStatus.COMPLETED,
        books_generated=result.books_generated,
        isbns_resolved=result.isbns_resolved,
        completed_at=now,
        error_message="",
        updated_at=now,
        **_usage_increments(usage),
    )
    return {
        "outcome": "completed" if changed else "superseded",
        "books_generated": result.books_generated,
        "isbns_resolved": result.isbns_resolved,
        **_calls(usage),
    }
