"""Real processes: an export through a qcluster, and the rate limit across two gunicorn workers."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from django_ratelimit.core import _get_window
from rest_framework.test import APIClient

from tests.backups.conftest import fresh_rate_window
from tests.backups.restore import fresh_restore, schema_contents
from tests.conftest import PROJECT_ROOT, bearer, free_port, project_token
from tests.jobs import conftest as jobs_conftest
from tests.jobs.conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def poll_job(client: APIClient, location: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def finished() -> bool:
        seen.update(client.get(location).json()["data"])
        return seen["status"] in ("completed", "failed", "cancelled")

    wait_until(finished, timeout=60, interval=0.2)
    return seen


def test_export__through_a_qcluster_to_a_restorable_download(
    tenant: Any, backup_store: Path, qcluster: Callable[..., Any], tmp_path: Path
) -> None:
    project = tenant("acme-shop")
    source = schema_contents(None, project.schema_name)
    cluster = qcluster(workers=2, BACKUPS_ROOT=str(backup_store))
    client = bearer(APIClient(), project_id="acme-shop")

    for body, compressed in (
        ({"project_id": "acme-shop"}, True),
        ({"project_id": "acme-shop", "format": "tar", "compress": False}, False),
    ):
        accepted = client.post("/api/backup/export", body, format="json")
        assert accepted.status_code == 202
        job = poll_job(client, accepted["Location"])
        assert job["status"] == "completed", (job["last_error"], cluster.output()[-3000:])
        result = job["result"]
        assert job["progress"]["phase"] == "stored"

        download = client.get(f"/api/backups/{result['backup_id']}/download")
        assert download.status_code == 302
        for url in (result["download_url"], download["Location"]):
            response = APIClient().get(urlsplit(url).path)
            assert response.status_code == 200
            target = tmp_path / f"dump-{result['backup_id']}"
            target.write_bytes(b"".join(response.streaming_content))
            fmt = body.get("format", "sql")
            with fresh_restore(target, format=fmt, compressed=compressed) as db:
                assert schema_contents(db, project.schema_name) == source


@contextlib.contextmanager
def gunicorn(workers: int, log: Path, *extra: str, **env: str) -> Iterator[str]:
    """Run `gunicorn controlplane.wsgi` against the test database; yield its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "controlplane.wsgi", "-w", str(workers), *extra]
    command += ["-b", f"127.0.0.1:{port}", "--access-logfile", "-", "--access-logformat"]
    command += ["pid=%(p)s path=%(U)s status=%(s)s"]
    environ = {
        **os.environ,
        "DATABASE_URL": jobs_conftest.test_database_url(),
        "DEBUG": "1",
        "CACHE_KEY_PREFIX": f"gunicorn-{os.urandom(4).hex()}",
        **env,
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT
        )
        base = f"http://127.0.0.1:{port}"
        try:

            def ready() -> bool:
                try:
                    return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
                except httpx.TransportError:
                    assert proc.poll() is None, log.read_text()
                    return False

            wait_until(ready, timeout=30, interval=0.2)
            yield base
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_export__rate_limit_shared_by_two_gunicorn_workers(tenant: Any, tmp_path: Path) -> None:
    tenant("acme-shop")
    token = project_token("acme-shop")
    headers = {"Authorization": f"Bearer {token}"}
    log = tmp_path / "gunicorn.log"
    # No worker process serves more than 8 requests, so 15 calls need at least two of them.
    with gunicorn(2, log, "--max-requests", "8") as base:
        fresh_rate_window("project:acme-shop", need=20)

        def call(_: int) -> httpx.Response:
            return httpx.post(
                f"{base}/api/backup/export",
                json={"project_id": "acme-shop"},
                headers=headers,
                timeout=30,
            )

        window = _get_window("project:acme-shop", 60)
        with ThreadPoolExecutor(max_workers=15) as pool:
            responses = list(pool.map(call, range(15)))
        same_window = window == _get_window("project:acme-shop", 60)

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {202, 429}, statuses
    assert 1 <= statuses.count(202) <= 10, (statuses, log.read_text())
    if same_window:  # and none of the 15 increments was lost between the processes
        assert statuses.count(202) == 10, (statuses, log.read_text())
    limited = [r for r in responses if r.status_code == 429]
    assert all(1 <= int(r.headers["Retry-After"]) <= 60 for r in limited)
    assert {r.json()["data"]["job_id"] for r in responses if r.status_code == 202} == {
        responses[statuses.index(202)].json()["data"]["job_id"]
    }
    served_by = re.findall(r"pid=<?(\d+)>? path=/api/backup/export ", log.read_text())
    assert len(served_by) == 15 and len(set(served_by)) >= 2, log.read_text()
