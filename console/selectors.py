"""Cheap reads behind the dashboard: partial-index counts, a few rows, and the rollups."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import Now, TruncDate
from django.utils import timezone

from backfill.models import BackfillLog, BackfillStatus
from console.handlers import ROLLUP_JOB
from console.models import BackupHour, JobHour, JobMinute
from console.services import DURATION_EDGES
from controlplane.models import AuditLog, Project, ProjectStatus
from jobs.models import ACTIVE_STATUSES, Job, JobStatus
from jobs.registry import housekeeping_types, registered_types
from jobs.selectors import clusters_live

RUNNING_LIMIT = 15
FAILURES_LIMIT = 8
ACTIONS_LIMIT = 8
ERROR_CHARS = 140


def job_counts() -> dict[str, Any]:
    """Return active counts (live) and ended-in-24-h counts (rollup) by status and by type."""
    due = Q(status=JobStatus.PENDING, scheduled_at__lte=Now())
    rows = (
        Job.objects.filter(status__in=ACTIVE_STATUSES)
        .values("type", "status")
        .annotate(
            n=Count("pk"),
            due=Count("pk", filter=due),
            retrying=Count("pk", filter=Q(status=JobStatus.PENDING, attempts__gt=0)),
            oldest=Min("scheduled_at", filter=due),
        )
        .order_by()
    )
    housekeeping = set(housekeeping_types())
    by_type: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"pending": 0, "running": 0, "completed": 0, "failed": 0}
    )
    totals = {"pending": 0, "running": 0, "completed": 0, "failed": 0, "due": 0, "retrying": 0}
    oldest: datetime | None = None
    for row in rows:
        by_type[row["type"]][row["status"]] = row["n"]
        totals[row["status"]] += row["n"]
        totals["due"] += row["due"]
        totals["retrying"] += row["retrying"]
        if row["oldest"] is not None and (oldest is None or row["oldest"] < oldest):
            oldest = row["oldest"]
    ended = (
        JobHour.objects.filter(hour__gte=timezone.now() - timedelta(hours=24))
        .values("type", "status")
        .annotate(n=Sum("count"))
        .order_by()
    )
    for row in ended:
        by_type[row["type"]][row["status"]] = row["n"]
        totals[row["status"]] += row["n"]
    types = [
        {"type": name, "housekeeping": name in housekeeping, **counts}
        for name, counts in sorted(by_type.items())
    ]
    wait = (timezone.now() - oldest).total_seconds() if oldest else None
    return {"totals": totals, "types": types, "oldest_due_wait": wait}


def running_jobs() -> list[Job]:
    """Return the running jobs (longest-running first) with their project and progress."""
    return list(
        Job.objects.filter(status=JobStatus.RUNNING)
        .select_related("project")
        .only(
            "id",
            "type",
            "status",
            "attempts",
            "max_attempts",
            "worker",
            "started_at",
            "lease_expires_at",
            "progress",
            "cancel_requested_at",
            "project__slug",
        )
        .order_by("started_at")[:RUNNING_LIMIT]
    )


def lease_renewed_seconds_ago(job: Job) -> float | None:
    """Return how long ago the job's worker last renewed its lease."""
    if job.lease_expires_at is None:
        return None
    renewed = job.lease_expires_at - timedelta(seconds=settings.JOBS_LEASE_SECONDS)
    return max((timezone.now() - renewed).total_seconds(), 0.0)


def recent_failures(*, hide_housekeeping: bool) -> list[dict[str, Any]]:
    """Return the latest failed jobs: type, project, short error (housekeeping hideable)."""
    # completed_at IS NOT NULL lets the newest-first walk use the partial job_completed_idx.
    queryset = Job.objects.filter(status=JobStatus.FAILED, completed_at__isnull=False)
    if hide_housekeeping:
        queryset = queryset.exclude(type__in=housekeeping_types())
    housekeeping = set(housekeeping_types())
    rows = queryset.order_by("-completed_at").values(
        "id", "type", "project__slug", "completed_at", "attempts", "last_error"
    )[:FAILURES_LIMIT]
    return [
        {
            **row,
            "housekeeping": row["type"] in housekeeping,
            "short_error": _short(row["last_error"]),
        }
        for row in rows
    ]


def _short(text: str) -> str:
    line = (text or "").strip().splitlines()[-1:] or [""]
    first = line[0]
    return first if len(first) <= ERROR_CHARS else first[: ERROR_CHARS - 1] + "…"


