"""Reads for the backfill: scheduling candidates, stats, the admin's year x month grid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Count, Exists, OuterRef, QuerySet, Sum

from backfill.models import BACKFILL_MONTH_JOB, BackfillLog, BackfillStatsDelta, BackfillStatus
from jobs.models import ACTIVE_STATUSES, Job

RECENT_ACTIVITY_LIMIT = 20
COUNTERS = ("books_generated", "isbns_resolved", "gemini_calls", "xai_calls", "isbndb_calls")
ACTIVITY_FIELDS = (
    "year",
    "month",
    "status",
    "retry_count",
    "batch_size",
    "prompt_variant",
    *COUNTERS,
    "resolution_rate",
    "started_at",
    "completed_at",
    "last_retry_at",
    "error_message",
    "updated_at",
)


def backfill_candidates(
    *, statuses: Sequence[str], year_range: tuple[int, int]
) -> QuerySet[BackfillLog]:
    """Return the months in `statuses` within `year_range` without an active job, newest first.

    A month's job is its last_job (and holds the month's exclusive key): while it is pending
    or running, the job itself retries the month.
    """
    start, end = year_range
    return (
        BackfillLog.objects.filter(status__in=list(statuses), year__gte=start, year__lte=end)
        .exclude(Exists(Job.objects.filter(pk=OuterRef("last_job_id"), status__in=ACTIVE_STATUSES)))
        .order_by("-year", "-month")
    )


def _per_status() -> list[dict[str, Any]]:
    """Return, per status, the number of months and the sums of their counters.

    Read from the trigger-kept rollup: a handful of rows, however many months there are.
    """
    names = ("months", *COUNTERS)
    sums = {f"sum_{name}": Sum(name) for name in names}
    rows = BackfillStatsDelta.objects.order_by().values("status").annotate(**sums)
    # sum(bigint) is numeric in PostgreSQL: back to int here, once.
    return [
        {"status": row["status"], **{name: int(row[f"sum_{name}"]) for name in names}}
        for row in rows
    ]


def _status_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(BackfillStatus.values, 0)
    for row in rows:
        counts[row["status"]] = row["months"]
    return counts


def backfill_status_counts() -> dict[str, int]:
    """Return the number of months in each status (every status present, zero when empty)."""
    return _status_counts(_per_status())


def backfill_stats_drift() -> dict[str, dict[str, int]]:
    """Return, per status, how far the rollup is from a full scan of `backfill_log` ({} if not)."""
    sums = {name: Sum(name) for name in COUNTERS}
    scan = BackfillLog.objects.order_by().values("status").annotate(months=Count("id"), **sums)
    truth = {row["status"]: row for row in scan}
    rollup = {row["status"]: row for row in _per_status()}
    drift: dict[str, dict[str, int]] = {}
    for status in sorted(set(truth) | set(rollup)):
        for name in ("months", *COUNTERS):
            off = int(rollup.get(status, {}).get(name, 0)) - int(truth.get(status, {}).get(name, 0))
            if off:
                drift.setdefault(status, {})[name] = off
    return drift


def resolution_rate(*, isbns_resolved: int, books_generated: int) -> float:
    """Return isbns_resolved / books_generated as a percentage, 0 when nothing was generated."""
    if books_generated <= 0:
        return 0.0
    return round(isbns_resolved * 100.0 / books_generated, 2)


def backfill_stats() -> dict[str, Any]:
    """Return status counts, counter totals, the overall resolution rate and recent activity."""
    rows = _per_status()
    totals = {name: sum(int(row[name]) for row in rows) for name in COUNTERS}
    recent = list(
        BackfillLog.objects.order_by("-updated_at", "-id").values(*ACTIVITY_FIELDS)[
            :RECENT_ACTIVITY_LIMIT
        ]
    )
    return {
        "status_counts": _status_counts(rows),
        "totals": totals,
        "overall_resolution_rate": resolution_rate(
            isbns_resolved=totals["isbns_resolved"], books_generated=totals["books_generated"]
        ),
        "recent_activity": recent,
    }


def backfill_month_jobs(*, year: int, month: int, limit: int = 20) -> list[Job]:
    """Return the newest `backfill_month` jobs whose payload names `year`-`month`."""
    return list(
        Job.objects.filter(type=BACKFILL_MONTH_JOB, payload__year=year, payload__month=month)
        .order_by("-created_at")
        .only("id", "status", "created_at", "payload", "last_error")[:limit]
    )


def backfill_grid() -> list[dict[str, Any]]:
    """Return one row per year (newest first), each with twelve month cells (None when absent)."""
    by_year: dict[int, list[BackfillLog | None]] = {}
    for log in BackfillLog.objects.order_by("-year", "month"):
        by_year.setdefault(log.year, [None] * 12)[log.month - 1] = log
    return [{"year": year, "months": months} for year, months in by_year.items()]
