"""The rollups behind the charts: counts per minute and hour, histograms, recompute, schedule."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from console.handlers import ROLLUP_JOB
from console.models import BackupHour, JobHour, JobMinute
from console.selectors import backup_bytes_per_day, estimate_percentile, run_time_percentiles
from console.services import DURATION_EDGES, metrics_rollup
from jobs.models import Job, JobStatus
from jobs.registry import get_handler, housekeeping_types
from jobs.scheduling import declared_schedules, schedule_fire
from jobs.worker import execute_job
from tests.backups.factories import backup
from tests.console.conftest import ended_job

NOW = datetime(2026, 12, 1, 12, 30, 20, tzinfo=UTC)


def minute_counts() -> dict[tuple[str, str, str], int]:
    counts: dict[tuple[str, str, str], int] = {}
    for row in JobMinute.objects.all():
        key = (f"{row.minute:%H:%M}", row.type, row.status)
        counts[key] = counts.get(key, 0) + row.count
    return counts


@pytest.mark.django_db
def test_metrics_rollup__counts_jobs_per_minute_hour_and_run_time_bucket() -> None:
    ended_job(completed_at=NOW - timedelta(minutes=1), seconds=0.2)
    ended_job(completed_at=NOW - timedelta(minutes=1, seconds=5), seconds=0.2)
    ended_job(completed_at=NOW - timedelta(minutes=2), seconds=40)
    ended_job(type="test.doomed", status=JobStatus.FAILED, completed_at=NOW - timedelta(hours=5))
    ended_job(type="test.echo", completed_at=NOW - timedelta(days=2))  # outside the first fill
    Job.objects.create(type="test.echo", status=JobStatus.PENDING)  # not ended: not counted

    metrics_rollup(now=NOW)

    # Minutes are kept for two hours; the failure five hours ago lives on in its hour.
    assert minute_counts() == {
        ("12:29", "test.echo", "completed"): 2,
        ("12:28", "test.echo", "completed"): 1,
    }
    hours = {
        (f"{h.hour:%H}", h.type, h.status, h.duration_bucket): h.count
        for h in JobHour.objects.all()
    }
    fast = DURATION_EDGES.index(0.25)  # 0.2 s falls in [0.1, 0.25): width_bucket 3
    slow = DURATION_EDGES.index(60)  # 40 s falls in [30, 60)
    assert hours == {
        ("12", "test.echo", "completed", fast): 2,
        ("12", "test.echo", "completed", slow): 1,
        ("07", "test.doomed", "failed", DURATION_EDGES.index(2.5)): 1,  # 1 s: [1, 2.5)
    }
    assert JobHour.objects.get(duration_bucket=slow).seconds == pytest.approx(40)


@pytest.mark.django_db
def test_metrics_rollup__recomputes_the_recent_minutes_only() -> None:
    ended_job(completed_at=NOW - timedelta(minutes=10))
    ended_job(completed_at=NOW - timedelta(seconds=30))
    metrics_rollup(now=NOW)
    # A job that ended before the last run but committed after it is still counted...
    ended_job(completed_at=NOW - timedelta(seconds=40))
    # ...while an old minute is not recomputed (a row written behind the rollup's back stays).
    JobMinute.objects.filter(minute=(NOW - timedelta(minutes=10)).replace(second=0)).update(count=7)
    later = NOW + timedelta(minutes=1)
    ended_job(completed_at=later - timedelta(seconds=5))

    metrics_rollup(now=later)
    metrics_rollup(now=later)  # idempotent

    assert minute_counts() == {
        ("12:20", "test.echo", "completed"): 7,
        ("12:29", "test.echo", "completed"): 2,
        ("12:31", "test.echo", "completed"): 1,
    }
    assert sum(JobHour.objects.values_list("count", flat=True)) == 10  # hour = sum of its minutes


@pytest.mark.django_db
def test_metrics_rollup__drops_old_rows() -> None:
    ended_job(completed_at=NOW - timedelta(hours=3))
    metrics_rollup(now=NOW)
    assert not JobMinute.objects.exists() and JobHour.objects.count() == 1
    metrics_rollup(now=NOW + timedelta(days=9))
    assert not JobHour.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_metrics_rollup__two_at_once_do_not_collide() -> None:
    for i in range(20):
        ended_job(completed_at=NOW - timedelta(seconds=10 * i + 1))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            metrics_rollup(now=NOW)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(JobMinute.objects.values_list("count", flat=True)) == 20


def test_estimate_percentile__interpolates_inside_the_bucket() -> None:
    edges = (1.0, 2.0, 4.0)
    assert estimate_percentile({}, 0.5, edges) is None
    # 10 jobs in [1, 2): the median is half-way through that bucket.
    assert estimate_percentile({1: 10}, 0.5, edges) == pytest.approx(1.5)
    # 90 fast, 10 in [2, 4): p50 among the fast, p95 half-way through the slow bucket.
    assert estimate_percentile({0: 90, 2: 10}, 0.5, edges) == pytest.approx(0.5 / 0.9)
    assert estimate_percentile({0: 90, 2: 10}, 0.95, edges) == pytest.approx(3.0)
    # Past the last edge: twice the last edge at most.
    assert estimate_percentile({3: 4}, 1.0, edges) == pytest.approx(8.0)


@pytest.mark.django_db
def test_run_time_percentiles__per_type_from_completed_jobs() -> None:
    for i in range(19):
        ended_job(type="test.echo", completed_at=NOW - timedelta(minutes=i), seconds=0.3)
    ended_job(type="test.echo", completed_at=NOW, seconds=200)
    ended_job(type="test.doomed", status=JobStatus.FAILED, completed_at=NOW, seconds=900)
    metrics_rollup(now=NOW + timedelta(seconds=1))
    [(name, p50, p95)] = run_time_percentiles(now=NOW)
    assert name == "test.echo"
    assert 0.25 <= p50 < 0.5 and 0.25 <= p95 <= 0.5


@pytest.mark.django_db
def test_rollup_schedule__one_run_at_a_time() -> None:
    first = schedule_fire(ROLLUP_JOB)
    again = schedule_fire(ROLLUP_JOB)  # the previous run is still pending: no second one
    assert first is not None and first == again
    job = Job.objects.get(pk=first)
    assert job.type == ROLLUP_JOB and job.exclusive_key == ROLLUP_JOB


def test_registry__rollup_is_housekeeping() -> None:
    assert get_handler(ROLLUP_JOB).housekeeping is True
    assert get_handler("test.echo").housekeeping is False
    assert ROLLUP_JOB in housekeeping_types() and "test.echo" not in housekeeping_types()


@pytest.mark.django_db
def test_metrics_rollup__sums_backup_bytes_per_hour_and_day(project: Any) -> None:
    backup(project=project, content=b"x" * 100, created_at=NOW - timedelta(days=2))
    backup(project=project, content=b"x" * 50, created_at=NOW - timedelta(hours=1))
    backup(project=project, content=b"x" * 7, created_at=NOW - timedelta(hours=2))
    backup(project=project, content=b"x" * 9, created_at=NOW - timedelta(days=40))  # too old
    metrics_rollup(now=NOW)
    backup(project=project, content=b"x" * 1000, created_at=NOW - timedelta(minutes=5))
    backup(project=project, content=b"x" * 3, created_at=NOW - timedelta(days=2))  # not recomputed
    metrics_rollup(now=NOW)
    assert {(f"{h.hour:%d %H}h", h.count, h.bytes) for h in BackupHour.objects.all()} == {
        ("29 12h", 1, 100),
        ("01 10h", 1, 7),
        ("01 11h", 1, 50),
        ("01 12h", 1, 1000),
    }
    assert backup_bytes_per_day(now=NOW) == {date(2026, 11, 29): 100, date(2026, 12, 1): 1057}


@pytest.mark.django_db(transaction=True)
def test_rollup_job__runs_through_the_worker() -> None:
    ended_job(completed_at=datetime.now(UTC) - timedelta(minutes=2))
    job_id = schedule_fire(ROLLUP_JOB)
    assert job_id is not None
    execute_job(job_id)
    job = Job.objects.get(pk=job_id)
    assert job.status == JobStatus.COMPLETED and job.result == {"rows": 2}
    assert JobMinute.objects.get().count == 1


@pytest.mark.django_db
def test_metrics_rollup__counts_yesterdays_late_backups_just_after_midnight(project: Any) -> None:
    midnight = datetime(2026, 12, 2, tzinfo=UTC)
    backup(project=project, content=b"x" * 10, created_at=midnight - timedelta(minutes=5))
    metrics_rollup(now=midnight - timedelta(minutes=4))
    backup(
        project=project, content=b"x" * 20, created_at=midnight - timedelta(minutes=4, seconds=30)
    )
    backup(project=project, content=b"x" * 5, created_at=midnight + timedelta(seconds=30))
    metrics_rollup(now=midnight + timedelta(minutes=1))
    assert {(f"{h.hour:%d %H}h", h.count, h.bytes) for h in BackupHour.objects.all()} == {
        ("01 23h", 2, 30),
        ("02 00h", 1, 5),
    }


def test_rollup_schedule__declared_every_minute() -> None:
    schedule = declared_schedules()[ROLLUP_JOB]
    assert (schedule.type, schedule.every(), schedule.is_enabled()) == (ROLLUP_JOB, 1, True)
