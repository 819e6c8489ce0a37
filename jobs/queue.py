"""Hand jobs to django-q2: a task carries only the job id."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from typing import Any

from django.db import connections, transaction
from django.utils import timezone
from django_q.brokers import Broker, get_broker
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signals import pre_enqueue
from django_q.signing import SignedPackage
from django_q.tasks import async_task

TASK_FUNC = "jobs.worker.execute_job"
_broker: tuple[int, Broker] | None = None


def _get_broker() -> Broker:
    """Return this process's broker (building one per task cost a health check each)."""
    global _broker
    if _broker is None or _broker[0] != os.getpid():
        _broker = (os.getpid(), get_broker())
    return _broker[1]


def _task(job_id: str) -> dict[str, Any]:
    """Return the task package async_task would build for this job."""
    task: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "name": f"job-{job_id}",
        "func": TASK_FUNC,
        "args": (job_id,),
        # Our Job row is the record: django-q2 keeps no result, and timeouts are ours.
        "save": False,
        "timeout": -1,
    }
    if Conf.CACHED:
        task["cached"] = Conf.CACHED
    if Conf.ACK_FAILURES:
        task["ack_failure"] = Conf.ACK_FAILURES
    task["kwargs"] = {}
    task["started"] = timezone.now()
    pre_enqueue.send(sender="django_q", task=task)
    return task


def hand_off_at_commit(job_ids: Iterable[str]) -> None:
    """Queue the jobs' tasks so that workers see them exactly when the caller's data commits.

    With the ORM broker the queue rows join the caller's transaction (one commit, and a
    rollback takes them too); any other broker is told after the commit.
    """
    ids = [str(job_id) for job_id in job_ids]
    if isinstance(_get_broker(), ORM) and not Conf.SYNC:
        hand_off(ids)
    else:
        transaction.on_commit(lambda: hand_off(ids))


def hand_off(job_ids: Iterable[str]) -> None:
    """Queue one django-q2 task per job id (duplicates are harmless: the claim dedups).

    With the ORM broker the queue rows are written directly, many per INSERT: async_task
    writes one row per call, and checks the connection's health before each.
    """
    ids = [str(job_id) for job_id in job_ids]
    if not ids:
        return
    broker = _get_broker()
    if not isinstance(broker, ORM) or Conf.SYNC:
        for job_id in ids:
            async_task(
                TASK_FUNC,
                job_id,
                q_options={
                    "save": False,
                    "timeout": -1,
                    "task_name": f"job-{job_id}",
                    "broker": broker,
                },
            )
        return
    packages = [SignedPackage.dumps(_task(job_id)) for job_id in ids]
    connection = connections[Conf.ORM]
    table = connection.ops.quote_name(OrmQ._meta.db_table)
    with connection.cursor() as cursor:
        # One statement for any number of rows: no ORM compile, no transaction around it.
        cursor.execute(
            f"INSERT INTO {table} (key, payload, lock) SELECT %s, unnest(%s::text[]), %s",
            [broker.list_key, packages, timezone.now()],
        )
