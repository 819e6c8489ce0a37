"""The backfill_month consumer: completion, errors, quota deferral, duplicate/stale deliveries."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from backfill.consumer import backfill_month_process
from backfill.errors import ProviderNotConfigured, QuotaExhausted
from backfill.handlers import backfill_month_run
from backfill.models import MAX_RETRIES, BackfillLog, BackfillStatus
from backfill.protocol import MonthResult, ProviderUsage
from jobs.errors import PermanentJobError
from jobs.models import Job
from tests.backfill import factories

pytestmark = pytest.mark.django_db


class ScriptedProcessor:
    """A processor plug-in that makes calls and then returns or raises as told."""

    def __init__(self, *, result: MonthResult | None = None, error: Exception | None = None):
        self.result = result or MonthResult(books_generated=20, isbns_resolved=15)
        self.error = error
        self.runs: list[dict[str, Any]] = []

    def process(self, *, year, month, batch_size, prompt_variant, usage: ProviderUsage):
        self.runs.append({"year": year, "month": month, "batch_size": batch_size})
        usage.gemini_calls += 1
        usage.isbndb_calls += 3
        if self.error is not None:
            raise self.error
        return self.result


def processing(month: int = 3, **kw: Any) -> BackfillLog:
    return factories.month(2024, month, status=BackfillStatus.PROCESSING, **kw)


def run(processor: Any, month: int = 3, **kw: Any) -> dict[str, Any]:
    if "job_id" not in kw:
        log = BackfillLog.objects.filter(year=2024, month=month).first()
        kw["job_id"] = log.last_job_id if log and log.last_job_id else uuid.uuid4()
    return backfill_month_process(
        year=2024,
        month=month,
        batch_size=20,
        prompt_variant="contemporary-notable",
        processor=processor,
        **{"max_attempts": MAX_RETRIES, **kw},
    )


def test_process__happy_path_completes_with_counts() -> None:
    row = processing(gemini_calls=2, error_message="earlier failure")
    outcome = run(ScriptedProcessor())
    assert outcome["outcome"] == "completed" and outcome["isbns_resolved"] == 15
    row.refresh_from_db()
    assert row.status == BackfillStatus.COMPLETED and row.completed_at is not None
    assert (row.books_generated, row.isbns_resolved, row.resolution_rate) == (20, 15, 75.0)
    assert (row.gemini_calls, row.isbndb_calls, row.error_message) == (3, 3, "")


def test_process__error_is_a_retry_counted_from_the_attempt_and_raised() -> None:
    row = processing()
    with pytest.raises(RuntimeError, match="model said no"):
        run(ScriptedProcessor(error=RuntimeError("model said no")), attempt=2)
    row.refresh_from_db()
    assert (row.status, row.retry_count) == (BackfillStatus.RETRY, 2)
    assert row.error_message == "RuntimeError: model said no"
    assert (row.gemini_calls, row.isbndb_calls) == (1, 3)  # failed calls still count


def test_process__the_budgets_last_attempt_fails_the_month() -> None:
    row = processing()
    with pytest.raises(RuntimeError):
        run(ScriptedProcessor(error=RuntimeError("again")), attempt=5)
    row.refresh_from_db()
    assert (row.status, row.retry_count) == (BackfillStatus.FAILED, 5)


def test_process__a_fresh_budget_counts_from_zero() -> None:
    # A job retried by staff after 5 failed attempts: max_attempts 10, its 6th attempt.
    row = processing(retry_count=5)
    with pytest.raises(RuntimeError):
        run(ScriptedProcessor(error=RuntimeError("still down")), attempt=6, max_attempts=10)
    row.refresh_from_db()
    assert (row.status, row.retry_count) == (BackfillStatus.RETRY, 1)


def test_process__permanent_error_fails_at_once() -> None:
    row = processing()
    with pytest.raises(ProviderNotConfigured):
        run(ScriptedProcessor(error=ProviderNotConfigured("no provider configured")))
    row.refresh_from_db()
    assert (row.status, row.retry_count) == (BackfillStatus.FAILED, 1)
    assert "no provider configured" in row.error_message


def test_process__quota_exhausted_defers_without_counting_a_retry() -> None:
    row = processing(retry_count=2)
    outcome = run(ScriptedProcessor(error=QuotaExhausted("gemini", "daily quota used up")))
    assert outcome["deferred"] == "quota" and outcome["outcome"] == "deferred"
    row.refresh_from_db()
    assert (row.status, row.retry_count) == (BackfillStatus.PENDING, 0)
    assert row.gemini_calls == 1 and row.completed_at is None


def test_process__a_completed_month_is_not_run_again() -> None:
    job = factories.month_job(2024, 3)
    row = factories.month(
        2024, 3, status=BackfillStatus.COMPLETED, books_generated=4, isbns_resolved=1, last_job=job
    )
    before = BackfillLog.objects.filter(pk=row.pk).values().get()
    processor = ScriptedProcessor()
    outcome = run(processor, job_id=job.pk)
    assert outcome == {"outcome": "skipped", "status": "completed"}
    assert processor.runs == []
    assert BackfillLog.objects.filter(pk=row.pk).values().get() == before


def test_process__unknown_month_does_nothing() -> None:
    assert run(ScriptedProcessor(), month=7) == {"outcome": "skipped", "status": None}


def test_process__stale_job_does_nothing() -> None:
    current, stale = factories.month_job(2024, 3), factories.month_job(2024, 3)
    processing(last_job=current)
    processor = ScriptedProcessor()
    assert run(processor, job_id=stale.pk)["outcome"] == "skipped"
    assert processor.runs == []
    assert run(processor, job_id=current.pk)["outcome"] == "completed"


class ReclaimingProcessor(ScriptedProcessor):
    """A processor during whose run staff reset the month and a scheduler claimed it again."""

    def __init__(self, newer: Job, **kw: Any) -> None:
        super().__init__(**kw)
        self.newer = newer

    def process(self, **kw: Any) -> MonthResult:
        BackfillLog.objects.filter(year=2024, month=3).update(last_job=self.newer)
        return super().process(**kw)


@pytest.mark.parametrize("error", [None, QuotaExhausted("xai")], ids=str)
def test_process__outcome_of_a_superseded_job_is_dropped(error: Exception | None) -> None:
    first, second = factories.month_job(2024, 3), factories.month_job(2024, 3)
    row = processing(last_job=first, retry_count=1)
    outcome = run(ReclaimingProcessor(second, error=error), job_id=first.pk)
    assert outcome["outcome"] == "superseded"
    row.refresh_from_db()
    assert (row.status, row.retry_count, row.books_generated) == (BackfillStatus.PROCESSING, 0, 0)
    assert row.last_job_id == second.pk


def test_handler__validates_the_payload() -> None:
    row = processing()
    job_id = row.last_job_id
    assert job_id is not None
    with pytest.raises(ValueError, match="malformed"):
        backfill_month_run({"year": 2024, "month": 3}, job_id=job_id, processor=ScriptedProcessor())
    with pytest.raises(PermanentJobError, match="malformed"):
        backfill_month_run(
            {"year": 2024, "month": 3, "batch_size": 20, "prompt_variant": "weird"},
            job_id=job_id,
            processor=ScriptedProcessor(),
        )
    payload = {"year": 2024, "month": 3, "batch_size": 20, "prompt_variant": "contemporary-notable"}
    outcome = backfill_month_run(payload, job_id=job_id, processor=ScriptedProcessor())
    assert outcome["outcome"] == "completed"
