"""The backfill_month job run as a worker runs it: month outcomes become job outcomes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db.models.functions import Now

from backfill.models import BackfillLog, BackfillStatus, Book
from backfill.services import backfill_claim_months, backfill_months_retry_failed
from controlplane.models import AuditLog
from jobs.models import Job, JobAttempt, JobStatus
from jobs.services import enqueue_job, job_cancel, job_retry
from jobs.worker import execute_job
from tests.backfill import factories
from tests.backfill.fakes import (
    GEMINI_KEY,
    GEMINI_ROUTE,
    ISBNDB_KEY,
    ISBNDB_ROUTE,
    THREE_BOOKS,
    XAI_KEY,
    XAI_ROUTE,
    FakeServer,
    fake_server,
    gemini_answer,
    google_error,
    isbndb_catalogue,
    provider_settings,
)

pytestmark = pytest.mark.django_db(transaction=True)
PAYLOAD = {"year": 2024, "month": 3, "batch_size": 20, "prompt_variant": "contemporary-notable"}


@pytest.fixture
def server(settings: Any) -> Iterator[FakeServer]:
    with fake_server() as fake:
        fake.script(ISBNDB_ROUTE, isbndb_catalogue)
        for name, value in provider_settings(fake.url).items():
            setattr(settings, name, value)
        yield fake


def claim_march() -> Job:
    """Claim 2024-03 as the scheduler does; return the job it enqueued."""
    factories.month(2024, 3)
    (scheduled,) = backfill_claim_months(max_months=1).scheduled
    return Job.objects.get(pk=scheduled.job_id)


def run(job: Job) -> Job:
    execute_job(str(job.pk))
    job.refresh_from_db()
    return job


def march() -> BackfillLog:
    return BackfillLog.objects.get(year=2024, month=3)


def assert_no_keys(text: str) -> None:
    for key in (GEMINI_KEY, XAI_KEY, ISBNDB_KEY):
        assert key not in text


def test_job__completed_month_completes_the_job(server: FakeServer) -> None:
    server.script(GEMINI_ROUTE, gemini_answer(THREE_BOOKS))
    job = run(claim_march())
    assert job.status == JobStatus.COMPLETED and job.attempts == 1
    assert job.result["outcome"] == "completed"
    assert (job.result["books_generated"], job.result["isbns_resolved"]) == (3, 2)
    row = march()
    assert (row.status, row.books_generated, row.isbns_resolved) == (BackfillStatus.COMPLETED, 3, 2)
    assert (row.gemini_calls, row.xai_calls, row.isbndb_calls) == (1, 0, 3)
    assert set(Book.objects.values_list("year", "month", "source")) == {(2024, 3, "gemini")}


def due(job: Job) -> Job:
    """Make a retrying job due now (instead of after its backoff)."""
    Job.objects.filter(pk=job.pk).update(scheduled_at=Now())
    return job


def agree(job: Job, status: BackfillStatus, retry_count: int) -> None:
    row = march()
    assert (row.status, row.retry_count, row.last_job_id) == (status, retry_count, job.pk)


def failing(server: FakeServer) -> None:
    server.script(GEMINI_ROUTE, google_error(503, "UNAVAILABLE", f"overloaded {GEMINI_KEY}"))
    server.script(XAI_ROUTE, (500, {"error": {"message": f"boom key={XAI_KEY}"}}))


def test_job__a_failed_attempt_is_retried_by_the_job_then_completes(server: FakeServer) -> None:
    failing(server)
    job = run(claim_march())
    assert job.status == JobStatus.PENDING and (job.attempts, job.max_attempts) == (1, 5)
    agree(job, BackfillStatus.RETRY, 1)
    assert "HTTP 500" in march().error_message
    (attempt,) = JobAttempt.objects.filter(job=job)
    for text in (job.last_error, attempt.error, attempt.traceback, march().error_message):
        assert_no_keys(text)
    # The month's job is active: never a scheduling candidate meanwhile.
    assert backfill_claim_months(max_months=1).candidates == []

    server.script(GEMINI_ROUTE, gemini_answer(THREE_BOOKS))
    job = run(due(job))
    assert (job.status, job.attempts) == (JobStatus.COMPLETED, 2)
    agree(job, BackfillStatus.COMPLETED, 1)


def test_job__five_failed_attempts_fail_month_and_job_then_a_retry_starts_afresh(
    server: FakeServer, staff_user: Any
) -> None:
    failing(server)
    job = claim_march()
    for attempt in range(1, 6):
        job = run(due(job))
        assert job.attempts == attempt
        agree(job, BackfillStatus.RETRY if attempt < 5 else BackfillStatus.FAILED, attempt)
    assert job.status == JobStatus.FAILED

    # Retrying the job (the Jobs console's action) is retrying the month.
    assert job_retry(job_ids=[job.pk], actor=staff_user) == 1
    job.refresh_from_db()
    assert (job.status, job.max_attempts) == (JobStatus.PENDING, 10)
    agree(job, BackfillStatus.PENDING, 0)
    job = run(job)
    assert job.status == JobStatus.PENDING
    agree(job, BackfillStatus.RETRY, 1)  # the fresh budget's first failure
    server.script(GEMINI_ROUTE, gemini_answer(THREE_BOOKS))
    job = run(due(job))
    assert job.status == JobStatus.COMPLETED and job.result["outcome"] == "completed"
    agree(job, BackfillStatus.COMPLETED, 1)


def test_month_retry__is_the_jobs_retry(server: FakeServer, staff_user: Any) -> None:
    server.script(GEMINI_ROUTE, gemini_answer(THREE_BOOKS))
    job = claim_march()
    Job.objects.filter(pk=job.pk).update(max_attempts=1)  # fail it at the first attempt
    failing(server)
    job = run(job)
    agree(job, BackfillStatus.FAILED, 1)
    assert backfill_months_retry_failed(log_ids=[march().pk], actor=staff_user) == 1
    job.refresh_from_db()
    assert (job.status, job.max_attempts) == (JobStatus.PENDING, 1 + 5)
    agree(job, BackfillStatus.PENDING, 0)
    assert AuditLog.objects.filter(action="job.retry", target_id=str(job.pk)).exists()
    assert Job.objects.filter(type="backfill_month").count() == 1


def test_job__quota_deferral_is_a_completed_job(server: FakeServer) -> None:
    server.script(GEMINI_ROUTE, google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded"))
    server.script(XAI_ROUTE, (429, {"error": {"message": "rate limit"}}))
    job = run(claim_march())
    assert job.status == JobStatus.COMPLETED and job.last_error == ""
    assert job.result["deferred"] == "quota" and job.result["outcome"] == "deferred"
    row = march()
    assert (row.status, row.retry_count, row.completed_at) == (BackfillStatus.PENDING, 0, None)
    assert (row.gemini_calls, row.xai_calls) == (1, 1)


def test_job__duplicate_delivery_and_stale_job_do_nothing(server: FakeServer) -> None:
    server.script(GEMINI_ROUTE, gemini_answer(THREE_BOOKS))
    job = claim_march()
    stale = factories.month_job(2024, 3)  # e.g. left over from an earlier claim of the month
    run(job)
    before = BackfillLog.objects.filter(year=2024, month=3).values().get()
    requests = len(server.requests)

    execute_job(str(job.pk))  # django-q2 delivering the same task again
    stale = run(stale)
    assert stale.status == JobStatus.COMPLETED
    assert stale.result == {"outcome": "skipped", "status": "completed"}
    assert JobAttempt.objects.filter(job=job).count() == 1
    assert BackfillLog.objects.filter(year=2024, month=3).values().get() == before
    assert len(server.requests) == requests


def test_job__malformed_payload_is_refused_then_fails_without_retry() -> None:
    with pytest.raises(ValidationError):
        enqueue_job(type="backfill_month", payload={**PAYLOAD, "month": 13})[0]
    with pytest.raises(ValidationError):
        enqueue_job(type="backfill_month", payload={"year": 2024, "month": 3})[0]
    assert not Job.objects.exists()

    # A row that bypassed enqueue (written by hand) fails on its first attempt.
    job = Job.objects.create(type="backfill_month", payload={**PAYLOAD, "prompt_variant": "weird"})
    job = run(job)
    assert job.status == JobStatus.FAILED and job.attempts == 1
    assert "prompt_variant" in job.last_error


def test_claim__writes_a_month_from_its_job_that_ended_without_finishing_it(
    server: FakeServer, staff_user: Any
) -> None:
    job = claim_march()
    job_cancel(job_ids=[job.pk], actor=staff_user, reason="stuck")
    assert march().status == BackfillStatus.PROCESSING  # nobody ran the month

    # A dry run never recovers anything.
    backfill_claim_months(max_months=1, dry_run=True)
    assert march().status == BackfillStatus.PROCESSING
    assert backfill_claim_months(max_months=1).scheduled == []  # failed: not a candidate
    row = march()
    assert (row.status, row.retry_count) == (BackfillStatus.FAILED, 0)
    assert f"Job {job.pk} is cancelled" in row.error_message

    # A lost attempt (the job pending again after a rescue) shows as a retry.
    server.script(GEMINI_ROUTE, gemini_answer(THREE_BOOKS))
    assert backfill_months_retry_failed(log_ids=[row.pk], actor=staff_user) == 1
    Job.objects.filter(pk=job.pk).update(attempts=1)  # as if attempt 1 had been lost
    BackfillLog.objects.filter(pk=row.pk).update(status=BackfillStatus.PROCESSING)
    assert backfill_claim_months(max_months=1).scheduled == []  # its job is active
    assert (march().status, march().retry_count) == (BackfillStatus.RETRY, 1)
