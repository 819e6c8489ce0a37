"""Seeding, claiming months (order, ranges, dry run, enqueue failure, SKIP LOCKED), resets."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from backfill.models import BackfillLog, BackfillStatus, PromptVariant
from backfill.services import (
    _enqueue_backfill_months,
    backfill_claim_months,
    backfill_months_reset_pending,
    backfill_months_retry_failed,
    backfill_seed,
)
from controlplane.models import AuditLog
from jobs.models import Job, JobStatus
from tests.backfill import factories

pytestmark = pytest.mark.django_db


class RecordingEnqueue:
    """The real enqueue, recording the months handed to it (or failing as told, before it)."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.calls: list[tuple[int, int, int, str, str]] = []
        self.fail_with = fail_with
        self.lock = threading.Lock()

    def __call__(self, logs: Sequence[BackfillLog]) -> list[uuid.UUID]:
        with self.lock:
            self.calls.extend(
                (log.year, log.month, log.batch_size, log.prompt_variant, log.status)
                for log in logs
            )
        if self.fail_with is not None:
            raise self.fail_with
        return _enqueue_backfill_months(logs)


def months_of(result: Any) -> list[tuple[int, int]]:
    return [(s.year, s.month) for s in result.scheduled]


# --- seed -------------------------------------------------------------------------------------


def test_seed__twice_gives_300_rows_and_reports_existing() -> None:
    first = backfill_seed()
    second = backfill_seed()
    assert (first.inserted, first.existing) == (300, 0)
    assert (second.inserted, second.existing) == (0, 300)
    assert BackfillLog.objects.count() == 300
    assert set(BackfillLog.objects.values_list("status", "batch_size", "retry_count")) == {
        ("pending", 20, 0)
    }


def test_seed__prompt_variant_by_year(seeded: Any) -> None:
    variants = dict(BackfillLog.objects.filter(month=1).values_list("year", "prompt_variant"))
    assert variants[2019] == PromptVariant.BASELINE and variants[2000] == PromptVariant.BASELINE
    assert variants[2020] == PromptVariant.CONTEMPORARY_NOTABLE
    assert variants[2024] == PromptVariant.CONTEMPORARY_NOTABLE
    row = BackfillLog.objects.get(year=2024, month=12)
    assert (row.resolution_rate, row.completed_at) == (0.0, None)


def test_seed__keeps_rows_already_in_progress() -> None:
    factories.month(2024, 12, status=BackfillStatus.COMPLETED, books_generated=3)
    result = backfill_seed()
    assert (result.inserted, result.existing) == (299, 1)
    assert BackfillLog.objects.get(year=2024, month=12).status == BackfillStatus.COMPLETED


# --- claim: order, ranges, dry run ------------------------------------------------------------


def test_claim__newest_first_and_marks_processing(seeded: Any) -> None:
    enqueue = RecordingEnqueue()
    result = backfill_claim_months(max_months=3, batch_size=7, enqueue=enqueue)
    assert months_of(result) == [(2024, 12), (2024, 11), (2024, 10)]
    assert [c["status"] for c in result.candidates] == ["pending"] * 3
    assert enqueue.calls[0] == (2024, 12, 7, "contemporary-notable", "processing")
    rows = BackfillLog.objects.filter(status=BackfillStatus.PROCESSING).order_by("-month")
    assert [(r.month, r.batch_size) for r in rows] == [(12, 7), (11, 7), (10, 7)]
    assert all(r.started_at is not None for r in rows)
    assert {r.last_job_id for r in rows} == {s.job_id for s in result.scheduled}


def test_claim__year_range_bounds_and_order(seeded: Any) -> None:
    result = backfill_claim_months(
        max_months=30, year_range=(2003, 2004), enqueue=RecordingEnqueue()
    )
    got = months_of(result)
    assert len(got) == 24
    assert got[0] == (2004, 12) and got[11] == (2004, 1) and got[12] == (2003, 12)
    assert got[-1] == (2003, 1)
    assert got == sorted(got, reverse=True)


