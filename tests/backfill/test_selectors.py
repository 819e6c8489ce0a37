"""Stats: status counts with every key, totals, overall resolution rate, recent activity cap."""

from __future__ import annotations

from typing import Any

import pytest

from backfill.models import BackfillLog, BackfillStatus
from backfill.selectors import backfill_grid, backfill_stats
from tests.backfill import factories

pytestmark = pytest.mark.django_db


def test_stats__empty_table() -> None:
    stats = backfill_stats()
    assert stats["status_counts"] == {
        "pending": 0,
        "processing": 0,
        "completed": 0,
        "failed": 0,
        "retry": 0,
    }
    assert set(stats["totals"].values()) == {0}
    assert stats["overall_resolution_rate"] == 0
    assert stats["recent_activity"] == []


def test_stats__zero_generated_gives_zero_rate(seeded: Any) -> None:
    BackfillLog.objects.filter(year=2024, month=1).update(gemini_calls=2)
    stats = backfill_stats()
    assert stats["overall_resolution_rate"] == 0
    assert stats["totals"]["gemini_calls"] == 2
    assert stats["status_counts"]["pending"] == 300


def test_stats__totals_and_overall_rate() -> None:
    factories.month(
        2024,
        1,
        status=BackfillStatus.COMPLETED,
        books_generated=20,
        isbns_resolved=15,
        gemini_calls=1,
        isbndb_calls=20,
    )
    factories.month(
        2024,
        2,
        status=BackfillStatus.COMPLETED,
        books_generated=10,
        isbns_resolved=2,
        xai_calls=2,
        gemini_calls=1,
        isbndb_calls=10,
    )
    factories.month(2024, 3, status=BackfillStatus.FAILED, retry_count=5)
    factories.month(2024, 4, status=BackfillStatus.RETRY, retry_count=1)
    stats = backfill_stats()
    assert stats["totals"] == {
        "books_generated": 30,
        "isbns_resolved": 17,
        "gemini_calls": 2,
        "xai_calls": 2,
        "isbndb_calls": 30,
    }
    assert stats["overall_resolution_rate"] == pytest.approx(56.67)
    assert stats["status_counts"] == {
        "pending": 0,
        "processing": 0,
        "completed": 2,
        "failed": 1,
        "retry": 1,
    }
    by_month = {row["month"]: row for row in stats["recent_activity"]}
    assert by_month[1]["resolution_rate"] == 75.0 and by_month[3]["resolution_rate"] == 0.0


def test_stats__recent_activity_is_the_20_newest(seeded: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    # Give 24 months distinct, later update times; the 20 latest must come back, newest first.
    for year, offset in ((2010, 0), (2011, 100)):
        for month in range(1, 13):
            BackfillLog.objects.filter(year=year, month=month).update(
                updated_at=now + timedelta(minutes=offset + month)
            )
    recent = backfill_stats()["recent_activity"]
    assert len(recent) == 20
    assert [(r["year"], r["month"]) for r in recent[:12]] == [(2011, m) for m in range(12, 0, -1)]
    assert [(r["year"], r["month"]) for r in recent[12:]] == [(2010, m) for m in range(12, 4, -1)]


def test_grid__one_row_per_year_with_holes() -> None:
    factories.month(2024, 2)
    factories.month(2023, 12, status=BackfillStatus.COMPLETED)
    grid = backfill_grid()
    assert [row["year"] for row in grid] == [2024, 2023]
    assert [cell is not None for cell in grid[0]["months"]].count(True) == 1
    assert grid[0]["months"][1].month == 2 and grid[1]["months"][11].status == "completed"
