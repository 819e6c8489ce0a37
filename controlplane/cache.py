"""A PostgreSQL cache backend whose `add` and `incr` are single atomic statements.

Django's DatabaseCache increments with a read then a write, so two processes can
both read 4 and both write 5: rate limits would leak. Here integers live in a
bigint column and `incr` is one `UPDATE ... RETURNING`; other values are pickled.
"""

# ruff: noqa: S608  (the only name put into SQL is our own model's quoted table)
from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.db import connections, router
from django.utils import timezone

from controlplane.models import CacheEntry


class PostgresCache(BaseCache):
    """Store cache entries in `controlplane_cacheentry` (a migrated model)."""

    pickle_protocol = pickle.HIGHEST_PROTOCOL

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        self._table = connections["default"].ops.quote_name(CacheEntry._meta.db_table)
        # Expired rows are deleted now and then by `add`, so the table stays small
        # although rate-limit keys change every window.
        self._cull_probability = float(params.get("OPTIONS", {}).get("CULL_PROBABILITY", 0.01))

    # --- helpers ------------------------------------------------------------

    def _cursor(self, write: bool = False) -> Any:
        alias = (router.db_for_write if write else router.db_for_read)(CacheEntry)
        return connections[alias].cursor()

    def _expiry(self, timeout: Any) -> datetime:
        """Return when an entry set now with `timeout` (Django semantics) expires."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        if timeout is None:
            return datetime(9999, 12, 31, tzinfo=UTC)
        return timezone.now() + timedelta(seconds=max(0, timeout))

    def _encode(self, value: Any) -> tuple[bytes | None, int | None]:
        if type(value) is int:
            return None, value
        return pickle.dumps(value, self.pickle_protocol), None

    # --- BaseCache API --------------------------------------------------------

    def _upsert(self, key: str, value: Any, timeout: Any, *, only_if_expired: bool) -> bool:
        """Insert or replace one entry in a single statement; return whether it was written."""
        blob, counter = self._encode(value)
        guard = f"WHERE {self._table}.expires <= now()" if only_if_expired else ""
        with self._cursor(write=True) as cursor:
            cursor.execute(
                f"""
                INSERT INTO {self._table} (cache_key, value, counter, expires)
                VALUES (%s, %s, %s, %s)
                ON CONFLICT (cache_key) DO UPDATE
                  SET value = EXCLUDED.value, counter = EXCLUDED.counter, expires = EXCLUDED.expires
                  {guard}
                RETURNING 1
                """,
                [key, blob, counter, self._expiry(timeout)],
            )
            return cursor.fetchone() is not None

    def add(
        self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        key = self.make_and_validate_key(key, version=version)
        # Inserts, or replaces an expired entry; a live entry is left alone.
        added = self._upsert(key, value, timeout, only_if_expired=True)
        if added and random.random() < self._cull_probability:  # noqa: S311
            self.cull_expired()
        return added

    def set(
        self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        key = self.make_and_validate_key(key, version=version)
        self._upsert(key, value, timeout, only_if_expired=False)

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        key = self.make_and_validate_key(key, version=version)
        with self._cursor() as cursor:
            cursor.execute(
                f"SELECT value, counter FROM {self._table}"
                " WHERE cache_key = %s AND expires > now()",
                [key],
            )
            row = cursor.fetchone()
        if row is None:
            return default
        blob, counter = row
        return counter if blob is None else pickle.loads(bytes(blob))  # noqa: S301 (we pickled it)

    def touch(self, key: str, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        with self._cursor(write=True) as cursor:
            cursor.execute(
                f"UPDATE {self._table} SET expires = %s WHERE cache_key = %s AND expires > now()",
                [self._expiry(timeout), key],
            )
            return bool(cursor.rowcount)

    def delete(self, key: str, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        with self._cursor(write=True) as cursor:
            cursor.execute(f"DELETE FROM {self._table} WHERE cache_key = %s", [key])
            return bool(cursor.rowcount)

    def has_key(self, key: str, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        with self._cursor() as cursor:
            cursor.execute(
                f"SELECT 1 FROM {self._table} WHERE cache_key = %s AND expires > now()", [key]
            )
            return cursor.fetchone() is not None

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        key = self.make_and_validate_key(key, version=version)
        with self._cursor(write=True) as cursor:
            cursor.execute(
                f"""
                UPDATE {self._table} SET counter = counter + %s
                WHERE cache_key = %s AND expires > now() AND counter IS NOT NULL
                RETURNING counter
                """,
                [delta, key],
            )
            row = cursor.fetchone()
        if row is None:
            raise ValueError(f"Key '{key}' not found or not an integer")
        return int(row[0])

    def clear(self) -> None:
        with self._cursor(write=True) as cursor:
            cursor.execute(f"DELETE FROM {self._table}")

    def cull_expired(self) -> int:
        """Delete expired entries; return how many went."""
        with self._cursor(write=True) as cursor:
            cursor.execute(f"DELETE FROM {self._table} WHERE expires <= now()")
            return cursor.rowcount