def test_claim__skips_completed_processing_and_failed(db: None) -> None:
    factories.month(2024, 12, status=BackfillStatus.COMPLETED)
    factories.month(2024, 11, status=BackfillStatus.PROCESSING)
    factories.month(2024, 10, status=BackfillStatus.FAILED, retry_count=5)
    factories.month(2024, 9, status=BackfillStatus.RETRY, retry_count=2)
    factories.month(2024, 8)
    result = backfill_claim_months(max_months=10, enqueue=RecordingEnqueue())
    assert months_of(result) == [(2024, 9), (2024, 8)]
    assert [c["status"] for c in result.candidates] == ["retry", "pending"]
    assert BackfillLog.objects.get(month=9).last_retry_at is not None
    assert BackfillLog.objects.get(month=8).last_retry_at is None


def test_claim__dry_run_writes_nothing(seeded: Any) -> None:
    before = list(BackfillLog.objects.order_by("pk").values())
    enqueue = RecordingEnqueue()
    result = backfill_claim_months(max_months=5, dry_run=True, enqueue=enqueue)
    assert result.dry_run is True and result.scheduled == []
    assert [(c["year"], c["month"], c["status"]) for c in result.candidates] == [
        (2024, m, "pending") for m in (12, 11, 10, 9, 8)
    ]
    assert enqueue.calls == []
    assert list(BackfillLog.objects.order_by("pk").values()) == before


def test_claim__validates_arguments(db: None) -> None:
    with pytest.raises(ValidationError):
        backfill_claim_months(batch_size=51, dry_run=True)
    with pytest.raises(ValidationError):
        backfill_claim_months(batch_size=0, dry_run=True)
    with pytest.raises(ValidationError):
        backfill_claim_months(max_months=0, dry_run=True)
    with pytest.raises(ValidationError):
        backfill_claim_months(year_range=(1500, 2005), dry_run=True)


def test_claim__year_range_in_either_order_is_the_same_range(seeded: Any) -> None:
    forward = backfill_claim_months(max_months=30, year_range=(2003, 2004), dry_run=True)
    backward = backfill_claim_months(max_months=30, year_range=(2004, 2003), dry_run=True)
    assert backward.candidates == forward.candidates and len(forward.candidates) == 24


def test_claim__enqueues_one_backfill_month_job_per_month(seeded: Any) -> None:
    result = backfill_claim_months(max_months=2, batch_size=9, year_range=(2019, 2020))
    assert months_of(result) == [(2020, 12), (2020, 11)]
    jobs = {job.pk: job for job in Job.objects.all()}
    assert set(jobs) == {s.job_id for s in result.scheduled}
    payloads = sorted(job.payload["month"] for job in jobs.values())
    assert payloads == [11, 12]
    (december,) = [job for job in jobs.values() if job.payload["month"] == 12]
    assert december.type == "backfill_month" and december.status == JobStatus.PENDING
    assert december.payload == {
        "year": 2020,
        "month": 12,
        "batch_size": 9,
        "prompt_variant": "contemporary-notable",
    }
    assert december.max_attempts == 1
    row = BackfillLog.objects.get(year=2020, month=12)
    assert row.last_job_id == december.pk


# --- enqueue failures, retry budget, force_retry ------------------------------------------------


def test_claim__enqueue_failure_counts_a_retry_and_stores_the_error(seeded: Any) -> None:
    enqueue = RecordingEnqueue(fail_with=RuntimeError("queue unavailable"))
    result = backfill_claim_months(max_months=2, enqueue=enqueue)
    assert result.scheduled == [] and len(result.candidates) == 2
    row = BackfillLog.objects.get(year=2024, month=12)
    assert (row.status, row.retry_count) == (BackfillStatus.RETRY, 1)
    assert row.error_message == "RuntimeError: queue unavailable"
    assert row.last_job_id is None


def test_claim__enqueue_failing_midway_leaves_no_job_behind(seeded: Any) -> None:
    def enqueue_then_fail(logs: Sequence[BackfillLog]) -> list[uuid.UUID]:
        _enqueue_backfill_months(logs)
        raise RuntimeError("hand-off failed after the insert")

    result = backfill_claim_months(max_months=3, enqueue=enqueue_then_fail)
    assert result.scheduled == [] and not Job.objects.exists()
    failed = BackfillLog.objects.filter(status=BackfillStatus.RETRY)
    assert set(failed.values_list("year", "month", "retry_count", "last_job_id")) == {
        (2024, 12, 1, None),
        (2024, 11, 1, None),
        (2024, 10, 1, None),
    }


