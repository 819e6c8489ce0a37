"""What the engine knows beyond our rows: live clusters, and its own task records."""

from __future__ import annotations

import logging
from datetime import datetime

from django_q.brokers import get_broker
from django_q.models import Task
from django_q.status import Stat

logger = logging.getLogger("jobs")


def live_clusters() -> list[str]:
    """Return one line per cluster that reported its status recently (best effort)."""
    try:
        stats = Stat.get_all(broker=get_broker())
    except Exception:  # the status cache is best effort
        logger.debug("cluster status unavailable", exc_info=True)
        return []
    return [
        f"{s.cluster_id} on {s.host}: {s.status}, {len(s.workers)} workers, up {s.uptime():.0f} s"
        for s in stats
    ]


def task_rows_prune(*, before: datetime) -> int:
    """Delete django-q2's own task records (schedule runs) stopped before `before`."""
    deleted, _ = Task.objects.filter(stopped__lt=before).delete()
    return deleted
