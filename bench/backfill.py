"""Print backfill scheduler and stats figures on a throwaway database.

Run: python -m controlplane.embedded_pg exec --dir .embedded/pg-bench --
.venv/bin/python bench/backfill.py (or with DATABASE_URL set).
Targets (issue 6): scheduling 300 months <= 1 s; 10 concurrent schedulers over
300 months, zero duplicates; stats p50 <= 20 ms at 100,000 rows. The stats are measured
with the rollup as writers leave it (thousands of uncompacted delta rows) and compacted.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from backfill.models import BACKFILL_MONTH_JOB, BackfillLog, BackfillStatsDelta  # noqa: E402
from backfill.rollup import backfill_stats_compact  # noqa: E402
from backfill.selectors import backfill_stats_drift  # noqa: E402
from backfill.services import backfill_claim_months, backfill_seed  # noqa: E402
from jobs.models import Job  # noqa: E402


def reset() -> None:
    BackfillLog.objects.all().delete()
    Job.objects.all().delete()
    backfill_seed()


def bench_schedule_300() -> None:
    reset()
    started = time.perf_counter()
    result = backfill_claim_months(max_months=300)
    elapsed = time.perf_counter() - started
    print(f"schedule 300 months: {len(result.scheduled)} scheduled in {elapsed * 1000:.0f} ms")


def bench_concurrent() -> None:
    reset()
    claimed: list[tuple[int, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(10)

    def scheduler() -> None:
        try:
            barrier.wait()
            while True:
                result = backfill_claim_months(max_months=7)
                if not result.scheduled:
                    return
                with lock:
                    claimed.extend((s.year, s.month) for s in result.scheduled)
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler) for _ in range(10)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    duplicates = len(claimed) - len(set(claimed))
    jobs = Job.objects.filter(type=BACKFILL_MONTH_JOB).values_list("payload", flat=True)
    per_month = Counter((p["year"], p["month"]) for p in jobs)
    extra_jobs = sum(n - 1 for n in per_month.values())
    print(
        f"10 concurrent schedulers: {len(claimed)} months claimed, {duplicates} duplicates, "
        f"{extra_jobs} months with more than one job, {elapsed * 1000:.0f} ms"
    )


def _fill(rows: int) -> None:
    with connection.cursor() as cursor:
        # Throwaway database only: lift the year bound so the table can hold `rows` months.
        cursor.execute("ALTER TABLE backfill_log DROP CONSTRAINT IF EXISTS backfill_year_range")
        cursor.execute("TRUNCATE backfill_log CASCADE")
        cursor.execute(
            """
            INSERT INTO backfill_log (year, month, status, retry_count, batch_size, prompt_variant,
                books_generated, isbns_resolved, gemini_calls, xai_calls, isbndb_calls,
                error_message, completed_at, created_at, updated_at)
            SELECT 1 + (i / 12), 1 + (i %% 12),
                   (ARRAY['pending','processing','completed','failed','retry'])[1 + i %% 5],
                   0, 20, 'baseline', 20, i %% 21, 1, i %% 2, 20, '',
                   CASE WHEN i %% 5 = 2 THEN now() END, now(), now() - make_interval(secs => i)
            FROM generate_series(0, %s - 1) AS i
            """,
            [rows],
        )
        cursor.execute("ANALYZE backfill_log")


def _activity(statements: int) -> float:
    """Run `statements` one-month outcome UPDATEs (as consumers do); return ms per statement."""
    pks = list(
        BackfillLog.objects.filter(status="processing").values_list("pk", flat=True)[:statements]
    )
    started = time.perf_counter()
    for pk in pks:
        BackfillLog.objects.filter(pk=pk, status="processing").update(
            status="completed", completed_at=timezone.now(), books_generated=20, gemini_calls=2
        )
    return (time.perf_counter() - started) * 1000 / max(1, len(pks))


def _time_stats(client: APIClient, runs: int) -> tuple[float, float]:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get("/api/internal/backfill-stats", HTTP_HOST="localhost")
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    p50 = statistics.median(timings) * 1000
    p95 = sorted(timings)[int(runs * 0.95) - 1] * 1000
    return p50, p95


def bench_stats(rows: int = 100_000, statements: int = 2000, runs: int = 50) -> None:
    from django.conf import settings

    _fill(rows)
    per_update = _activity(statements)
    client = APIClient()
    client.credentials(HTTP_X_CRON_SECRET=settings.CRON_SECRET)
    deltas = BackfillStatsDelta.objects.count()
    p50, p95 = _time_stats(client, runs)
    print(
        f"stats endpoint at {rows} rows after {statements} outcome UPDATEs "
        f"({per_update:.2f} ms each, {deltas} rollup rows uncompacted): "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"
    )
    backfill_stats_compact()
    p50, p95 = _time_stats(client, runs)
    print(
        f"stats endpoint at {rows} rows, rollup compacted "
        f"({BackfillStatsDelta.objects.count()} rows): p50 {p50:.1f} ms, p95 {p95:.1f} ms"
    )
    assert backfill_stats_drift() == {}, "rollup disagrees with a full scan"


def main() -> None:
    old = setup_databases(verbosity=0, interactive=False)
    try:
        bench_schedule_300()
        bench_concurrent()
        bench_stats()
    finally:
        connection.close()
        teardown_databases(old, verbosity=0)


if __name__ == "__main__":
    main()
