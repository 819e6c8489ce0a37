"""django-q2's ORM broker with fewer round trips, and the acknowledgement folded into claims.

django-q2's ORM broker dequeues with a SELECT and then one UPDATE per task (each its own
commit), and its monitor acknowledges every task with one more DELETE. Here:

- `dequeue` locks a whole batch with one `UPDATE … RETURNING` over `FOR UPDATE SKIP LOCKED`
  rows, so clusters on several hosts never take the same row;
- a job's delivery is acknowledged by the worker's claim statement itself (`ack_id` below),
  so the monitor has nothing left to delete for it. Any other task (schedules, plain
  `async_task`) is acknowledged by the monitor as before.

Lock times come from the database clock, so hosts with skewed clocks agree on them.
"""

from __future__ import annotations

import os
import threading
from time import sleep
from typing import Any

from django import db
from django.db import connections
from django.dispatch import receiver
from django_q.brokers import Broker, get_broker
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signals import pre_execute

QUEUE_TABLE = OrmQ._meta.db_table
_broker: tuple[int, Broker] | None = None


def process_broker() -> Broker:
    """Return this process's broker (building one per task cost a health check each)."""
    global _broker
    if _broker is None or _broker[0] != os.getpid():
        _broker = (os.getpid(), get_broker())
    return _broker[1]


class JobsORMBroker(ORM):
    """The ORM broker, one statement per dequeued batch (settings: Q_CLUSTER broker_class)."""

    def dequeue(self) -> list[tuple[int, str]] | None:
        db.close_old_connections()  # as the ORM broker does: drop a broken or aged connection
        connection = connections[Conf.ORM]
        table = connection.ops.quote_name(QUEUE_TABLE)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {table} SET lock = now() + make_interval(secs => %s)
                 WHERE id IN (SELECT id FROM {table}
                               WHERE key = %s AND lock < now()
                               ORDER BY id LIMIT %s
                               FOR UPDATE SKIP LOCKED)
                RETURNING id, payload
                """,  # noqa: S608 (the table name is our model's, quoted)
                [Conf.RETRY, self.list_key, Conf.BULK],
            )
            rows = cursor.fetchall()
        if rows:
            return sorted(rows)
        sleep(Conf.POLL)  # an empty queue: spare the CPU, as the ORM broker does
        return None


# The task a worker process is running (django-q2 runs one at a time, in the main thread).
_running = threading.local()


@receiver(pre_execute, dispatch_uid="jobs.engine.broker.note_delivery")
def _note_delivery(sender: Any, func: Any, task: dict[str, Any], **kwargs: Any) -> None:
    _running.task = task


def delivery_ack_id(job_id: str) -> int | None:
    """Return the queue row of this job's delivery, if the worker's claim may delete it.

    Only under our broker (a row in the queue table) and only for the task being executed
    now; None otherwise (another broker, sync mode, a direct call), and the monitor then
    acknowledges as usual.
    """
    task = getattr(_running, "task", None)
    if (
        task is None
        or task.get("args") != (job_id,)
        or not isinstance(task.get("ack_id"), int)
        or not isinstance(process_broker(), JobsORMBroker)
    ):
        return None
    return int(task["ack_id"])


def delivery_acknowledged() -> None:
    """Tell the monitor that the claim already deleted this delivery's queue row."""
    _running.task["ack_id"] = None
