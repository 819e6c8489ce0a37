"""Writes on the stats rollup (`backfill_stats_delta`): fold its rows, rebuild it from scratch.

Triggers on `backfill_log` append one delta row per status a write statement changed; the
stats sum them. Folding keeps that sum cheap; rebuilding repairs it if writes ever bypassed
the triggers (e.g. a restore with `session_replication_role = replica`).
"""

from __future__ import annotations

from django.db import connection, transaction

COUNTERS = ("books_generated", "isbns_resolved", "gemini_calls", "xai_calls", "isbndb_calls")
COLUMNS = ", ".join(("months", *COUNTERS))
SUMS = ", ".join(f"sum({c})" for c in ("months", *COUNTERS))
COUNTER_SUMS = ", ".join(f"sum({c})" for c in COUNTERS)
# Any constant works; it only has to be the same in every process.
ROLLUP_LOCK_ID = 0x62667374  # "bfst"


@transaction.atomic(durable=True)
def backfill_stats_compact() -> int:
    """Fold the rollup into one row per status; return how many rows were folded (0 if busy)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ROLLUP_LOCK_ID])
        if not cursor.fetchone()[0]:
            return 0  # another process is folding right now; nothing is lost by skipping
        # The DELETE sees only committed rows, and its RETURNING feeds the INSERT, so rows that
        # writers commit meanwhile are neither lost nor counted twice.
        cursor.execute(
            f"""
            WITH folded AS (DELETE FROM backfill_stats_delta RETURNING *),
                 summed AS (
                     INSERT INTO backfill_stats_delta (status, {COLUMNS})
                     SELECT status, {SUMS} FROM folded GROUP BY status
                 )
            SELECT count(*) FROM folded
            """  # noqa: S608 (constants only)
        )
        return int(cursor.fetchone()[0])


@transaction.atomic(durable=True)
def backfill_stats_rebuild() -> None:
    """Recompute the rollup from `backfill_log`, holding writers off while it runs."""
    with connection.cursor() as cursor:
        # SHARE mode blocks every write on the table (not reads) until we commit.
        cursor.execute("LOCK TABLE backfill_log IN SHARE MODE")
        cursor.execute("DELETE FROM backfill_stats_delta")
        cursor.execute(
            f"""
            INSERT INTO backfill_stats_delta (status, {COLUMNS})
            SELECT status, count(*), {COUNTER_SUMS} FROM backfill_log GROUP BY status
            """  # noqa: S608 (constants only)
        )
