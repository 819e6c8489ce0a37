"""Writes of the console: the job rollups behind the dashboard's charts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from backups.models import Backup
from console.models import BackupHour, JobHour, JobMinute
from jobs.models import Job, JobStatus

# Run-time bucket edges, in seconds; width_bucket() numbers the buckets 0..len(edges).
DURATION_EDGES = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
ROLLED_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED)
# Minutes recomputed behind the newest rolled-up minute: outcomes committed a little late.
LATE_MARGIN = timedelta(minutes=3)
FIRST_FILL = timedelta(hours=24)
MINUTES_KEPT = timedelta(hours=2)
HOURS_KEPT = timedelta(days=8)
BACKUP_FIRST_FILL = timedelta(days=30)
BACKUP_HOURS_KEPT = timedelta(days=60)
ROLLUP_LOCK_ID = 0x636F6E736F6C65  # "console"

_MINUTES_SQL = """
INSERT INTO {minute_table} (minute, type, status, duration_bucket, count, seconds)
SELECT date_trunc('minute', completed_at), type, status,
       width_bucket(extract(epoch FROM completed_at - started_at)::float8, %(edges)s::float8[]),
       count(*), coalesce(sum(extract(epoch FROM completed_at - started_at)::float8), 0)
FROM {job_table}
WHERE completed_at >= %(start)s AND completed_at < %(end)s AND status = ANY(%(statuses)s)
  AND started_at IS NOT NULL
GROUP BY 1, 2, 3, 4
"""
_HOURS_SQL = """
INSERT INTO {hour_table} (hour, type, status, duration_bucket, count, seconds)
SELECT date_trunc('hour', minute), type, status, duration_bucket, sum(count), sum(seconds)
FROM {minute_table}
WHERE minute >= %(start)s
GROUP BY 1, 2, 3, 4
"""

_BACKUP_HOURS_SQL = """
INSERT INTO {hour_table} (hour, count, bytes)
SELECT date_trunc('hour', created_at), count(*), sum(size_bytes)
FROM {backup_table}
WHERE created_at >= %(start)s
GROUP BY 1
"""


def _floor_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _floor_hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


@transaction.atomic(durable=True)
def metrics_rollup(*, now: datetime | None = None) -> int:
    """Recompute the rollups from the last rolled-up minute (minus a margin); return rows written.

    Reads only jobs that ended since then, through the jobs' completed_at index, so it adds
    nothing to a job's claim or outcome. Safe on many clusters at once (an advisory lock).
    """
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLLUP_LOCK_ID])
    newest = JobMinute.objects.order_by("-minute").values_list("minute", flat=True).first()
    if newest is None:
        newest = JobHour.objects.order_by("-hour").values_list("hour", flat=True).first()
    floor = _floor_minute(now - FIRST_FILL)
    start = floor if newest is None else max(floor, _floor_minute(newest - LATE_MARGIN))
    hour_start = start.replace(minute=0)
    # The minutes of the first hour before `start` were kept (MINUTES_KEPT > 1 h) unless this
    # is a first fill or a gap longer than that; then recompute the whole hour from the jobs.
    if not JobMinute.objects.filter(minute__gte=hour_start, minute__lt=start).exists():
        start = hour_start
    tables = {
        "minute_table": connection.ops.quote_name(JobMinute._meta.db_table),
        "hour_table": connection.ops.quote_name(JobHour._meta.db_table),
        "job_table": connection.ops.quote_name(Job._meta.db_table),
    }
    params: dict[str, Any] = {
        "start": start,
        "end": now,
        "edges": [float(e) for e in DURATION_EDGES],
        "statuses": [str(s) for s in ROLLED_STATUSES],
    }
    JobMinute.objects.filter(minute__gte=start).delete()
    with connection.cursor() as cursor:
        cursor.execute(_MINUTES_SQL.format(**tables), params)
        written = cursor.rowcount
        JobHour.objects.filter(hour__gte=hour_start).delete()
        cursor.execute(_HOURS_SQL.format(**tables), {"start": hour_start})
        written += cursor.rowcount
    JobMinute.objects.filter(minute__lt=_floor_minute(now - MINUTES_KEPT)).delete()
    JobHour.objects.filter(hour__lt=now - HOURS_KEPT).delete()
    return written + _backup_hours_rollup(now=now)


def _backup_hours_rollup(*, now: datetime) -> int:
    """Recompute the backup hours from the newest rolled-up one (the previous too, just after)."""
    newest = BackupHour.objects.order_by("-hour").values_list("hour", flat=True).first()
    first = _floor_hour(now - BACKUP_FIRST_FILL)
    start = first if newest is None else max(first, min(newest, _floor_hour(now - LATE_MARGIN)))
    BackupHour.objects.filter(hour__gte=start).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            _BACKUP_HOURS_SQL.format(
                hour_table=connection.ops.quote_name(BackupHour._meta.db_table),
                backup_table=connection.ops.quote_name(Backup._meta.db_table),
            ),
            {"start": start},
        )
        written = cursor.rowcount
    BackupHour.objects.filter(hour__lt=now - BACKUP_HOURS_KEPT).delete()
    return written
