"""Pausing a job type: nothing handed off, nothing claimed, running jobs finish, resume runs."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from controlplane.models import AuditLog
from jobs import dispatcher, execution
from jobs.engine import QUEUE_TABLE, hand_off
from jobs.models import Job, JobStatus, PausedJobType
from jobs.services import enqueue_job, job_type_pause, job_type_resume
from jobs.worker import execute_job
from tests import factories
from tests.jobs.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_job_type_pause__dispatcher_skips_its_due_jobs() -> None:
    paused = enqueue_job(type="test.echo", payload={"value": 1})[0]
    other = enqueue_job(type="test.noop", payload={})[0]
    assert job_type_pause(type="test.echo", actor=None, reason="provider down") is True
    taken = execution.jobs_take_due(limit=10, skip_types=execution.paused_types())
    assert taken == [str(other.pk)]
    paused.refresh_from_db()
    assert paused.status == JobStatus.PENDING and paused.handed_off_at is None


def test_job_type_pause__a_handed_off_delivery_is_not_claimed() -> None:
    job = enqueue_job(type="test.echo", payload={"value": 1})[0]
    assert execution.jobs_take_due(limit=10) == [str(job.pk)]  # handed off before the pause
    job_type_pause(type="test.echo", actor=None)
    execute_job(str(job.pk))  # the delivery arrives: the claim's UPDATE must not take it
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING and job.attempts == 0
    assert not job.attempt_set.exists()


def test_job_type_pause__new_jobs_queue_up() -> None:
    job_type_pause(type="test.echo", actor=None)
    job, created = enqueue_job(type="test.echo", payload={"value": 2})
    assert created and job.status == JobStatus.PENDING


def test_job_type_resume__waiting_deliveries_are_handed_off_again() -> None:
    job = enqueue_job(type="test.echo", payload={"value": 1})[0]
    execution.jobs_take_due(limit=10)
    job_type_pause(type="test.echo", actor=None)
    execute_job(str(job.pk))  # dropped while paused
    assert job_type_resume(types=["test.echo"], actor=None) == 1
    assert not PausedJobType.objects.exists()
    assert dispatcher.dispatch_once() == 1
    execute_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED


def test_job_type_pause__audited_once_and_idempotent() -> None:
    user = factories.staff(username="op", perms=["jobs.pause_jobtype"])
    assert job_type_pause(type="test.echo", actor=user, reason="noisy") is True
    assert job_type_pause(type="test.echo", actor=user, reason="again") is False
    row = PausedJobType.objects.get()
    assert row.paused_by == user and row.reason == "noisy"
    assert job_type_resume(types=["test.echo", "test.noop"], actor=user, reason="fixed") == 1
    assert job_type_resume(types=["test.echo"], actor=user) == 0
    rows = list(AuditLog.objects.order_by("id").values_list("action", "target_id", "reason"))
    assert rows == [
        ("jobtype.pause", "test.echo", "noisy"),
        ("jobtype.resume", "test.echo", "fixed"),
    ]


def test_job_type_pause__unknown_type_is_rejected() -> None:
    with pytest.raises(ValidationError, match="Unknown job type"):
        job_type_pause(type="no.such.type", actor=None)
    assert not PausedJobType.objects.exists()


def queued_deliveries() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {QUEUE_TABLE}")  # noqa: S608 (django-q2's table)
        return int(cursor.fetchone()[0])


@pytest.mark.e2e
def test_job_type_pause__with_a_real_cluster_waits_finishes_running_and_resumes(
    qcluster: Any,
) -> None:
    qcluster(workers=2)
    running = enqueue_job(type="test.echo", payload={"value": 0, "sleep": 2})[0]
    wait_until(lambda: Job.objects.filter(pk=running.pk, status=JobStatus.RUNNING).exists())
    job_type_pause(type="test.echo", actor=None, reason="test")
    waiting = [enqueue_job(type="test.echo", payload={"value": i})[0] for i in range(1, 4)]
    ids = [j.pk for j in waiting]
    other = enqueue_job(type="test.noop", payload={})[0]
    # The running job finishes and another type still runs.
    wait_until(lambda: Job.objects.filter(pk=running.pk, status=JobStatus.COMPLETED).exists())
    wait_until(lambda: Job.objects.filter(pk=other.pk, status=JobStatus.COMPLETED).exists())
    assert not Job.objects.filter(pk__in=ids).exclude(handed_off_at=None).exists()
    # Deliveries that reach the workers anyway (handed off before the pause took effect)
    # are consumed without a claim: the jobs stay pending, no attempt made.
    hand_off([str(pk) for pk in ids])
    wait_until(lambda: queued_deliveries() == 0)
    assert set(Job.objects.filter(pk__in=ids).values_list("status", "attempts")) == {
        (JobStatus.PENDING, 0)
    }
    job_type_resume(types=["test.echo"], actor=None)
    wait_until(lambda: Job.objects.filter(pk__in=ids, status=JobStatus.COMPLETED).count() == 3)
