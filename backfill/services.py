"""Writes for the backfill: seeding, claiming months for jobs, staff resets, quotas and books."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, DateTimeField, F, Value, When
from django.utils import timezone

from backfill.attempts import MAX_ERROR_MESSAGE, backfill_months_recover
from backfill.models import (
    BACKFILL_MONTH_JOB,
    CONTEMPORARY_FROM_YEAR,
    DEFAULT_BATCH_SIZE,
    FIRST_YEAR,
    LAST_YEAR,
    MAX_BATCH_SIZE,
    RESETTABLE_STATUSES,
    SCHEDULABLE_STATUSES,
    YEAR_MAX,
    YEAR_MIN,
    BackfillLog,
    BackfillStatus,
    Book,
    PromptVariant,
    Provider,
    ProviderQuota,
)
from backfill.providers import provider_configs
from backfill.rollup import backfill_stats_compact
from backfill.selectors import backfill_candidates
from controlplane.redaction import redact
from controlplane.services import audit_bulk_id, audit_log_record
from jobs.services import JobSpec, enqueue_jobs_bulk, job_retry

# Enqueue one job per month, in order; return the jobs' ids.
EnqueueMonths = Callable[[Sequence[BackfillLog]], list[uuid.UUID]]
CLAIM_FIELDS = ("id", "year", "month", "status", "retry_count", "batch_size", "prompt_variant")
logger = logging.getLogger("backfill")
MONTHS_PER_YEAR = 12


def backfill_month_payload(log: BackfillLog) -> dict[str, Any]:
    """Return the `backfill_month` job payload for a claimed month."""
    return {
        "year": log.year,
        "month": log.month,
        "batch_size": log.batch_size,
        "prompt_variant": log.prompt_variant,
    }


def month_exclusive_key(year: int, month: int) -> str:
    """Return the exclusive key every job of this month holds: one active job per month."""
    return f"backfill:{year:04d}-{month:02d}"


def _enqueue_backfill_months(logs: Sequence[BackfillLog]) -> list[uuid.UUID]:
    """Enqueue one `backfill_month` job per month in `logs`; return their ids in order."""
    # One INSERT for all of them; the jobs dispatcher hands them to the engine within a
    # dispatch interval. Candidates never have an active job, so the keys are free.
    specs = [
        JobSpec(
            type=BACKFILL_MONTH_JOB,
            payload=backfill_month_payload(log),
            exclusive_key=month_exclusive_key(log.year, log.month),
        )
        for log in logs
    ]
    return enqueue_jobs_bulk(jobs=specs)


@dataclass(frozen=True)
class SeedResult:
    inserted: int
    existing: int


@dataclass(frozen=True)
class ScheduledMonth:
    job_id: uuid.UUID
    year: int
    month: int
    batch_size: int


@dataclass
class ClaimResult:
    dry_run: bool
    candidates: list[dict[str, Any]] = field(default_factory=list)
    scheduled: list[ScheduledMonth] = field(default_factory=list)


def error_text(exc: BaseException) -> str:
    """Return a storable message for `exc`: every configured provider key scrubbed, bounded."""
    secrets = [config.api_key for config in provider_configs().values()]
    return redact(f"{type(exc).__name__}: {exc}", secrets, credential_words=True)[
        :MAX_ERROR_MESSAGE
    ]


@transaction.atomic(durable=True)
def backfill_seed(
    *,
    first_year: int = FIRST_YEAR,
    last_year: int = LAST_YEAR,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> SeedResult:
    """Insert one pending row per month of `first_year`..`last_year` that has none yet."""
    if not (YEAR_MIN <= first_year <= last_year <= YEAR_MAX):
        raise ValidationError(f"Years must satisfy {YEAR_MIN} <= first <= last <= {YEAR_MAX}.")
    _check_batch_size(batch_size)
    with connection.cursor() as cursor:
        # One statement; ON CONFLICT keeps concurrent or repeated seeds from failing or duplicating.
        cursor.execute(
            """
            INSERT INTO backfill_log (
                year, month, status, retry_count, batch_size, prompt_variant,
                books_generated, isbns_resolved, gemini_calls, xai_calls, isbndb_calls,
                error_message, created_at, updated_at
            )
            SELECT y, m, %s, 0, %s, CASE WHEN y >= %s THEN %s ELSE %s END,
                   0, 0, 0, 0, 0, '', now(), now()
            FROM generate_series(%s::int, %s::int) AS y CROSS JOIN generate_series(1, 12) AS m
            ON CONFLICT (year, month) DO NOTHING
            RETURNING 1
            """,
            [
                BackfillStatus.PENDING.value,
                batch_size,
                CONTEMPORARY_FROM_YEAR,
                PromptVariant.CONTEMPORARY_NOTABLE.value,
                PromptVariant.BASELINE.value,
                first_year,
                last_year,
            ],
        )
        inserted = len(cursor.fetchall())
    total = (last_year - first_year + 1) * MONTHS_PER_YEAR
    return SeedResult(inserted=inserted, existing=total - inserted)


def _check_batch_size(batch_size: int) -> None:
    if not (1 <= batch_size <= MAX_BATCH_SIZE):
        raise ValidationError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}.")


def _check_claim_arguments(
    *, batch_size: int, max_months: int, year_range: tuple[int, int]
) -> None:
    _check_batch_size(batch_size)
    if max_months < 1:
        raise ValidationError("max_months must be at least 1.")
    if not all(YEAR_MIN <= year <= YEAR_MAX for year in year_range):
        raise ValidationError(f"year_range must lie within {YEAR_MIN}..{YEAR_MAX}.")


def backfill_claim_months(
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_months: int = 1,
    force_retry: bool = False,
    year_range: tuple[int, int] | None = None,
    dry_run: bool = False,
    enqueue: EnqueueMonths | None = None,
) -> ClaimResult:
    """Pick up to `max_months` schedulable months, newest first; claim and enqueue each one.

    A month whose job is still active is never a candidate. A dry run only reports the
    candidates. Otherwise each month goes `processing` with a fresh retry budget and
    `enqueue(logs)` hands them to the job system in one go; if that fails, the claims are
    undone (no job ran, so nothing was attempted) and the error is stored on each month.
    """
    # A range in either order: (2024, 2000) is the same range as (2000, 2024).
    low, high = sorted(year_range or (FIRST_YEAR, LAST_YEAR))
    year_range = (low, high)
    _check_claim_arguments(batch_size=batch_size, max_months=max_months, year_range=year_range)
    statuses = [*SCHEDULABLE_STATUSES, *([BackfillStatus.FAILED] if force_retry else [])]
    candidates = backfill_candidates(statuses=statuses, year_range=year_range)
    if dry_run:
        rows: list[dict[str, Any]] = [
            dict(r) for r in candidates.values("year", "month", "status")[:max_months]
        ]
        return ClaimResult(dry_run=True, candidates=rows)
    backfill_stats_compact()  # each scheduling pass keeps the stats rollup a few rows long
    backfill_months_recover()
    return _claim(
        candidates=candidates,
        batch_size=batch_size,
        max_months=max_months,
        enqueue=enqueue or _enqueue_backfill_months,
    )


@transaction.atomic(durable=True)
def _claim(
    *, candidates: Any, batch_size: int, max_months: int, enqueue: EnqueueMonths
) -> ClaimResult:
    now = timezone.now()
    # SKIP LOCKED: concurrent schedulers each take different months, none waits or doubles up.
    locked = candidates.select_for_update(skip_locked=True).only(*CLAIM_FIELDS)
    logs = list(locked[:max_months])
    result = ClaimResult(
        dry_run=False,
        candidates=[{"year": m.year, "month": m.month, "status": m.status} for m in logs],
    )
    if not logs:
        return result
    pks = [log.pk for log in logs]
    before = {log.pk: (log.status, log.retry_count) for log in logs}
    # One UPDATE for all (the rows are ours, locked). SET expressions see each row as it
    # was, so a retried month gets last_retry_at and a failed one loses completed_at.
    BackfillLog.objects.filter(pk__in=pks).update(
        status=BackfillStatus.PROCESSING,
        batch_size=batch_size,
        retry_count=0,
        started_at=now,
        updated_at=now,
        last_retry_at=Case(
            When(status=BackfillStatus.PENDING, then=F("last_retry_at")),
            default=Value(now),
            output_field=DateTimeField(),
        ),
        completed_at=Case(
            When(status=BackfillStatus.FAILED, then=Value(None)),
            default=F("completed_at"),
            output_field=DateTimeField(),
        ),
    )
    for log in logs:  # mirror the rows just written: the payloads carry the claimed values
        log.status, log.batch_size = BackfillStatus.PROCESSING, batch_size
    try:
        # A savepoint: a failed enqueue must not undo the claims, only count against them.
        with transaction.atomic():
            job_ids = enqueue(logs)
            if len(job_ids) != len(logs):
                raise RuntimeError(f"enqueued {len(job_ids)} jobs for {len(logs)} months")
    except Exception as exc:
        message = error_text(exc)
        for pk, (status, retry_count) in before.items():
            BackfillLog.objects.filter(pk=pk, status=BackfillStatus.PROCESSING).update(
                status=status, retry_count=retry_count, error_message=message, updated_at=now
            )
        return result
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE backfill_log SET last_job_id = v.job_id
              FROM unnest(%s::bigint[], %s::uuid[]) AS v(id, job_id)
             WHERE backfill_log.id = v.id
            """,
            [pks, job_ids],
        )
    result.scheduled = [
        ScheduledMonth(job_id=job_id, year=log.year, month=log.month, batch_size=batch_size)
        for log, job_id in zip(logs, job_ids, strict=True)
    ]
    return result


