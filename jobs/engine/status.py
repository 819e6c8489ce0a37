"""What the engine knows beyond our rows: live clusters, and its own task records."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django_q.brokers import get_broker
from django_q.models import Task
from django_q.status import Stat

logger = logging.getLogger("jobs")


def live_cluster_details() -> list[dict[str, Any]]:
    """Return each cluster that reported recently: id, host, status, worker pids, uptime."""
    try:
        stats = Stat.get_all(broker=get_broker())
    except Exception:  # the status cache is best effort
        logger.debug("cluster status unavailable", exc_info=True)
        return []
    return [
        {
            "cluster_id": str(s.cluster_id),
            "host": s.host,
            "status": s.status,
            "workers": list(s.workers),
            "uptime_seconds": s.uptime(),
        }
        for s in stats
    ]


def live_clusters() -> list[str]:
    """Return one line per cluster that reported its status recently (best effort)."""
    return [
        f"{c['cluster_id']} on {c['host']}: {c['status']}, {len(c['workers'])} workers,"
        f" up {c['uptime_seconds']:.0f} s"
        for c in live_cluster_details()
    ]


def task_rows_prune(*, before: datetime) -> int:
    """Delete django-q2's own task records (schedule runs) stopped before `before`."""
    deleted, _ = Task.objects.filter(stopped__lt=before).delete()
    return deleted