def test_claim__fifth_failure_fails_the_month_and_excludes_it(db: None) -> None:
    factories.month(2024, 12)
    factories.month(2024, 11)
    failing = RecordingEnqueue(fail_with=RuntimeError("down"))
    statuses = []
    for _ in range(5):
        backfill_claim_months(max_months=1, year_range=(2024, 2024), enqueue=failing)
        row = BackfillLog.objects.get(month=12)
        statuses.append((row.status, row.retry_count))
    assert statuses == [("retry", 1), ("retry", 2), ("retry", 3), ("retry", 4), ("failed", 5)]

    ok = RecordingEnqueue()
    result = backfill_claim_months(max_months=5, enqueue=ok)
    assert months_of(result) == [(2024, 11)]  # the failed month is not a candidate any more

    forced = backfill_claim_months(max_months=5, force_retry=True, dry_run=True)
    assert [(c["month"], c["status"]) for c in forced.candidates] == [(12, "failed")]


def test_claim__force_retry_reclaims_failed_and_clears_completed_at(db: None) -> None:
    from django.utils import timezone

    factories.month(2024, 5, status=BackfillStatus.FAILED, retry_count=5)
    BackfillLog.objects.filter(month=5).update(completed_at=timezone.now())
    result = backfill_claim_months(max_months=1, force_retry=True, enqueue=RecordingEnqueue())
    assert months_of(result) == [(2024, 5)]
    row = BackfillLog.objects.get(month=5)
    assert row.status == BackfillStatus.PROCESSING
    assert row.completed_at is None and row.last_retry_at is not None

    # Failing again keeps the retry count within its bound and the month failed.
    failing = RecordingEnqueue(fail_with=RuntimeError("x"))
    BackfillLog.objects.filter(month=5).update(status=BackfillStatus.FAILED)
    backfill_claim_months(max_months=1, force_retry=True, enqueue=failing)
    row.refresh_from_db()
    assert (row.status, row.retry_count) == (BackfillStatus.FAILED, 5)


# --- concurrency -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_claim__ten_concurrent_schedulers_never_claim_a_month_twice() -> None:
    backfill_seed()
    enqueue = RecordingEnqueue()
    barrier = threading.Barrier(10)
    results: list[Any] = []
    errors: list[BaseException] = []

    def scheduler() -> None:
        try:
            barrier.wait()
            results.append(backfill_claim_months(max_months=40, enqueue=enqueue))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    claimed = [m for result in results for m in months_of(result)]
    assert len(claimed) == len(set(claimed)) == 300
    assert len(enqueue.calls) == 300
    assert Job.objects.filter(type="backfill_month").count() == 300
    assert BackfillLog.objects.filter(status=BackfillStatus.PROCESSING).count() == 300


# --- staff actions -----------------------------------------------------------------------------


def test_retry_failed__only_failed_months_back_to_pending(staff_user: Any) -> None:
    failed = factories.month(2024, 1, status=BackfillStatus.FAILED, retry_count=5)
    done = factories.month(2024, 2, status=BackfillStatus.COMPLETED)
    changed = backfill_months_retry_failed(log_ids=[failed.pk, done.pk], actor=staff_user)
    assert changed == 1
    failed.refresh_from_db()
    done.refresh_from_db()
    assert (failed.status, failed.retry_count) == (BackfillStatus.PENDING, 0)
    assert failed.last_retry_at is not None and done.status == BackfillStatus.COMPLETED
    audit = AuditLog.objects.get(action="backfill.retry_failed")
    assert (audit.target_id, audit.actor_label) == ("2024-01", "operator")


def test_reset_pending__leaves_processing_alone(db: None) -> None:
    rows = [
        factories.month(2024, 1, status=BackfillStatus.FAILED, retry_count=5, error_message="x"),
        factories.month(2024, 2, status=BackfillStatus.COMPLETED),
        factories.month(2024, 3, status=BackfillStatus.RETRY, retry_count=2),
        factories.month(2024, 4, status=BackfillStatus.PROCESSING),
    ]
    assert backfill_months_reset_pending(log_ids=[r.pk for r in rows]) == 3
    got = dict(BackfillLog.objects.values_list("month", "status"))
    assert got == {1: "pending", 2: "pending", 3: "pending", 4: "processing"}
    first = BackfillLog.objects.get(month=1)
    assert (first.retry_count, first.error_message, first.completed_at) == (0, "", None)
