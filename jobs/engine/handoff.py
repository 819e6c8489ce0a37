"""Hand jobs to django-q2: a task carries only the job id."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db import connections
from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signals import pre_enqueue
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from jobs.engine.broker import process_broker

TASK_FUNC = "jobs.worker.execute_job"
# Our Job row is the record: django-q2 keeps no result, and timeouts are ours.
_OPTIONS = {"save": False, "timeout": -1}


def task_package(job_id: str) -> dict[str, Any]:
    """Return the task package `async_task` would build for this job (pinned by a contract test)."""
    task: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "name": f"job-{job_id}",
        "func": TASK_FUNC,
        "args": (job_id,),
        **_OPTIONS,
    }
    if Conf.CACHED:
        task["cached"] = Conf.CACHED
    if Conf.ACK_FAILURES:
        task["ack_failure"] = Conf.ACK_FAILURES
    task["kwargs"] = {}
    task["started"] = timezone.now()
    pre_enqueue.send(sender="django_q", task=task)
    return task


def hand_off(job_ids: Iterable[str]) -> None:
    """Queue one django-q2 task per job id (duplicates are harmless: the claim dedups).

    With the ORM broker the queue rows are written directly, many per INSERT: async_task
    writes one row per call (a round trip and a commit each), which caps the dispatcher
    below what two workers drain. Any other broker (Redis) goes through async_task.
    """
    ids = [str(job_id) for job_id in job_ids]
    if not ids:
        return
    broker = process_broker()
    if not isinstance(broker, ORM) or Conf.SYNC:
        for job_id in ids:
            async_task(
                TASK_FUNC,
                job_id,
                q_options={**_OPTIONS, "task_name": f"job-{job_id}", "broker": broker},
            )
        return
    packages = [SignedPackage.dumps(task_package(job_id)) for job_id in ids]
    connection = connections[Conf.ORM]
    table = connection.ops.quote_name(OrmQ._meta.db_table)
    with connection.cursor() as cursor:
        # One statement for any number of rows: no ORM compile, no transaction around it.
        cursor.execute(
            f"INSERT INTO {table} (key, payload, lock) SELECT %s, unnest(%s::text[]), now()",
            [broker.list_key, packages],
        )
