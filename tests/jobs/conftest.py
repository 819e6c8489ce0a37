"""Job-system fixtures: the test handlers, a ledger table and real qcluster processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection

from tests.conftest import PROJECT_ROOT
from tests.jobs import sample_handlers

HANDLERS_MODULE = "tests.jobs.sample_handlers"


@pytest.fixture
def ledger(transactional_db: None) -> Iterator[Callable[..., list[tuple[Any, ...]]]]:
    """Create the side-effect ledger; yield a reader of its rows."""
    with connection.cursor() as cursor:
        cursor.execute(sample_handlers.LEDGER_SQL)
        cursor.execute("TRUNCATE test_job_ledger, test_job_runs")

    def rows(table: str = "test_job_ledger") -> list[tuple[Any, ...]]:
        assert table in {"test_job_ledger", "test_job_runs"}
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT job_id, attempt, pid FROM {table}")  # noqa: S608
            return cursor.fetchall()

    yield rows
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS test_job_ledger, test_job_runs")


def test_database_url() -> str:
    """Return a URL for the database this test session created (pytest-django's test_*)."""
    s = connection.settings_dict
    host = quote(s["HOST"] or "", safe="")
    auth = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{auth}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


class Cluster:
    """One `manage.py qcluster` process (with its dispatcher) in its own process group."""

    def __init__(self, env: dict[str, str], log_path: str) -> None:
        self.log = open(log_path, "w")  # noqa: SIM115 (closed in stop)
        self.log_path = log_path
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the whole cluster: sentinel, workers, dispatcher, everything."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate_group(self) -> None:
        """SIGTERM the whole process group, as systemd's KillMode=control-group does."""
        os.killpg(self.proc.pid, signal.SIGTERM)

    def group_alive(self) -> bool:
        """Return whether any process of the group still runs (zombies awaiting init don't)."""
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            state, pgid = fields[0], int(fields[2])
            if pgid == self.proc.pid and state != "Z":
                return True
        return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            # The main process stops its sentinel and workers (signalling the whole group
            # works as well: see test_lifecycle.py).
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # stragglers
        self.log.close()

    def output(self) -> str:
        self.log.flush()
        with open(self.log_path) as fh:
            return fh.read()


@pytest.fixture
def qcluster(transactional_db: None, tmp_path: Any) -> Iterator[Callable[..., Cluster]]:
    """Start real qcluster processes against the test database; stop them afterwards."""
    clusters: list[Cluster] = []
    env = dict(os.environ)  # same broker (ORM or Redis) as this test process
    env.update(
        DATABASE_URL=test_database_url(),
        DEBUG="1",
        JOBS_EXTRA_HANDLER_MODULES=HANDLERS_MODULE,
        JOBS_LEASE_SECONDS="3",
        JOBS_RESCUE_INTERVAL="0.5",
        JOBS_DISPATCH_INTERVAL="0.2",
        JOBS_REDELIVER_AFTER="5",
        PYTHONUNBUFFERED="1",
    )

    def start(workers: int = 2, **extra: str) -> Cluster:
        cluster = Cluster(
            {**env, "Q_WORKERS": str(workers), **extra},
            str(tmp_path / f"qcluster-{len(clusters)}.log"),
        )
        clusters.append(cluster)
        return cluster

    yield start
    for cluster in clusters:
        cluster.stop()


def wait_until(predicate: Callable[[], bool], timeout: float = 30, interval: float = 0.1) -> None:
    """Poll `predicate` until true; fail the test with a message after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)
