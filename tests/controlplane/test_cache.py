"""The shared cache: PostgreSQL-backed (or Redis) with an increment that never loses a count."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.db import connection, connections

from controlplane.cache import PostgresCache
from controlplane.models import CacheEntry

BACKENDS = ["postgres"] + (["redis"] if os.environ.get("REDIS_URL") else [])


@pytest.fixture(params=BACKENDS)
def cache(request: pytest.FixtureRequest, transactional_db: None) -> Iterator[BaseCache]:
    prefix = f"cachetest-{os.urandom(4).hex()}"
    if request.param == "postgres":
        backend: BaseCache = PostgresCache("", {"KEY_PREFIX": prefix})
    else:
        from django.core.cache.backends.redis import RedisCache

        backend = RedisCache(os.environ["REDIS_URL"], {"KEY_PREFIX": prefix})
    yield backend
    backend.clear() if request.param == "postgres" else None
    backend.close()


def test_cache__roundtrip_of_values_and_integers(cache: BaseCache) -> None:
    cache.set("obj", {"a": [1, 2]}, 60)
    cache.set("n", 5, 60)
    assert cache.get("obj") == {"a": [1, 2]}
    assert cache.get("n") == 5
    assert cache.get("missing", "default") == "default"
    assert cache.incr("n", 3) == 8
    assert cache.delete("n") is True
    assert cache.get("n") is None


def test_cache__add_only_when_absent_or_expired(cache: BaseCache) -> None:
    assert cache.add("k", 1, 60) is True
    assert cache.add("k", 2, 60) is False
    assert cache.get("k") == 1
    assert cache.add("short", "x", 1) is True
    time.sleep(1.2)
    assert cache.get("short") is None
    assert cache.add("short", "y", 60) is True
    assert cache.get("short") == "y"


def test_cache__incr_of_a_missing_key_raises(cache: BaseCache) -> None:
    with pytest.raises(ValueError, match="not found"):
        cache.incr("nope")


def test_cache__touch_and_has_key(cache: BaseCache) -> None:
    cache.set("t", "v", 1)
    assert cache.touch("t", 60) is True
    time.sleep(1.2)
    assert cache.has_key("t") is True
    assert cache.touch("never-set", 60) is False


def test_cache__incr_is_atomic_under_many_threads(cache: BaseCache) -> None:
    threads, per_thread = 8, 150
    cache.add("hits", 0, 300)
    seen: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def hammer() -> None:
        start.wait()
        mine = [cache.incr("hits") for _ in range(per_thread)]
        with lock:
            seen.extend(mine)
        connections.close_all()

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    total = threads * per_thread
    assert cache.get("hits") == total
    # Every increment saw a distinct value: no two callers were told the same count.
    assert sorted(seen) == list(range(1, total + 1))


def test_postgres_cache__expired_rows_culled(transactional_db: None) -> None:
    backend = PostgresCache("", {"KEY_PREFIX": "cull", "OPTIONS": {"CULL_PROBABILITY": 1.0}})
    backend.set("old", "x", 1)
    time.sleep(1.2)
    backend.add("new", "y", 60)  # culls with probability 1
    keys = set(CacheEntry.objects.values_list("cache_key", flat=True))
    assert any(k.endswith(":new") for k in keys)
    assert not any(k.endswith(":old") for k in keys)


def test_default_cache__is_the_shared_postgres_backend_without_redis(settings: Any) -> None:
    if os.environ.get("REDIS_URL"):
        pytest.skip("REDIS_URL is set: the default cache is Redis")
    assert isinstance(caches["default"], PostgresCache)


def test_postgres_cache__table_is_unlogged(db: None) -> None:
    # Counter updates then commit without waiting for a WAL flush; a crash only empties it.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relpersistence FROM pg_class WHERE oid = %s::regclass",
            [CacheEntry._meta.db_table],
        )
        assert cursor.fetchone() == ("u",)
