"""Rules the database enforces on backfill_log, books and quotas; the derived resolution rate."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction

from backfill.models import BackfillLog, BackfillStatus, Book
from tests.backfill import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("retry_count", 6),
        ("batch_size", 0),
        ("batch_size", 51),
        ("month", 13),
        ("month", 0),
        ("year", 1899),
        ("status", "unknown"),
        ("prompt_variant", "other"),
    ],
)
def test_backfill_log__range_constraints(field: str, value: Any) -> None:
    row = factories.month(2024, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        BackfillLog.objects.filter(pk=row.pk).update(**{field: value})


def test_backfill_log__year_month_unique() -> None:
    factories.month(2024, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.month(2024, 1)


def test_backfill_log__completed_needs_completed_at() -> None:
    row = factories.month(2024, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        BackfillLog.objects.filter(pk=row.pk).update(status=BackfillStatus.COMPLETED)


def test_backfill_log__resolution_rate_follows_counters() -> None:
    row = factories.month(2024, 1)
    assert row.resolution_rate == 0.0
    BackfillLog.objects.filter(pk=row.pk).update(books_generated=8, isbns_resolved=6)
    row.refresh_from_db()
    assert row.resolution_rate == 75.0
    BackfillLog.objects.filter(pk=row.pk).update(books_generated=0, isbns_resolved=0)
    row.refresh_from_db()
    assert row.resolution_rate == 0.0
    with pytest.raises(IntegrityError), transaction.atomic():
        BackfillLog.objects.filter(pk=row.pk).update(books_generated=1, isbns_resolved=2)


def test_book__isbn_format_and_uniqueness() -> None:
    Book.objects.create(title="A", isbn="9780000000002", year=2024, month=1, source="gemini")
    with pytest.raises(IntegrityError), transaction.atomic():
        Book.objects.create(title="B", isbn="9780000000002", year=2024, month=2, source="xai")
    with pytest.raises(IntegrityError), transaction.atomic():
        Book.objects.create(title="C", isbn="978-0-00", year=2024, month=2, source="xai")
