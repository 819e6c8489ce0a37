"""A real qcluster's life cycle: stop on SIGTERM to its process group, wait for the database."""

from __future__ import annotations

import subprocess
from typing import Any

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from jobs.models import AttemptOutcome, Job, JobAttempt, JobStatus
from jobs.services import enqueue_job
from tests.jobs.conftest import test_database_url as database_url
from tests.jobs.conftest import wait_until

pytestmark = pytest.mark.e2e
GRACE = 10


def ready(cluster: Any) -> None:
    """Wait until the cluster runs jobs (a no-op job completes)."""
    job, _ = enqueue_job(type="test.echo", payload={"value": 0})
    wait_until(lambda: Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED)


def exits_within(cluster: Any, seconds: float) -> int:
    try:
        return cluster.proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pytest.fail(f"qcluster still running {seconds} s after SIGTERM:\n{cluster.output()}")


def test_sigterm_to_the_group__an_idle_cluster_exits_within_the_grace(qcluster: Any) -> None:
    cluster = qcluster(workers=2, JOBS_STOP_GRACE=str(GRACE))
    ready(cluster)
    cluster.terminate_group()
    assert exits_within(cluster, GRACE) == 0
    wait_until(lambda: not cluster.group_alive(), timeout=5)  # no worker left behind


def test_sigterm_to_the_group__running_jobs_finish_first(qcluster: Any) -> None:
    cluster = qcluster(workers=2, JOBS_STOP_GRACE=str(GRACE))
    ready(cluster)
    jobs = [enqueue_job(type="test.long", payload={"sleep": 2})[0] for _ in range(2)]
    ids = [j.pk for j in jobs]
    wait_until(lambda: Job.objects.filter(pk__in=ids, status=JobStatus.RUNNING).count() == 2)
    cluster.terminate_group()
    assert exits_within(cluster, GRACE) == 0
    assert set(Job.objects.filter(pk__in=ids).values_list("status", "attempts")) == {
        (JobStatus.COMPLETED, 1)
    }
    wait_until(lambda: not cluster.group_alive(), timeout=5)


def test_sigterm_to_the_group__queued_jobs_wait_for_the_next_cluster(qcluster: Any) -> None:
    cluster = qcluster(workers=1, JOBS_STOP_GRACE=str(GRACE))
    ready(cluster)
    jobs = [enqueue_job(type="test.long", payload={"sleep": 2})[0] for _ in range(4)]
    ids = [j.pk for j in jobs]
    wait_until(lambda: Job.objects.filter(pk__in=ids, status=JobStatus.RUNNING).count() == 1)
    cluster.terminate_group()
    assert exits_within(cluster, GRACE) == 0  # the running job only: not all four in turn
    done = Job.objects.filter(pk__in=ids, status=JobStatus.COMPLETED).count()
    waiting = Job.objects.filter(pk__in=ids, status=JobStatus.PENDING, attempts=0).count()
    assert done >= 1 and done + waiting == 4 and waiting >= 2

    qcluster(workers=2)  # nothing was lost: the next cluster runs the rest
    wait_until(lambda: Job.objects.filter(pk__in=ids, status=JobStatus.COMPLETED).count() == 4)


def test_sigterm_past_the_grace__running_job_goes_back_to_pending(qcluster: Any) -> None:
    cluster = qcluster(workers=1, JOBS_STOP_GRACE="3")
    ready(cluster)
    job, _ = enqueue_job(type="test.long", payload={"sleep": 30})
    wait_until(lambda: Job.objects.get(pk=job.pk).status == JobStatus.RUNNING)
    cluster.terminate_group()
    assert exits_within(cluster, 3 + 10) == 1  # stopped late: says so
    job.refresh_from_db()
    assert (job.status, job.attempts, job.worker) == (JobStatus.PENDING, 1, "")
    (attempt,) = JobAttempt.objects.filter(job=job)
    assert attempt.outcome == AttemptOutcome.LOST and "cluster stopped" in attempt.error
    wait_until(lambda: not cluster.group_alive(), timeout=5)

    qcluster(workers=1)  # the next cluster runs it again
    wait_until(lambda: Job.objects.get(pk=job.pk).attempts == 2, timeout=20)


def set_connections(allowed: bool) -> None:
    """Let new connections into the test database, or refuse them (the open ones stay)."""
    name = connection.settings_dict["NAME"]
    # Not from a session of that database: PostgreSQL refuses to lock out the current one.
    other = database_url().rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(other, autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(name), sql.SQL("true" if allowed else "false")
            )
        )


def test_start_during_an_outage__works_once_the_database_is_back(qcluster: Any) -> None:
    set_connections(False)  # this session stays connected; new connections are refused
    try:
        cluster = qcluster(workers=1)
        # A line every few seconds, and still there after the second one: it waits.
        wait_until(lambda: cluster.output().count("Waiting for the database") >= 2, timeout=20)
        assert cluster.proc.poll() is None
    finally:
        set_connections(True)
    job, _ = enqueue_job(type="test.echo", payload={"value": 5})
    wait_until(lambda: Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED, timeout=30)
    assert "The database is reachable" in cluster.output()
