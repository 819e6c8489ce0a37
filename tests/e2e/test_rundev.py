"""`make run`'s entry point: own database, admin login over HTTP, a working qcluster, clean stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from controlplane.embedded_pg import EmbeddedPostgres
from tests.conftest import PROJECT_ROOT, free_port

pytestmark = pytest.mark.e2e


def wait_for(url: str, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def wait_for_text(path: Path, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while text not in (content := path.read_text()):
        assert time.monotonic() < deadline, f"{text!r} never appeared in:\n{content}"
        time.sleep(0.3)
    return content


def test_rundev__serves_admin_runs_tasks_and_stops_everything(scratch_dir: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DEBUG="1", EMBEDDED_PG_DIR=str(scratch_dir / "pg"), PYTHONUNBUFFERED="1")
    log = scratch_dir / "rundev.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "rundev",
                "--addrport",
                f"127.0.0.1:{port}",
                "--noreload",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_for(f"{base}/readyz").status_code == 200
        printed = wait_for_text(log, "stop with Ctrl-C")
        # The banner comes last, once the web server answers, not before its start-up lines.
        assert printed.index("Control plane is up") > printed.index("Starting development server")
        match = re.search(r"user: (\S+)\s+password: (\S+)", printed)
        assert match, printed
        user, password = match.groups()
        assert "acme-shop (active)" in printed and "initech (suspended)" in printed
        api_key = re.search(r"API key for acme-shop \(shown once\): (\S+)", printed)
        assert api_key, printed

        with httpx.Client(base_url=base, timeout=10) as http:
            login = http.get("/admin/login/")
            csrf = http.cookies["csrftoken"]
            response = http.post(
                "/admin/login/?next=/admin/",
                data={"username": user, "password": password, "csrfmiddlewaretoken": csrf},
                headers={"Referer": f"{base}/admin/login/"},
                follow_redirects=True,
            )
            assert login.status_code == 200
            assert response.status_code == 200 and "Operations dashboard" in response.text
            assert "acme-shop" in http.get("/admin/controlplane/project/").text
            token = http.post("/api/auth/token", json={"api_key": api_key.group(1)})
            assert token.status_code == 200, token.text
            assert token.json()["data"]["token_type"] == "Bearer"

        # The banner's shell lines work as printed: token, export, poll, download.
        commands = printed[printed.index("try it in a shell") :].splitlines()[1:]
        script = [line[4:] for line in commands if line.startswith("    ")]
        poll = next(i for i, line in enumerate(script) if line.endswith("# again until: completed"))
        script[poll] = (
            f'for i in $(seq 120); do [ "$(curl -s {base}/api/jobs/$JOB'
            ' -H "Authorization: Bearer $TOKEN" | data status)" = completed ] && break;'
            " sleep 0.5; done"
        )
        script.append(f'curl -s {base}/api/jobs/$JOB -H "Authorization: Bearer $TOKEN"')
        shell = subprocess.run(
            ["bash", "-ec", "\n".join(script)],
            cwd=scratch_dir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert shell.returncode == 0, shell.stderr
        assert "PostgreSQL database dump" in shell.stdout  # the head of the downloaded dump
        # Links follow the address rundev serves, not a fixed localhost:8000.
        assert f'"download_url":"{base}/' in shell.stdout.replace(" ", ""), shell.stdout
        assert (scratch_dir / "acme-shop.sql.gz").stat().st_size > 0

        # The server's access line carries the request id.
        httpx.get(f"{base}/healthz", headers={"X-Request-ID": "rundev-probe-1"}, timeout=5)
        access = wait_for_text(log, "[rundev-probe-1]")
        assert any(
            "GET /healthz" in line for line in access.splitlines() if "rundev-probe-1" in line
        )

        # The qcluster that rundev started executes a task put on its queue.
        task = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup();"
                "from django_q.tasks import async_task, result;"
                "tid = async_task('math.factorial', 10);"
                "print(result(tid, wait=30000))",
            ],
            cwd=PROJECT_ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "controlplane.settings"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert task.stdout.strip() == "3628800", task.stderr
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        proc.wait(timeout=60)
    assert proc.returncode == 0, log.read_text()
    assert EmbeddedPostgres(scratch_dir / "pg").running() is False
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
