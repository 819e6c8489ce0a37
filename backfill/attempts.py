"""A month's state written from its job: each attempt's outcome, a retry, an ended job.

One rule, used by the consumer, job_retry's hook and the scheduler's sweep: the month's
retry_count is the failed attempts of its job's current budget (see `failed_attempts`).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backfill.models import MAX_RETRIES, BackfillLog, BackfillStatus
from jobs.models import JobStatus

logger = logging.getLogger("backfill")
MAX_ERROR_MESSAGE = 2000


def failed_attempts(failed: int, max_attempts: int) -> int:
    """Return the month's retry_count: failed attempts within the job's current budget.

    A job's budget is MAX_RETRIES attempts; a retry by staff grants a fresh one on top of
    the attempts made (jobs.services.job_retry), so the budget began at max - MAX_RETRIES.
    """
    budget_start = max(0, max_attempts - MAX_RETRIES)
    return max(0, min(MAX_RETRIES, failed - budget_start))


def backfill_month_attempt_failed(
    *,
    pk: int,
    job_id: uuid.UUID,
    attempt: int,
    max_attempts: int,
    permanent: bool,
    message: str,
    extra: dict[str, Any] | None = None,
) -> str:
    """Record attempt `attempt` of the month's job as failed; return the month's new status.

    `retry` while the job has attempts left, else (or for a permanent error) `failed`; only
    while `job_id` is still the month's job and the month `processing`.
    """
    last = permanent or attempt >= max_attempts
    status = BackfillStatus.FAILED if last else BackfillStatus.RETRY
    changed = BackfillLog.objects.filter(
        pk=pk, status=BackfillStatus.PROCESSING, last_job_id=job_id
    ).update(
        status=status,
        retry_count=failed_attempts(attempt, max_attempts),
        error_message=message[:MAX_ERROR_MESSAGE],
        updated_at=timezone.now(),
        **(extra or {}),
    )
    return status.value if changed else ""


def backfill_months_job_retried(job_ids: list[Any]) -> int:
    """Reset the months of retried jobs: `pending` with a fresh budget (job_retry's hook)."""
    now = timezone.now()
    return (
        BackfillLog.objects.filter(last_job_id__in=job_ids)
        .exclude(status=BackfillStatus.COMPLETED)
        .update(
            status=BackfillStatus.PENDING,
            retry_count=0,
            completed_at=None,
            last_retry_at=now,
            updated_at=now,
        )
    )


@transaction.atomic(durable=True)
def backfill_months_recover(*, limit: int = 500) -> int:
    """Write `processing` months from their job when no attempt of it is running any more.

    An attempt that timed out hard, lost its worker or was cancelled never recorded the
    month's outcome. The job says what it is: pending again (retrying) -> `retry`; failed
    or cancelled -> `failed`; finished without the month, or gone -> `pending`.
    """
    orphans = BackfillLog.objects.filter(status=BackfillStatus.PROCESSING).filter(
        Q(last_job__isnull=True) | ~Q(last_job__status=JobStatus.RUNNING)
    )
    rows = orphans.select_for_update(skip_locked=True, of=("self",)).values_list(
        "pk",
        "last_job_id",
        "last_job__status",
        "last_job__attempts",
        "last_job__max_attempts",
        "last_job__last_error",
    )[:limit]
    now = timezone.now()
    recovered = 0
    for pk, job_id, job_status, attempts, max_attempts, job_error in rows:
        changes: dict[str, Any] = {"status": BackfillStatus.PENDING, "retry_count": 0}
        if job_id is None:
            message = "The month's job is gone without finishing it."
        else:
            message = f"Job {job_id} is {job_status}" + (f": {job_error}" if job_error else ".")
            if job_status == JobStatus.PENDING:
                if attempts == 0:
                    continue  # claimed, its first attempt not started yet
                changes = {
                    "status": BackfillStatus.RETRY,
                    "retry_count": failed_attempts(attempts, max_attempts),
                }
            elif job_status in (JobStatus.FAILED, JobStatus.CANCELLED):
                changes = {
                    "status": BackfillStatus.FAILED,
                    "retry_count": failed_attempts(attempts, max_attempts),
                }
        recovered += BackfillLog.objects.filter(
            pk=pk, status=BackfillStatus.PROCESSING, last_job_id=job_id
        ).update(error_message=message[:MAX_ERROR_MESSAGE], updated_at=now, **changes)
    if recovered:
        logger.warning("backfill: %s month(s) written from their ended jobs", recovered)
    return recovered
