"""Print requests/s and latency of POST /api/backup/export on gunicorn with 2 workers.

Run against an embedded cluster (never as a test), e.g.:
    .venv/bin/python -m controlplane.embedded_pg exec --dir .embedded/pg-bench -- \\
        .venv/bin/python bench/backup_api.py [requests=3000] [threads=16] [projects=20]
It migrates the database, creates `benchapi-*` projects, starts gunicorn as in production
(DEBUG off, requests marked HTTPS as a TLS proxy does) with the rate limit raised
(BACKUPS_EXPORT_RATE_LIMIT), fires the requests from Python threads (each with its
own Idempotency-Key), prints the figures and removes everything it created.
"""

from __future__ import annotations

import logging
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings")
os.environ.setdefault("DEBUG", "1")
# Throwaway secrets shared with the server (it runs with DEBUG off, which requires them).
for _name in ("SECRET_KEY", "JWT_SECRET", "CRON_SECRET", "API_KEY_PEPPER"):
    os.environ.setdefault(_name, secrets.token_urlsafe(48))
os.environ.setdefault("PROVISIONING_ENCRYPTION_KEY", secrets.token_urlsafe(48))

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django_q.models import OrmQ  # noqa: E402

from controlplane.api.auth import issue_access_token  # noqa: E402
from controlplane.models import AuditLog, CacheEntry, Project, ProjectStatus  # noqa: E402
from controlplane.services import project_create  # noqa: E402
from jobs.models import Job  # noqa: E402
from provisioning.services import api_key_issue  # noqa: E402


def database_url() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{auth}@{quote(s['HOST'] or '', safe='')}:{s['PORT'] or 5432}/{s['NAME']}"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(port: int, prefix: str) -> subprocess.Popen[bytes]:
    # Production-like: DEBUG off (no query log), with the throwaway secrets set above.
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        # As behind the TLS proxy of production: requests say they came over HTTPS.
        "SECURE_PROXY_SSL_HEADER": "1",
        "LOG_LEVEL": "WARNING",
        "BACKUPS_EXPORT_RATE_LIMIT": "100000000/m",
        "CACHE_KEY_PREFIX": prefix,
    }
    command = [sys.executable, "-m", "gunicorn", "controlplane.wsgi", "-w", "2"]
    command += ["-b", f"127.0.0.1:{port}", "--log-level", "warning"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("gunicorn did not start")


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    n_projects = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    call_command("migrate", verbosity=0)
    stamp = uuid.uuid4().hex[:6]
    prefix = f"benchapi-{stamp}"
    projects = [
        project_create(slug=f"benchapi-{stamp}-{i}", name="bench", status=ProjectStatus.ACTIVE)
        for i in range(n_projects)
    ]
    tokens = {
        p.slug: issue_access_token(
            project_id=p.slug, api_key_id=api_key_issue(project=p, name="bench")[0].pk
        )["access_token"]
        for p in projects
    }
    last_ormq = OrmQ.objects.order_by("-id").values_list("id", flat=True).first() or 0
    port = free_port()
    proc = start_gunicorn(port, prefix)
    url = f"http://127.0.0.1:{port}/api/backup/export"
    local = threading.local()

    def call(i: int) -> tuple[float, int]:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(timeout=30)
        slug = projects[i % n_projects].slug
        started = time.perf_counter()
        response = client.post(
            url,
            json={"project_id": slug, "format": "sql", "compress": True},
            headers={
                "Authorization": f"Bearer {tokens[slug]}",
                "Idempotency-Key": f"b-{i}",
                "X-Forwarded-Proto": "https",
            },
        )
        return time.perf_counter() - started, response.status_code

    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(call, range(-threads * 4, 0)))  # warm-up: connections, caches
            started = time.perf_counter()
            results = list(pool.map(call, range(total)))
            elapsed = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        ids = [p.pk for p in projects]
        Job.objects.filter(project_id__in=ids).delete()
        OrmQ.objects.filter(id__gt=last_ormq).delete()
        AuditLog.objects.filter(target_type="project", target_id__in=[str(i) for i in ids]).delete()
        CacheEntry.objects.filter(cache_key__startswith=prefix).delete()
        Project.objects.filter(pk__in=ids).delete()

    latencies = sorted(r[0] * 1000 for r in results)
    codes: dict[int, int] = {}
    for _, code in results:
        codes[code] = codes.get(code, 0) + 1
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"POST /api/backup/export, gunicorn -w 2, {threads} client threads, "
        f"{n_projects} projects: {total} requests in {elapsed:.1f} s = "
        f"{total / elapsed:.0f} req/s | p50 {statistics.median(latencies):.1f} ms, "
        f"p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms | statuses {codes}"
    )


if __name__ == "__main__":
    main()
