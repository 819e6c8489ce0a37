"""The lean ORM broker: batched dequeue without double hand-outs, acks folded into claims."""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import OrmQ
from django_q.signals import pre_execute
from django_q.signing import SignedPackage

from jobs import execution
from jobs.dispatcher import dispatch_once
from jobs.engine import broker
from jobs.engine.broker import JobsORMBroker
from jobs.engine.handoff import TASK_FUNC, hand_off
from jobs.models import JobStatus
from jobs.services import enqueue_job
from jobs.worker import execute_job

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        bool(os.environ.get("REDIS_URL")), reason="REDIS_URL is set: django-q2 queues in Redis"
    ),
]


def job_ids(rows: list[tuple[int, str]] | None) -> list[str]:
    return [SignedPackage.loads(payload)["args"][0] for _, payload in rows or []]


def test_settings__cluster_uses_the_lean_broker() -> None:
    assert isinstance(get_broker(), JobsORMBroker)


def test_dequeue__takes_a_batch_in_order_and_locks_it() -> None:
    ids = [f"job-{i}" for i in range(15)]
    hand_off(ids)
    lean = JobsORMBroker()
    first = lean.dequeue()
    assert job_ids(first) == ids[:10]  # Q_CLUSTER bulk
    assert job_ids(lean.dequeue()) == ids[10:]
    assert lean.dequeue() is None  # all locked: nothing is handed out twice
    locks = OrmQ.objects.values_list("lock", flat=True)
    assert all(lock > timezone.now() + timedelta(minutes=30) for lock in locks)


def test_dequeue__concurrent_pushers_never_share_a_row() -> None:
    ids = [f"job-{i}" for i in range(300)]
    hand_off(ids)
    taken: list[list[str]] = [[], [], []]
    start = threading.Barrier(3)

    def pusher(slot: int) -> None:
        lean = JobsORMBroker()
        start.wait()
        try:
            while rows := lean.dequeue():
                taken[slot].extend(job_ids(rows))
        finally:
            connection.close()

    threads = [threading.Thread(target=pusher, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [job for batch in taken for job in batch]
    assert sorted(everything) == sorted(ids)  # each row once, none lost
    assert all(taken), "every pusher got work (SKIP LOCKED, not a queue behind one lock)"


def deliver(job_id: str) -> dict[str, Any]:
    """Hand the job off, dequeue its delivery and announce it as django-q2's worker does."""
    dispatch_once()
    rows = JobsORMBroker().dequeue()
    assert rows is not None
    ((ack_id, payload),) = rows
    task = SignedPackage.loads(payload)
    assert task["func"] == TASK_FUNC and task["args"] == (job_id,)
    task["ack_id"] = ack_id
    pre_execute.send(sender="django_q", func=execute_job, task=task)
    return task


def test_claim__deletes_its_delivery_so_the_monitor_has_nothing_to_ack() -> None:
    job = enqueue_job(type="test.echo", payload={"value": 1})[0]
    task = deliver(str(job.pk))
    execute_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert not OrmQ.objects.exists()
    assert task["ack_id"] is None  # django-q2's monitor skips a falsy ack_id


def test_claim__a_losing_duplicate_delivery_is_deleted_too() -> None:
    job = enqueue_job(type="test.echo", payload={"value": 1})[0]
    deliver(str(job.pk))
    execute_job(str(job.pk))
    hand_off([str(job.pk)])  # a redelivery of a job that already ran
    task = deliver(str(job.pk))
    assert execution.job_claim(job_id=job.pk, worker="w", ack_id=task["ack_id"]) is None
    assert not OrmQ.objects.exists()


def test_delivery_ack_id__only_for_the_job_being_executed() -> None:
    job = enqueue_job(type="test.echo", payload={"value": 1})[0]
    task = deliver(str(job.pk))
    assert broker.delivery_ack_id(str(job.pk)) == task["ack_id"]
    assert broker.delivery_ack_id("another-job") is None
    task["ack_id"] = "redis-style-id"
    assert broker.delivery_ack_id(str(job.pk)) is None
