"""The `backfill_month` consumer: run a processor on one attempt of a month's job.

The month's state is written from its job's attempt, so month, job and grid agree:
an attempt starts -> `processing`; it succeeds -> `completed`; a provider's quota is out
-> back to `pending` (the job completes, the scheduler claims the month again later); it
fails -> `retry` with retry_count = the budget's failed attempts while attempts remain,
else `failed` (at MAX_RETRIES, or at once for a PermanentProcessorError), and the error
propagates so the job retries (or fails) by its own policy.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db.models import F
from django.utils import timezone

from backfill.attempts import backfill_month_attempt_failed, failed_attempts
from backfill.errors import QuotaExhausted
from backfill.models import BackfillLog, BackfillStatus
from backfill.protocol import MonthProcessor, ProviderUsage
from backfill.services import error_text
from jobs.errors import JobTimeout, PermanentJobError

logger = logging.getLogger("backfill")
# A month an attempt may (re)start: the claim made it `processing`; a retry left it in
# `retry`; a job retried by staff reset it to `pending`; a lost attempt left `processing`.
STARTABLE = (
    BackfillStatus.PROCESSING,
    BackfillStatus.RETRY,
    BackfillStatus.PENDING,
    BackfillStatus.FAILED,
)


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
    job_id: uuid.UUID,
    attempt: int = 1,
    max_attempts: int = 1,
) -> dict[str, Any]:
    """Run attempt `attempt` of job `job_id` on its month; return a JSON-able outcome.

    A month whose job is another one (a stale or duplicate delivery) is left alone. A failed
    attempt records the month's new state, then raises (the job's policy decides the rest).
    """
    # No transaction around the whole: provider calls must never hold one open. Each
    # state change is a single conditional UPDATE fenced on this job.
    now = timezone.now()
    mine = BackfillLog.objects.filter(year=year, month=month, last_job_id=job_id)
    started = mine.filter(status__in=STARTABLE).update(
        status=BackfillStatus.PROCESSING,
        retry_count=failed_attempts(attempt - 1, max_attempts),
        started_at=now,
        updated_at=now,
        **({"last_retry_at": now} if attempt > 1 else {}),
    )
    if not started:
        row = BackfillLog.objects.filter(year=year, month=month).values("status").first()
        return {"outcome": "skipped", "status": row["status"] if row else None}
    pk = mine.values_list("pk", flat=True).get()
    current = BackfillLog.objects.filter(
        pk=pk, status=BackfillStatus.PROCESSING, last_job_id=job_id
    )
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
            retry_count=0,
            error_message=error_text(exc),
            updated_at=timezone.now(),
            **_usage_increments(usage),
        )
        logger.info("backfill %s-%02d deferred: %s quota", year, month, exc.provider)
        outcome = "deferred" if changed else "superseded"
        return {"outcome": outcome, "deferred": "quota", "provider": exc.provider, **_calls(usage)}
    except (Exception, JobTimeout) as exc:
        message = "Timed out." if isinstance(exc, JobTimeout) else error_text(exc)
        status = backfill_month_attempt_failed(
            pk=pk,
            job_id=job_id,
            attempt=attempt,
            max_attempts=max_attempts,
            permanent=isinstance(exc, PermanentJobError),
            message=message,
            extra=_usage_increments(usage),
        )
        logger.warning("backfill %s-%02d attempt %s: %s, %s", year, month, attempt, status, message)
        raise
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
