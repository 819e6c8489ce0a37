"""Provider quotas are taken atomically: concurrent callers never overdraw a day's limit."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from django.db import connection

from backfill.models import Provider, ProviderQuota
from backfill.services import provider_quota_consume

DAY = date(2024, 3, 1)


@pytest.mark.django_db
def test_quota__stops_at_the_limit_per_provider_and_day() -> None:
    taken = [provider_quota_consume(provider=Provider.GEMINI, limit=3, day=DAY) for _ in range(5)]
    assert taken == [True, True, True, False, False]
    assert provider_quota_consume(provider=Provider.XAI, limit=3, day=DAY)
    assert provider_quota_consume(provider=Provider.GEMINI, limit=3, day=date(2024, 3, 2))
    row = ProviderQuota.objects.get(provider=Provider.GEMINI, day=DAY)
    assert (row.used, row.limit) == (3, 3)


@pytest.mark.django_db
def test_quota__zero_limit_and_raised_limit() -> None:
    assert provider_quota_consume(provider=Provider.ISBNDB, limit=0, day=DAY) is False
    assert provider_quota_consume(provider=Provider.ISBNDB, limit=1, day=DAY) is True
    assert provider_quota_consume(provider=Provider.ISBNDB, limit=1, day=DAY) is False
    assert provider_quota_consume(provider=Provider.ISBNDB, limit=2, day=DAY) is True


@pytest.mark.django_db(transaction=True)
def test_quota__concurrent_consumers_take_exactly_the_limit() -> None:
    results: list[bool] = []
    barrier = threading.Barrier(12)

    def consume() -> None:
        try:
            barrier.wait()
            for _ in range(3):
                results.append(provider_quota_consume(provider=Provider.ISBNDB, limit=10, day=DAY))
        finally:
            connection.close()

    threads = [threading.Thread(target=consume) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 36 and results.count(True) == 10
    assert ProviderQuota.objects.get(provider=Provider.ISBNDB, day=DAY).used == 10
