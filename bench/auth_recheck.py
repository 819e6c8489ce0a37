"""Print what re-checking a project token on every request costs (AUTH_TOKEN_RECHECK_SECONDS).

Run against an embedded cluster (never as a test), e.g.:
    .venv/bin/python -m controlplane.embedded_pg exec --dir .embedded/pg-bench -- \\
        .venv/bin/python bench/auth_recheck.py [requests=2000]
In-process (Django's test client, no web server): the same authenticated request,
GET /api/jobs/<unknown id> (a 404 after authentication and permissions), with the re-check
uncached (0) and cached for 5 s. Prints requests/s and database queries per request, and
removes the project it created.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from controlplane.api.auth import issue_access_token  # noqa: E402
from controlplane.models import Project, ProjectStatus  # noqa: E402
from controlplane.services import project_create  # noqa: E402
from provisioning.services import api_key_issue  # noqa: E402


def run(client: Client, token: str, n: int) -> tuple[float, float]:
    """Return (requests/s, queries per request) for `n` requests."""
    path = f"/api/jobs/{uuid.uuid4()}"
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get(path, **headers).status_code == 404  # warm up, and the path is right
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        for _ in range(n):
            client.get(path, **headers)
        elapsed = time.perf_counter() - start
    return n / elapsed, len(queries.captured_queries) / n


def main() -> None:
    # Every 404 would log a warning: the figures are about the request, not the console.
    logging.getLogger("django.request").setLevel(logging.ERROR)
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    call_command("migrate", verbosity=0)
    settings.ALLOWED_HOSTS = ["testserver"]
    project = project_create(
        slug=f"benchauth-{uuid.uuid4().hex[:6]}", name="bench", status=ProjectStatus.ACTIVE
    )
    try:
        key, _ = api_key_issue(project=project, name="bench")
        token = issue_access_token(project_id=project.slug, api_key_id=key.pk)["access_token"]
        client = Client()
        print(f"{total} requests, GET /api/jobs/<unknown id> with a project token")
        for seconds in (0, 5):
            settings.AUTH_TOKEN_RECHECK_SECONDS = seconds
            rate, per_request = run(client, token, total)
            print(
                f"AUTH_TOKEN_RECHECK_SECONDS={seconds}: {rate:,.0f} requests/s, "
                f"{per_request:.2f} queries per request"
            )
    finally:
        Project.objects.filter(pk=project.pk).delete()


if __name__ == "__main__":
    main()
