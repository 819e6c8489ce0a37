"""django-q2's qcluster, with the job dispatcher running in the cluster's main process.

django-q2's main process only starts the sentinel (which forks the workers) and then idles
until a signal stops it; the dispatcher (hand-off of due jobs, rescue of lost ones) runs
there as a thread, started after the fork, and stops with the cluster.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from django.conf import settings
from django.db import connections
from django_q.cluster import Cluster
from django_q.management.commands.qcluster import Command as QClusterCommand

from jobs import dispatcher


class Command(QClusterCommand):
    help = "Start a django-q2 cluster with the job dispatcher beside it."

    def handle(self, *args: Any, **options: Any) -> None:
        settings.SECRET_KEY  # noqa: B018 (signing needs it: fail before starting anything)
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        # django-q2 closes "old" connections before every task; with health checks on that
        # is one extra SELECT 1 per task. Workers meet a dead connection on first use anyway
        # (the task then fails and the dispatcher redelivers the job), so skip the check here.
        connections["default"].settings_dict["CONN_HEALTH_CHECKS"] = False
        cluster = Cluster()
        cluster.start()
        if options.get("run_once", False):
            cluster.stop()
            return
        stop = threading.Event()
        thread = threading.Thread(
            target=dispatcher.run, args=(stop,), name="dispatcher", daemon=True
        )
        thread.start()
        # SIGTERM/SIGINT reach Cluster's handler in this (main) thread, which stops the sentinel.
        while cluster.sentinel.is_alive():
            time.sleep(0.5)
        stop.set()
        thread.join(timeout=10)
