"""The stats rollup: triggers keep it equal to a full scan through every kind of write."""

from __future__ import annotations

import contextlib
import threading
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from backfill.consumer import backfill_month_process
from backfill.errors import QuotaExhausted
from backfill.models import MAX_RETRIES, BackfillLog, BackfillStatsDelta, BackfillStatus
from backfill.protocol import MonthResult, ProviderUsage
from backfill.rollup import backfill_stats_compact, backfill_stats_rebuild
from backfill.selectors import backfill_stats, backfill_stats_drift
from backfill.services import (
    backfill_claim_months,
    backfill_months_reset_pending,
    backfill_months_retry_failed,
    backfill_seed,
)
from tests.backfill import factories

pytestmark = pytest.mark.django_db


class Processor:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def process(self, **kw: Any) -> MonthResult:
        usage: ProviderUsage = kw["usage"]
        usage.gemini_calls += 1
        usage.isbndb_calls += 4
        if self.error is not None:
            raise self.error
        return MonthResult(books_generated=4, isbns_resolved=3)


def process(year: int, month: int, error: Exception | None = None, attempt: int = 1) -> None:
    job_id = BackfillLog.objects.values_list("last_job_id", flat=True).get(year=year, month=month)
    assert job_id is not None
    with contextlib.suppress(RuntimeError):  # a failed attempt raises for the job to retry
        backfill_month_process(
            year=year,
            month=month,
            batch_size=4,
            prompt_variant="baseline",
            processor=Processor(error),
            job_id=job_id,
            attempt=attempt,
            max_attempts=MAX_RETRIES,
        )


def test_rollup__matches_a_full_scan_after_every_kind_of_write() -> None:
    steps = [
        ("seed", lambda: backfill_seed()),
        ("seed again", lambda: backfill_seed()),
        ("claim", lambda: backfill_claim_months(max_months=6)),
        ("complete", lambda: process(2024, 12)),
        ("fail", lambda: process(2024, 11, RuntimeError("boom"))),
        ("defer", lambda: process(2024, 10, QuotaExhausted("gemini"))),
        ("fail for good", lambda: process(2024, 9, RuntimeError("again"), attempt=5)),
        (
            "retry failed",
            lambda: backfill_months_retry_failed(
                log_ids=BackfillLog.objects.values_list("pk", flat=True)
            ),
        ),
        ("reset", lambda: backfill_months_reset_pending(log_ids=[BackfillLog.objects.first().pk])),
        ("delete", lambda: BackfillLog.objects.filter(year=2000).delete()),
        ("create", lambda: factories.month(1999, 5, status=BackfillStatus.COMPLETED)),
        ("compact", lambda: backfill_stats_compact()),
    ]
    for name, step in steps:
        step()
        assert backfill_stats_drift() == {}, name
    stats = backfill_stats()
    # 2024-12 completed and was then reset (keeping its counters); 1999-05 was created done.
    assert stats["status_counts"] == {
        "pending": 285,
        "processing": 2,
        "completed": 1,
        "failed": 0,
        "retry": 1,
    }
    assert stats["totals"] == {
        "books_generated": 4,
        "isbns_resolved": 3,
        "gemini_calls": 4,
        "xai_calls": 0,
        "isbndb_calls": 16,
    }


def test_rollup__truncate_empties_it() -> None:
    backfill_seed()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred FK checks may be pending
        cursor.execute("TRUNCATE backfill_log CASCADE")
    assert backfill_stats()["status_counts"] == dict.fromkeys(BackfillStatus.values, 0)
    assert not BackfillStatsDelta.objects.exists()


def test_compact__folds_to_one_row_per_status_keeping_the_stats(seeded: Any) -> None:
    backfill_claim_months(max_months=3)
    for month in (12, 11):
        process(2024, month)
    assert BackfillStatsDelta.objects.count() > 5
    before = backfill_stats()
    folded = backfill_stats_compact()
    assert folded > 5
    assert sorted(BackfillStatsDelta.objects.values_list("status", flat=True)) == sorted(
        {"pending", "processing", "completed"}
    )
    assert backfill_stats() == before and backfill_stats_drift() == {}


@pytest.mark.django_db(transaction=True)
def test_compact__concurrent_with_writers_loses_nothing() -> None:
    backfill_seed()
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(year: int) -> None:
        try:
            for month in range(1, 13):
                BackfillLog.objects.filter(year=year, month=month).update(
                    status=BackfillStatus.RETRY, retry_count=1, gemini_calls=month
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    def compactor() -> None:
        try:
            while not stop.is_set():
                backfill_stats_compact()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    folding = threading.Thread(target=compactor)
    folding.start()
    writers = [threading.Thread(target=writer, args=(year,)) for year in range(2000, 2025)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    folding.join()
    assert errors == []
    assert backfill_stats_drift() == {}
    assert backfill_stats()["status_counts"]["retry"] == 300
    assert backfill_stats()["totals"]["gemini_calls"] == 25 * 78


def test_rebuild__repairs_drift_from_writes_that_bypassed_the_triggers(seeded: Any) -> None:
    with connection.cursor() as cursor:
        # What a restore with session_replication_role = replica would leave behind.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE backfill_log DISABLE TRIGGER USER")
        cursor.execute(
            "UPDATE backfill_log SET status = 'completed', completed_at = now(),"
            " books_generated = 2 WHERE year = 2001"
        )
        cursor.execute("ALTER TABLE backfill_log ENABLE TRIGGER USER")
    assert backfill_stats_drift() == {
        "completed": {"months": -12, "books_generated": -24},
        "pending": {"months": 12},
    }
    out = StringIO()
    call_command("backfill_stats_rebuild", stdout=out)
    assert "rollup had drifted" in out.getvalue() and "'months': -12" in out.getvalue()
    assert backfill_stats_drift() == {}
    assert backfill_stats()["status_counts"]["completed"] == 12

    backfill_stats_rebuild()
    out = StringIO()
    call_command("backfill_stats_rebuild", stdout=out)
    assert "no drift" in out.getvalue()
