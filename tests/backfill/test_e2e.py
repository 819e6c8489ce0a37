"""Seed, schedule over the API, and let a real qcluster run the months against fake providers."""

from __future__ import annotations

import calendar
import json
import re
from typing import Any

import pytest
from rest_framework.test import APIClient

from backfill.models import BackfillLog, BackfillStatus, Book
from jobs.models import Job, JobStatus
from tests.backfill.fakes import (
    GEMINI_ROUTE,
    ISBNDB_ROUTE,
    Reply,
    Request,
    fake_server,
    gemini_answer,
    isbndb_book,
    isbndb_books,
    provider_settings,
)
from tests.jobs.conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
MONTH_IN_PROMPT = re.compile(r"in (?P<name>[A-Z][a-z]+) (?P<year>\d{4})")
BOOK_IN_QUERY = re.compile(r"Book (?P<n>\d) of (?P<month>\d{2})/(?P<year>\d{4})")


def month_books(request: Request) -> Reply:
    """Answer Gemini with three books of the month the prompt asks about."""
    found = MONTH_IN_PROMPT.search(request.body["contents"][0]["parts"][0]["text"])
    assert found is not None
    month = list(calendar.month_name).index(found["name"])
    books = [
        {"title": f"Book {n} of {month:02d}/{found['year']}", "author": f"Author {n}"}
        for n in range(1, 4)
    ]
    return gemini_answer(json.dumps(books))


def isbn_of(request: Request) -> Reply:
    """Resolve books 1 and 2 of any month to a distinct ISBN; book 3 is unknown (404)."""
    found = BOOK_IN_QUERY.search(request.path)
    if found is None or found["n"] == "3":
        return 404, {"errorMessage": "Not Found"}
    isbn = f"978{found['year']}{found['month']}{int(found['n']):04d}"
    title = f"Book {found['n']} of {found['month']}/{found['year']}"
    return isbndb_books(isbndb_book(title, isbn, "Author"))


def test_backfill__seed_schedule_and_process_two_months_in_a_real_cluster(
    qcluster: Any, cron_client: APIClient
) -> None:
    with fake_server() as providers:
        providers.script(GEMINI_ROUTE, month_books)
        providers.script(ISBNDB_ROUTE, isbn_of)
        qcluster(workers=1, **provider_settings(providers.url))

        seeded = cron_client.post("/api/internal/seed-backfill-queue").json()["data"]
        assert seeded == {"inserted": 300, "existing": 0}
        response = cron_client.post(
            "/api/internal/schedule-backfill", {"max_months": 2, "batch_size": 5}, format="json"
        )
        scheduled = response.json()["data"]["scheduled"]
        assert [(s["year"], s["month"]) for s in scheduled] == [(2024, 12), (2024, 11)]

        done = BackfillLog.objects.filter(year=2024, month__in=[11, 12])

        def finished() -> bool:
            return done.filter(status=BackfillStatus.COMPLETED).count() == 2

        wait_until(finished, timeout=60)

    for row in done:
        assert (row.books_generated, row.isbns_resolved, row.resolution_rate) == (
            3,
            2,
            pytest.approx(66.67, abs=0.01),
        )
        assert (row.gemini_calls, row.xai_calls, row.isbndb_calls) == (1, 0, 3)
        assert row.completed_at is not None and row.error_message == ""
    assert set(Book.objects.values_list("isbn", "month", "source")) == {
        ("9782024120001", 12, "gemini"),
        ("9782024120002", 12, "gemini"),
        ("9782024110001", 11, "gemini"),
        ("9782024110002", 11, "gemini"),
    }
    jobs = Job.objects.filter(pk__in=[s["job_id"] for s in scheduled])
    assert {(j.status, j.attempts, j.result["outcome"]) for j in jobs} == {
        (JobStatus.COMPLETED, 1, "completed")
    }
    # The job reached the worker with the claimed batch size.
    assert {j.payload["batch_size"] for j in jobs} == {5}

    stats = cron_client.get("/api/internal/backfill-stats").json()["data"]
    assert stats["status_counts"] == {
        "pending": 298,
        "processing": 0,
        "completed": 2,
        "failed": 0,
        "retry": 0,
    }
    assert stats["totals"] == {
        "books_generated": 6,
        "isbns_resolved": 4,
        "gemini_calls": 2,
        "xai_calls": 0,
        "isbndb_calls": 6,
    }
    assert stats["overall_resolution_rate"] == pytest.approx(66.67)
    recent = [(r["year"], r["month"], r["status"]) for r in stats["recent_activity"][:2]]
    assert sorted(recent) == [(2024, 11, "completed"), (2024, 12, "completed")]