def projects_glance() -> dict[str, Any]:
    """Return project counts by status and the latest provisioning failures."""
    counts = {s.value: 0 for s in ProjectStatus}
    for row in Project.objects.values("status").annotate(n=Count("pk")).order_by():
        counts[row["status"]] = row["n"]
    failed = list(
        Project.objects.filter(status=ProjectStatus.PROVISION_FAILED)
        .order_by("-created_at")
        .values("pk", "slug", "status_reason")[:5]
    )
    return {"counts": counts, "provision_failures": failed}


def recent_actions() -> list[AuditLog]:
    """Return the latest audited actions (our AuditLog, not django's LogEntry)."""
    return list(AuditLog.objects.order_by("-at", "-id")[:ACTIONS_LIMIT])


def clusters() -> list[dict[str, Any]]:
    """Return the live qcluster processes, as their status cache reports them."""
    return clusters_live()


def rollup_freshness() -> datetime | None:
    """Return when the last rollup job finished (the charts are as fresh as that)."""
    return (
        Job.objects.filter(type=ROLLUP_JOB, status=JobStatus.COMPLETED)
        .order_by("-created_at")
        .values_list("completed_at", flat=True)
        .first()
    )


def ended_per_minute(*, now: datetime, minutes: int = 60) -> dict[tuple[datetime, str, str], int]:
    """Return {(minute, type, status): jobs ended} for the last `minutes` minutes."""
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
    rows = (
        JobMinute.objects.filter(minute__gte=start)
        .values("minute", "type", "status")
        .annotate(n=Sum("count"))
        .order_by()
    )
    return {(r["minute"], r["type"], r["status"]): r["n"] for r in rows}


def ended_per_hour(*, now: datetime, hours: int = 24) -> dict[tuple[datetime, str, str], int]:
    """Return {(hour, type, status): jobs ended} for the last `hours` hours."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    rows = (
        JobHour.objects.filter(hour__gte=start)
        .values("hour", "type", "status")
        .annotate(n=Sum("count"))
        .order_by()
    )
    return {(r["hour"], r["type"], r["status"]): r["n"] for r in rows}


def run_time_percentiles(*, now: datetime) -> list[tuple[str, float, float]]:
    """Return (type, p50, p95) of completed jobs' run times over 24 h, from the histograms."""
    rows = (
        JobHour.objects.filter(hour__gte=now - timedelta(hours=24), status=JobStatus.COMPLETED)
        .values("type", "duration_bucket")
        .annotate(n=Sum("count"))
        .order_by()
    )
    per_type: dict[str, dict[int, int]] = defaultdict(dict)
    for row in rows:
        per_type[row["type"]][row["duration_bucket"]] = row["n"]
    result = []
    for name, buckets in sorted(per_type.items()):
        p50, p95 = estimate_percentile(buckets, 0.5), estimate_percentile(buckets, 0.95)
        if p50 is not None and p95 is not None:
            result.append((name, p50, p95))
    return result


def estimate_percentile(
    buckets: Mapping[int, int], q: float, edges: Sequence[float] = DURATION_EDGES
) -> float | None:
    """Estimate the q-quantile from width_bucket counts, interpolating inside the bucket."""
    total = sum(buckets.values())
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index in range(len(edges) + 1):
        count = buckets.get(index, 0)
        if count and seen + count >= rank:
            low = edges[index - 1] if index > 0 else 0.0
            high = edges[index] if index < len(edges) else edges[-1] * 2
            return low + (high - low) * (rank - seen) / count
        seen += count
    return edges[-1] * 2


def backup_bytes_per_day(*, now: datetime, days: int = 30) -> dict[Any, int]:
    """Return {date: bytes of backups made that day} for the last `days` days (rolled up)."""
    rows = (
        BackupHour.objects.filter(hour__gte=now - timedelta(days=days))
        .annotate(day=TruncDate("hour"))
        .values("day")
        .annotate(b=Sum("bytes"))
        .order_by()
    )
    return {r["day"]: r["b"] for r in rows}


def backfill_progress(*, now: datetime, days: int = 30) -> dict[str, Any]:
    """Return backfill months completed per day (last `days` days) and status totals."""
    rows = (
        BackfillLog.objects.filter(
            status=BackfillStatus.COMPLETED, completed_at__gte=now - timedelta(days=days)
        )
        .annotate(day=TruncDate("completed_at"))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    totals = {s.value: 0 for s in BackfillStatus}
    for row in BackfillLog.objects.values("status").annotate(n=Count("pk")).order_by():
        totals[row["status"]] = row["n"]
    return {"per_day": {r["day"]: r["n"] for r in rows}, "totals": totals}


def known_types() -> list[str]:
    """Return every registered job type (for stable chart colours)."""
    return registered_types()
