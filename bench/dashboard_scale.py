"""Print the dashboard's render time and query count (whole page and each live panel).

Run on a seeded database (durable embedded cluster):
  .venv/bin/python -m controlplane.embedded_pg exec --dir .embedded/pg-bench -- \
      sh -c '.venv/bin/python manage.py migrate -v0 && \
             .venv/bin/python bench/dashboard_scale.py --seed 1000000 --projects 1000'
`--seed N` runs `manage.py seed_synthetic` first when the database holds fewer than N jobs.
It then times the rollup job (first fill of 24 h, then an incremental pass), and each page:
one warm-up request (its queries are counted), then the median of 5 timed requests through
Django's test client, as a staff user holding only the view permissions (a superuser skips
the permission reads). Target (issue 11): the dashboard renders in <= 100 ms p50 at 1 M jobs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Permission  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402

from console.dashboard import PANELS  # noqa: E402
from console.models import JobHour, JobMinute  # noqa: E402
from console.services import metrics_rollup  # noqa: E402
from jobs.models import Job  # noqa: E402

RUNS = 5


def measure(client: Client, url: str) -> tuple[float, float, int, int]:
    """Return (p50 wall ms, p50 CPU ms of this process, queries, status) for one page."""
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    wall, cpu = [], []
    for _ in range(RUNS):
        started, started_cpu = time.perf_counter(), time.process_time()
        client.get(url)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return (
        statistics.median(wall),
        statistics.median(cpu),
        len(queries.captured_queries),
        response.status_code,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0, help="seed up to this many jobs first")
    parser.add_argument("--projects", type=int, default=1000)
    args = parser.parse_args()
    if args.seed and Job.objects.count() < args.seed:
        call_command("seed_synthetic", jobs=args.seed - Job.objects.count(), projects=args.projects)
    setup_test_environment()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-viewer", defaults={"is_staff": True}
    )
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_job", "view_project", "view_auditlog"])
    )
    client = Client()
    client.force_login(user)
    print(f"jobs: {Job.objects.count():,}; median of {RUNS} after a warm-up")
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores, shared)")

    JobMinute.objects.all().delete()
    JobHour.objects.all().delete()
    started = time.perf_counter()
    rows = metrics_rollup()
    elapsed = (time.perf_counter() - started) * 1000
    print(f"rollup, first fill (24 h):   {elapsed:8.1f} ms, {rows} rows")
    started = time.perf_counter()
    rows = metrics_rollup()
    elapsed = (time.perf_counter() - started) * 1000
    print(f"rollup, incremental pass:    {elapsed:8.1f} ms, {rows} rows")

    pages = [("dashboard (admin index)", reverse("admin:index"))]
    pages += [(f"panel {name}", reverse("admin:console_panel", args=[name])) for name in PANELS]
    ids = "&".join(f"id={pk}" for pk in Job.objects.values_list("pk", flat=True)[:50])
    pages.append(("job list live rows (50 ids)", f"{reverse('admin:console_job_progress')}?{ids}"))
    # CPU: this process only (Python, templates); the rest of the wall time is PostgreSQL
    # and waiting for a core on a shared host.
    print(f"{'page':<28} {'p50':>9} {'CPU p50':>9} {'queries':>8}")
    for name, url in pages:
        ms, cpu_ms, queries, status = measure(client, url)
        flag = "" if status == 200 else f"  (answered {status})"
        print(f"{name:<28} {ms:>6.1f} ms {cpu_ms:>6.1f} ms {queries:>8}{flag}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