def _audit_months(
    *, months: Iterable[tuple[int, int]], action: str, actor: AbstractBaseUser | None
) -> None:
    pairs = list(months)
    bulk_id = audit_bulk_id(pairs)
    for year, month in pairs:
        audit_log_record(
            actor=actor,
            action=action,
            target_type="backfill_log",
            target_id=f"{year}-{month:02d}",
            bulk_id=bulk_id,
        )


@transaction.atomic(durable=True)
def backfill_months_retry_failed(
    *, log_ids: Iterable[int], actor: AbstractBaseUser | None = None
) -> int:
    """Retry the failed months among `log_ids`: the same action as retrying their jobs.

    A month whose job can be retried gets that job back with a fresh budget (and is reset
    by job_retry's hook); any other goes back to `pending` for the scheduler.
    """
    now = timezone.now()
    rows = BackfillLog.objects.filter(pk__in=list(log_ids), status=BackfillStatus.FAILED)
    # Lock first so the conditional UPDATEs change exactly the rows we audit.
    months = list(rows.select_for_update().values_list("pk", "year", "month", "last_job_id"))
    job_ids = [job_id for _, _, _, job_id in months if job_id is not None]
    job_retry(job_ids=job_ids, actor=actor, reason="backfill month retried")
    # Months whose job was not retried (gone, or its key held): the scheduler's again.
    rows.update(
        status=BackfillStatus.PENDING,
        retry_count=0,
        completed_at=None,
        last_retry_at=now,
        updated_at=now,
    )
    _audit_months(
        months=[(y, m) for _, y, m, _ in months], action="backfill.retry_failed", actor=actor
    )
    return len(months)


