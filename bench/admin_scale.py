"""Print the job list's page times and query counts beside a plain ModelAdmin of the same model.

Run on a seeded database (durable embedded cluster):
  .venv/bin/python -m controlplane.embedded_pg exec --dir .embedded/pg-bench -- \
      .venv/bin/python bench/admin_scale.py --seed 1000000 --projects 1000
`--seed N` runs `manage.py seed_synthetic` first when the database holds fewer than N jobs.
Each page: one warm-up request (its queries are counted), then the median of 5 timed
requests through Django's test client, logged in as a superuser.
Targets (issue 11), at 1 M jobs: every job list page <= 50 ms p50 with <= 10 queries;
search by full id or 8-character prefix <= 15 ms; a job with 25 attempts <= 100 ms; the
projects list <= 50 ms at 1,000 projects.
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

from django.contrib import admin  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import (  # noqa: E402
    CaptureQueriesContext,
    override_settings,
    setup_test_environment,
)
from django.urls import include, path, reverse  # noqa: E402

from controlplane.models import Project  # noqa: E402
from jobs.models import Job  # noqa: E402

RUNS = 5


class PlainJobAdmin(admin.ModelAdmin):
    """What a first version would write: the stock list with the obvious filters."""

    list_display = ["id", "type", "status", "project", "created_at"]
    list_filter = ["status", "type", "project", "created_at"]
    search_fields = ["id", "project__slug"]


plain_site = admin.AdminSite(name="plain")
plain_site.register(Job, PlainJobAdmin)
plain_site.register(Project, admin.ModelAdmin)

# The project's own URLs plus the plain site, so both answer in one process.
urlpatterns = [path("plain-admin/", plain_site.urls), path("", include("controlplane.urls"))]


def measure(client: Client, url: str) -> tuple[float, float, int, int]:
    """Return (p50 ms, p50 of this process's CPU ms, queries, status) for one page.

    The CPU figure leaves out waiting for a core on a busy host (and the database's time).
    """
    reset_queries()  # DEBUG keeps a bounded log; a full one would make the count wrong
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    status = response.status_code
    times, cpu = [], []
    for _ in range(RUNS):
        started, started_cpu = time.perf_counter(), time.process_time()
        client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(times), statistics.median(cpu), len(queries.captured_queries), status


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0, help="seed up to this many jobs first")
    parser.add_argument("--projects", type=int, default=1000)
    args = parser.parse_args()
    if args.seed and Job.objects.count() < args.seed:
        call_command("seed_synthetic", jobs=args.seed - Job.objects.count(), projects=args.projects)
    setup_test_environment()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)

    many = Job.objects.filter(attempts=25).values_list("pk", flat=True).first()
    some = Job.objects.filter(status="failed").order_by("-created_at").first()
    project = Project.objects.filter(slug__startswith="synth-").order_by("pk").first()
    if many is None or some is None or project is None:
        sys.exit("Seed first: --seed 1000000 (or manage.py seed_synthetic).")
    job_count = Job.objects.count()
    project_count = Project.objects.count()
    print(f"jobs: {job_count:,}, projects: {project_count:,}; median of {RUNS} after a warm-up")
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores, shared)")

    with override_settings(ROOT_URLCONF=__name__):
        ours_jobs = reverse("admin:jobs_job_changelist")
        plain_jobs = reverse("plain:jobs_job_changelist")
        pages: list[tuple[str, str, str]] = [
            ("first page", "", ""),
            ("status=failed", "?status__exact=failed", "?status__exact=failed"),
            ("type=export_backup", "?type=export_backup", "?type__exact=export_backup"),
            (
                "one project",
                f"?project__id__exact={project.pk}",
                f"?project__id__exact={project.pk}",
            ),
            ("page 50", "?p=49", "?p=49"),
            ("search full id", f"?q={some.pk}", f"?q={some.pk}"),
            ("search 8-char prefix", f"?q={str(some.pk)[:8]}", f"?q={str(some.pk)[:8]}"),
        ]
        rows = [(name, ours_jobs + a, plain_jobs + b) for name, a, b in pages]
        rows.append(
            (
                "job with 25 attempts",
                reverse("admin:jobs_job_change", args=[many]),
                reverse("plain:jobs_job_change", args=[many]),
            )
        )
        rows.append(
            (
                f"projects list ({project_count:,})",
                reverse("admin:controlplane_project_changelist"),
                reverse("plain:controlplane_project_changelist"),
            )
        )
        print(
            f"{'page':<28} {'ours p50':>9} {'(cpu)':>7} {'queries':>8}"
            f" {'plain p50':>10} {'(cpu)':>7} {'queries':>8}"
        )
        for name, ours_url, plain_url in rows:
            ours_ms, ours_cpu, ours_q, ours_status = measure(client, ours_url)
            plain_ms, plain_cpu, plain_q, plain_status = measure(client, plain_url)
            flag = "" if ours_status == 200 else f"  (ours answered {ours_status})"
            flag += "" if plain_status == 200 else f"  (plain answered {plain_status})"
            print(
                f"{name:<28} {ours_ms:>6.1f} ms {ours_cpu:>7.1f} {ours_q:>8}"
                f" {plain_ms:>7.1f} ms {plain_cpu:>7.1f} {plain_q:>8}{flag}"
            )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
