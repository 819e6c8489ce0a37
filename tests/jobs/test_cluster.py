"""Real qcluster processes: delivery, crashes, duplicates, several clusters, cancel, timeout."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from jobs.engine import hand_off
from jobs.models import Job, JobAttempt, JobStatus
from jobs.services import JobSpec, enqueue_job, enqueue_jobs_bulk, job_cancel
from tests.jobs.conftest import wait_until

pytestmark = pytest.mark.e2e


def statuses(ids: list[Any]) -> Counter[str]:
    return Counter(Job.objects.filter(pk__in=ids).values_list("status", flat=True))


def test_cluster__runs_jobs_end_to_end(qcluster: Any) -> None:
    qcluster(workers=2)
    jobs = [enqueue_job(type="test.echo", payload={"value": i})[0] for i in range(20)]
    ids = [j.pk for j in jobs]
    wait_until(lambda: statuses(ids)[JobStatus.COMPLETED] == 20)
    results = {j.pk: j.result for j in Job.objects.filter(pk__in=ids)}
    assert {r["value"] for r in results.values()} == set(range(20))
    assert JobAttempt.objects.filter(job_id__in=ids, outcome="completed").count() == 20


def test_cluster__retries_then_succeeds_and_runs_delayed_jobs(qcluster: Any) -> None:
    qcluster(workers=2)
    flaky = enqueue_job(type="test.flaky", payload={"succeed_on": 3})[0]
    delayed = enqueue_job(
        type="test.echo", payload={"value": 1}, scheduled_at=timezone.now() + timedelta(seconds=1)
    )[0]
    # Both need the dispatcher: retries and delayed jobs are handed off when due.
    wait_until(lambda: statuses([flaky.pk, delayed.pk])[JobStatus.COMPLETED] == 2, timeout=20)
    flaky.refresh_from_db()
    delayed.refresh_from_db()
    assert flaky.attempts == 3 and flaky.result == {"succeeded_on": 3}
    assert delayed.started_at is not None and delayed.started_at >= delayed.scheduled_at


def test_cluster__sigkill_mid_flight_then_restart_completes_every_job_once(
    qcluster: Any, ledger: Any
) -> None:
    first = qcluster(workers=4)
    ids = enqueue_jobs_bulk(
        jobs=[JobSpec(type="test.ledger", payload={"sleep": 0.3}) for _ in range(50)]
    )
    wait_until(lambda: Job.objects.filter(pk__in=ids, status=JobStatus.RUNNING).count() >= 3)
    first.kill()
    running_at_kill = Job.objects.filter(pk__in=ids, status=JobStatus.RUNNING).count()
    assert running_at_kill >= 1
    assert statuses(ids)[JobStatus.COMPLETED] < 50

    qcluster(workers=4)
    wait_until(lambda: statuses(ids)[JobStatus.COMPLETED] == 50, timeout=90)
    effects = ledger()
    assert len(effects) == 50 and {row[0] for row in effects} == set(ids)
    assert JobAttempt.objects.filter(job_id__in=ids, outcome="lost").count() >= running_at_kill


def test_cluster__job_that_kills_its_worker_fails_after_max_attempts(qcluster: Any) -> None:
    cluster = qcluster(workers=1)
    job = enqueue_job(type="test.exit", payload={})[0]
    wait_until(lambda: Job.objects.get(pk=job.pk).status == JobStatus.FAILED, timeout=60)
    job.refresh_from_db()
    assert job.attempts == 2 == job.max_attempts
    assert list(JobAttempt.objects.filter(job=job).values_list("outcome", flat=True)) == [
        "lost",
        "lost",
    ]
    time.sleep(2)  # it stays failed: no endless loop of restarts
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempts == 2
    assert cluster.proc.poll() is None  # the cluster survived its dying workers


def test_cluster__same_job_delivered_twice_runs_once(qcluster: Any, ledger: Any) -> None:
    job = enqueue_job(type="test.ledger", payload={"sleep": 0.5})[0]
    hand_off([str(job.pk)] * 3)  # duplicate deliveries on top of enqueue's own
    qcluster(workers=3)
    wait_until(lambda: Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED)
    time.sleep(1)
    assert len(ledger("test_job_runs")) == 1
    assert JobAttempt.objects.filter(job=job).count() == 1


def test_cluster__two_clusters_drain_1000_jobs_without_duplicates(
    qcluster: Any, ledger: Any
) -> None:
    qcluster(workers=2)
    qcluster(workers=2)
    ids = enqueue_jobs_bulk(jobs=[JobSpec(type="test.ledger") for _ in range(1000)])
    wait_until(lambda: statuses(ids)[JobStatus.COMPLETED] == 1000, timeout=180, interval=0.5)
    runs = ledger("test_job_runs")
    assert len(runs) == 1000
    assert len({r[0] for r in runs}) == 1000
    assert len({r[2] for r in runs}) >= 2  # the work really was spread over processes


def test_cluster__cancel_running_job(qcluster: Any) -> None:
    qcluster(workers=1)
    job = enqueue_job(type="test.cancellable", payload={"steps": 400})[0]
    wait_until(lambda: (Job.objects.get(pk=job.pk).progress or {}).get("phase") == "working")
    assert job_cancel(job_ids=[job.pk], actor=None, reason="test") == (0, 1)
    wait_until(lambda: Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED, timeout=15)
    assert JobAttempt.objects.get(job=job).outcome == "cancelled"


def test_cluster__heartbeat_keeps_a_job_longer_than_its_lease(qcluster: Any) -> None:
    qcluster(workers=1)  # leases of 3 s, rescue every 0.5 s (see the fixture)
    job = enqueue_job(type="test.long", payload={"sleep": 7})[0]
    wait_until(lambda: Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED, timeout=30)
    job.refresh_from_db()
    assert job.attempts == 1 and job.result == {"slept": 7}
    assert list(JobAttempt.objects.filter(job=job).values_list("outcome", flat=True)) == [
        "completed"
    ]


def test_cluster__timeout_stops_the_handler(qcluster: Any) -> None:
    qcluster(workers=1)
    job = enqueue_job(type="test.slow", payload={"sleep": 30})[0]
    wait_until(lambda: Job.objects.get(pk=job.pk).status == JobStatus.FAILED, timeout=20)
    assert JobAttempt.objects.get(job=job).outcome == "timeout"
    # The worker survived the timeout and takes the next job.
    follow_up = enqueue_job(type="test.echo", payload={"value": 3})[0]
    wait_until(lambda: Job.objects.get(pk=follow_up.pk).status == JobStatus.COMPLETED)