@transaction.atomic(durable=True)
def backfill_months_reset_pending(
    *, log_ids: Iterable[int], actor: AbstractBaseUser | None = None
) -> int:
    """Reset the failed, retrying or completed months among `log_ids` to a fresh `pending`."""
    rows = BackfillLog.objects.filter(pk__in=list(log_ids), status__in=RESETTABLE_STATUSES)
    months = list(rows.select_for_update().values_list("year", "month"))
    changed = rows.update(
        status=BackfillStatus.PENDING,
        retry_count=0,
        completed_at=None,
        error_message="",
        updated_at=timezone.now(),
    )
    _audit_months(months=months, action="backfill.reset_pending", actor=actor)
    return changed


def provider_quota_consume(
    *, provider: Provider, limit: int, amount: int = 1, day: date | None = None
) -> bool:
    """Take `amount` calls from today's quota of `provider`; False when it would exceed `limit`."""
    day = day or timezone.now().date()
    if amount < 1 or amount > limit:
        return False
    ProviderQuota.objects.bulk_create(
        [ProviderQuota(provider=provider, day=day, used=0, limit=limit)], ignore_conflicts=True
    )
    # The conditional UPDATE is the check and the spend at once: concurrent callers can't overdraw.
    taken = ProviderQuota.objects.filter(
        provider=provider, day=day, used__lte=limit - amount
    ).update(used=F("used") + amount, limit=limit)
    return taken == 1


def book_record(
    *, title: str, author: str, isbn: str, year: int, month: int, source: Provider
) -> None:
    """Store a found book unless its ISBN is already catalogued."""
    Book.objects.bulk_create(
        [Book(title=title, author=author, isbn=isbn, year=year, month=month, source=source)],
        ignore_conflicts=True,
    )
