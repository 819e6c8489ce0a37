"""Run the whole stack for development: database, migrations, demo data, web server, qcluster."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

import httpx
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from controlplane.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError, default_cluster


class Command(BaseCommand):
    help = (
        "Start the embedded PostgreSQL cluster (unless DATABASE_URL is set), migrate, create "
        "demo data, then run the web server and a qcluster until interrupted; Ctrl-C stops all."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--addrport", default="127.0.0.1:8000")
        parser.add_argument("--noreload", action="store_true", help="no autoreload in runserver")

    def handle(self, *args: Any, addrport: str, noreload: bool, **options: Any) -> None:
        cluster: EmbeddedPostgres | None = None
        if not os.environ.get("DATABASE_URL"):
            cluster = default_cluster()
            self.stdout.write(f"Starting the embedded PostgreSQL cluster in {cluster.root} …")
            try:
                cluster.start()
            except EmbeddedPostgresError as exc:
                raise CommandError(str(exc)) from None
        children: list[subprocess.Popen[bytes]] = []
        stopping = False

        def request_stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            base = served_url(addrport)
            call_command("migrate", interactive=False, verbosity=0)
            banner = io.StringIO()
            call_command("seed_demo", url=base, stdout=banner)
            connections.close_all()
            manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
            runserver = [*manage, "runserver", addrport]
            if noreload:
                runserver.append("--noreload")
            # Links in job results and emails follow the address served here, unless set.
            env = {"BACKUPS_PUBLIC_URL": base, **os.environ}
            for command in (runserver, [*manage, "qcluster"]):
                # Own process groups: we stop each whole tree (runserver's reloader child too).
                children.append(subprocess.Popen(command, start_new_session=True, env=env))
            announced = False
            while not stopping:
                if not announced and _answers(f"{base}/healthz"):
                    # Last, once the server answers, so it doesn't scroll away under start-up.
                    self.stdout.write(banner.getvalue())
                    announced = True
                exited = [c for c in children if c.poll() is not None]
                if exited:
                    self.stderr.write(f"A child exited ({exited[0].returncode}); stopping all.")
                    break
                time.sleep(0.2)
        finally:
            _stop_all(children)
            if cluster is not None:
                cluster.stop()
                self.stdout.write("Stopped the web server, the qcluster and the database.")
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def served_url(addrport: str) -> str:
    """Return the base URL a browser on this machine uses for runserver's `addrport`."""
    host, _, port = addrport.rpartition(":")
    if not host:
        host = "127.0.0.1"
    # A wildcard bind answers on loopback too; it is not an address to link to.
    host = {"0.0.0.0": "127.0.0.1", "0": "127.0.0.1", "[::]": "[::1]"}.get(host, host)  # noqa: S104
    return f"http://{host}:{port}"


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _stop_all(children: list[subprocess.Popen[bytes]], grace: float = 15.0) -> None:
    """Send SIGTERM to each child, then SIGKILL its whole group (what outlives `grace`)."""
    for child in children:
        # The child itself: qcluster's main process stops its sentinel and workers in order.
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(child, signal.SIGKILL)
            child.wait()
        # Reap stragglers in the group (runserver's reloader child, qcluster workers).
        _signal_group(child, signal.SIGKILL)


def _signal_group(child: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, sig)
