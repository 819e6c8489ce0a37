"""`manage.py qcluster`: a django-q2 cluster with the job dispatcher beside it.

The cluster's life cycle (waiting for the database, signals, an orderly stop within
JOBS_STOP_GRACE seconds) is the engine's (jobs.engine.cluster); this command adds the
dispatcher thread (hand-off of due jobs, rescue of lost ones, schedule sync), started
after the fork, and releases the jobs of workers a late stop had to kill.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from jobs import dispatcher
from jobs.engine.cluster import ClusterRunner
from jobs.execution import jobs_release


class Command(BaseCommand):
    help = "Start a django-q2 cluster with the job dispatcher beside it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--run-once", action="store_true", help="Start, then stop at once.")
        parser.add_argument(
            "-n", "--name", dest="cluster_name", default=None, help="Queue (cluster) name."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        settings.SECRET_KEY  # noqa: B018 (signing needs it: fail before starting anything)
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        runner = ClusterRunner(grace=settings.JOBS_STOP_GRACE)
        runner.install_signal_handlers()
        if not runner.start():
            return  # stopped while waiting for the database
        stop = threading.Event()
        thread = threading.Thread(
            target=dispatcher.run, args=(stop,), name="dispatcher", daemon=True
        )
        try:
            if not options.get("run_once"):
                thread.start()
                runner.wait()
        finally:
            stop.set()
            if thread.is_alive():
                thread.join(timeout=max(1.0, settings.JOBS_DISPATCH_INTERVAL * 4))
            in_time = runner.stop(on_abandoned=lambda workers: jobs_release(workers=workers))
        if not in_time:
            sys.exit(1)
