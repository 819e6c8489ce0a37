"""Executing jobs in-process: lifecycle, retries, failures, fencing, cancellation, rescue."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from jobs import engine, execution
from jobs.models import AttemptOutcome, Job, JobAttempt, JobStatus
from jobs.registry import retry_delay
from jobs.services import enqueue_job, job_cancel
from jobs.worker import execute_job

pytestmark = pytest.mark.django_db(transaction=True)


def run(job: Job) -> Job:
    execute_job(str(job.pk))
    job.refresh_from_db()
    return job


def make_due(job: Job) -> None:
    Job.objects.filter(pk=job.pk).update(scheduled_at=timezone.now() - timedelta(seconds=1))


def outcomes(job: Job) -> list[str | None]:
    return list(
        JobAttempt.objects.filter(job=job).order_by("number").values_list("outcome", flat=True)
    )


def test_execute__completes_with_result_and_attempt() -> None:
    job = enqueue_job(type="test.echo", payload={"value": 7})[0]
    job = run(job)
    assert job.status == JobStatus.COMPLETED
    assert job.result == {"value": 7, "attempt": 1}
    assert job.attempts == 1 and job.completed_at and job.started_at
    assert job.worker == "" and job.lease_expires_at is None
    attempt = JobAttempt.objects.get(job=job)
    assert attempt.outcome == AttemptOutcome.COMPLETED and attempt.finished_at and attempt.worker


def test_execute__retry_then_success() -> None:
    job = enqueue_job(type="test.flaky", payload={"succeed_on": 2})[0]
    job = run(job)
    assert job.status == JobStatus.PENDING and job.attempts == 1
    assert "transient failure on attempt 1" in job.last_error
    assert job.scheduled_at > timezone.now() - timedelta(seconds=1)
    make_due(job)
    job = run(job)
    assert job.status == JobStatus.COMPLETED and job.result == {"succeeded_on": 2}
    assert outcomes(job) == ["error", "completed"]
    assert "RuntimeError" in JobAttempt.objects.get(job=job, number=1).traceback


def test_execute__last_attempt_fails() -> None:
    job = enqueue_job(type="test.flaky", payload={"succeed_on": 99}, max_attempts=2)[0]
    run(job)
    make_due(job)
    job = run(job)
    assert job.status == JobStatus.FAILED and job.attempts == 2
    assert outcomes(job) == ["error", "error"]


def test_execute__permanent_error_fails_at_once() -> None:
    job = run(enqueue_job(type="test.permanent", payload={})[0])
    assert job.status == JobStatus.FAILED and job.attempts == 1
    assert job.last_error == "PermanentJobError: project is gone"


def test_execute__payload_invalid_at_execution_fails_permanently() -> None:
    job = enqueue_job(type="test.echo", payload={"value": 1})[0]
    Job.objects.filter(pk=job.pk).update(payload={"value": -5})
    job = run(job)
    assert job.status == JobStatus.FAILED
    assert "payload.value" in job.last_error


def test_execute__secrets_scrubbed_from_error_and_traceback(settings: Any) -> None:
    job = run(enqueue_job(type="test.secret_error", payload={})[0])
    attempt = JobAttempt.objects.get(job=job)
    for text in (job.last_error, attempt.error, attempt.traceback):
        assert "canary-tenant-pw-91f3" not in text
        assert "[redacted]" in text


def test_execute__timeout_recorded() -> None:
    job = run(enqueue_job(type="test.slow", payload={"sleep": 5})[0])
    assert job.status == JobStatus.FAILED
    assert job.last_error == "Timed out after 1 s."
    assert outcomes(job) == ["timeout"]


def test_execute__not_due_or_not_pending_does_nothing() -> None:
    later = enqueue_job(
        type="test.echo", payload={"value": 1}, scheduled_at=timezone.now() + timedelta(hours=1)
    )[0]
    assert run(later).status == JobStatus.PENDING and later.attempts == 0
    done = run(enqueue_job(type="test.echo", payload={"value": 2})[0])
    execute_job(str(done.pk))  # a second delivery of a finished job
    done.refresh_from_db()
    assert done.attempts == 1 and JobAttempt.objects.filter(job=done).count() == 1
    execute_job(str(uuid.uuid4()))  # a delivery for a pruned job


def test_claim__only_one_of_two_deliveries_wins() -> None:
    job = enqueue_job(type="test.echo", payload={"value": 1})[0]
    first = execution.job_claim(job_id=job.pk, worker="a")
    second = execution.job_claim(job_id=job.pk, worker="b")
    assert first is not None and second is None


def test_outcome__fenced_on_attempt_number() -> None:
    """A zombie finishing attempt 1 after a rescue and a new claim changes nothing."""
    job = enqueue_job(type="test.echo", payload={"value": 1}, max_attempts=3)[0]
    zombie = execution.job_claim(job_id=job.pk, worker="zombie")
    assert zombie is not None
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert execution.jobs_rescue_lost(retry_delay=retry_delay) == 1
    make_due(job)
    fresh = execution.job_claim(job_id=job.pk, worker="fresh")
    assert fresh is not None and fresh.attempt == 2
    assert execution.job_complete(job_id=job.pk, attempt=1, result={"zombie": True}) is False
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.attempts == 2 and job.result is None
    assert execution.job_complete(job_id=job.pk, attempt=2, result={"fresh": True}) is True
    job.refresh_from_db()
    assert job.result == {"fresh": True}
    assert outcomes(job) == ["lost", "completed"]


def test_rescue__last_attempt_fails_the_job() -> None:
    job = enqueue_job(type="test.echo", payload={"value": 1}, max_attempts=1)[0]
    execution.job_claim(job_id=job.pk, worker="w")
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    execution.jobs_rescue_lost(retry_delay=retry_delay)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "Worker lost" in job.last_error
    assert outcomes(job) == ["lost"]


def test_rescue__live_lease_left_alone() -> None:
    job = enqueue_job(type="test.echo", payload={"value": 1})[0]
    execution.job_claim(job_id=job.pk, worker="w")
    assert execution.jobs_rescue_lost(retry_delay=retry_delay) == 0
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING


def test_enqueue__unknown_type_and_bad_payload_name_the_field() -> None:
    with pytest.raises(ValidationError) as unknown:
        enqueue_job(type="nope", payload={})[0]
    assert "type" in unknown.value.message_dict
    with pytest.raises(ValidationError) as bad:
        enqueue_job(type="test.echo", payload={"value": "x"})[0]
    assert list(bad.value.message_dict) == ["payload.value"]
    assert not Job.objects.exists()


def test_enqueue__rolled_back_transaction_leaves_nothing() -> None:
    def caller() -> None:
        with transaction.atomic():
            enqueue_job(type="test.echo", payload={"value": 1})[0]
            raise RuntimeError("caller failed after enqueueing")

    with pytest.raises(RuntimeError):
        caller()
    assert not Job.objects.exists()
    # Nor is anything left on the engine's queue for a worker to pick up.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {engine.QUEUE_TABLE}")  # noqa: S608
        assert cursor.fetchone()[0] == 0


def test_enqueue__idempotency_key_returns_the_same_job(project: Any) -> None:
    a = enqueue_job(type="test.echo", payload={"value": 1}, project=project, idempotency_key="k1")[
        0
    ]
    b = enqueue_job(type="test.echo", payload={"value": 1}, project=project, idempotency_key="k1")[
        0
    ]
    c = enqueue_job(type="test.echo", payload={"value": 1}, project=project, idempotency_key="k2")[
        0
    ]
    assert a.pk == b.pk != c.pk


def test_cancel__pending_now_running_on_request() -> None:
    pending = enqueue_job(type="test.echo", payload={"value": 1})[0]
    running = enqueue_job(type="test.cancellable", payload={"steps": 3})[0]
    execution.job_claim(job_id=running.pk, worker="w")
    assert job_cancel(job_ids=[pending.pk, running.pk], actor=None, reason="ops") == (1, 1)
    pending.refresh_from_db()
    running.refresh_from_db()
    assert pending.status == JobStatus.CANCELLED and pending.completed_at
    assert running.status == JobStatus.RUNNING and running.cancel_requested_at
    execute_job(str(pending.pk))
    pending.refresh_from_db()
    assert pending.attempts == 0  # a cancelled job never runs
