"""Health probes: /healthz while serving, /readyz follows the database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_healthz_and_readyz__ok(client: Client) -> None:
    assert client.get("/healthz").json() == {"data": {"status": "ok"}}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"data": {"status": "ok", "database": "up"}}


def test_readyz__503_when_the_database_is_down(tmp_path: Path) -> None:
    # A process whose database socket has nobody listening behind it.
    script = (
        "import django; django.setup();"
        "from django.test import Client; c = Client(HTTP_HOST='localhost');"
        "print(c.get('/healthz').status_code, c.get('/readyz').status_code,"
        " c.get('/readyz').content.decode())"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "controlplane.settings",
        "DATABASE_URL": f"postgres://nobody@{str(tmp_path).replace('/', '%2F')}:5432/none",
        "DATABASE_CONNECT_TIMEOUT": "2",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    healthz, readyz, body = result.stdout.strip().split(" ", 2)
    assert (healthz, readyz) == ("200", "503")
    assert '"database": "down"' in body
