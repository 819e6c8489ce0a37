"""What the seam (jobs/engine) relies on in django-q2, one test per behaviour.

An upgrade of django-q2 that changes any of these fails here by name, before it can break
delivery, acknowledgement, schedules or stopping in production.
"""

from __future__ import annotations

import inspect
import os
import signal
import uuid
from datetime import timedelta
from multiprocessing import Value
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from django_q import VERSION
from django_q.brokers import get_broker
from django_q.cluster import Sentinel
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule
from django_q.monitor import monitor
from django_q.queues import Queue
from django_q.scheduler import scheduler
from django_q.signing import SignedPackage
from django_q.tasks import async_task
from django_q.worker import worker

from jobs import engine
from jobs.engine import broker
from jobs.engine.checks import qcluster_is_ours
from jobs.engine.handoff import TASK_FUNC, task_package

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        bool(os.environ.get("REDIS_URL")), reason="REDIS_URL is set: django-q2 queues in Redis"
    ),
]
seen: dict[str, Any] = {}


def probe(job_id: str) -> str:
    """A task function: note what the seam sees while django-q2 runs it, then ack."""
    seen["ack_id"] = broker.delivery_ack_id(job_id)
    broker.delivery_acknowledged()
    return "ok"


def test_version__the_one_these_contracts_were_written_against() -> None:
    assert VERSION[:2] == (1, 11), "django-q2 moved: re-check every test in this file"


def test_queue_table__name_and_columns_the_raw_sql_uses() -> None:
    assert engine.QUEUE_TABLE == OrmQ._meta.db_table == "django_q_ormq"
    with connection.cursor() as cursor:
        columns = {
            c.name: c.type_code
            for c in connection.introspection.get_table_description(cursor, engine.QUEUE_TABLE)
        }
    assert {"id", "key", "payload", "lock"} <= set(columns)


def test_package__ours_is_what_async_task_builds() -> None:
    async_task(TASK_FUNC, "job-1", q_options={"save": False, "timeout": -1, "task_name": "x"})
    (row,) = OrmQ.objects.all()
    theirs = SignedPackage.loads(row.payload)
    ours = SignedPackage.loads(SignedPackage.dumps(task_package("job-1")))
    volatile = {"id", "name", "started"}
    assert {k: v for k, v in ours.items() if k not in volatile} == {
        k: v for k, v in theirs.items() if k not in volatile
    }
    assert row.key == get_broker().list_key


def test_worker__pre_execute_carries_the_dict_the_monitor_acks() -> None:
    # The worker announces the very task dict (ack_id included) before calling the function,
    # and hands that dict on: clearing ack_id inside the call is what the monitor sees.
    task = {**task_package("job-2"), "func": f"{__name__}.probe", "ack_id": 41}
    tasks, results = Queue(), Queue()
    tasks.put(task)
    tasks.put("STOP")
    worker(tasks, results, Value("f", -1))
    done = results.get(timeout=5)
    assert seen["ack_id"] == 41
    assert done["ack_id"] is None and done["success"] and done["result"] == "ok"


def test_monitor__acknowledges_a_truthy_ack_id_only() -> None:
    lean = get_broker()
    lean.enqueue("kept")
    lean.enqueue("acked")
    kept, acked = OrmQ.objects.order_by("id").values_list("id", flat=True)
    results = Queue()
    base = {**task_package("job-3"), "success": True, "result": None, "stopped": timezone.now()}
    results.put({**base, "ack_id": None})
    results.put({**base, "id": uuid.uuid4().hex, "ack_id": acked})
    results.put("STOP")
    monitor(results, lean)
    assert list(OrmQ.objects.values_list("id", flat=True)) == [kept]


def test_scheduler__fires_the_func_with_the_schedule_name_as_its_argument() -> None:
    engine.schedules_sync(minutes_by_name={"contract.tick": 5})
    Schedule.objects.update(next_run=timezone.now() - timedelta(minutes=1))
    scheduler(broker=get_broker())
    (row,) = OrmQ.objects.all()
    task = SignedPackage.loads(row.payload)
    assert (task["func"], task["args"]) == (engine.FIRE_FUNC, ("contract.tick",))
    assert Schedule.objects.get(name="contract.tick").next_run > timezone.now()


def test_scheduler__next_run_is_when_it_fires_next_and_moves_on_by_the_interval() -> None:
    engine.schedules_sync(minutes_by_name={"contract.tick": 5})
    due = timezone.now() - timedelta(minutes=1)
    Schedule.objects.update(next_run=due)
    assert engine.schedule_next_runs() == {"contract.tick": due}
    scheduler(broker=get_broker())
    after = engine.schedule_next_runs()["contract.tick"]
    assert after is not None and after > timezone.now()
    assert after - due >= timedelta(minutes=5)  # the next slot past now, on the interval


def test_sentinel__can_be_built_without_starting_and_restores_sigterm() -> None:
    params = list(inspect.signature(Sentinel.__init__).parameters)
    assert params[:4] == ["self", "stop_event", "start_event", "cluster_id"]
    assert "start" in params
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        from multiprocessing import Event

        Sentinel(Event(), Event(), uuid.uuid4(), start=False)
        # Why the seam sets SIG_IGN after building it: the sentinel resets SIGTERM itself.
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def test_conf__names_the_seam_uses() -> None:
    assert Conf.SIGNAL_NAMES[signal.SIGTERM] == "SIGTERM"
    assert Conf.BULK >= 1 and Conf.RETRY > Conf.TIMEOUT


def test_qcluster__the_command_is_ours() -> None:
    assert qcluster_is_ours() == []
