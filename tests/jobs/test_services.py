"""Enqueue options (idempotency, exclusivity, bulk), staff operations and retention."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import connections
from django.utils import timezone

from controlplane.models import AuditLog
from jobs import execution
from jobs.models import Job, JobStatus
from jobs.services import (
    JobSpec,
    enqueue_job,
    enqueue_jobs_bulk,
    job_cancel,
    job_retry,
    job_run_now,
    jobs_prune,
)
from jobs.worker import execute_job

pytestmark = pytest.mark.django_db(transaction=True)


def test_idempotency__20_concurrent_enqueues_make_one_job(project: Any) -> None:
    ids: list[Any] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def enqueue() -> None:
        try:
            barrier.wait()
            job = enqueue_job(
                type="test.echo", payload={"value": 1}, project=project, idempotency_key="same"
            )[0]
            ids.append(job.pk)
        except BaseException as exc:  # report in the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=enqueue) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(ids) == 20 and len(set(ids)) == 1
    assert Job.objects.filter(idempotency_key="same").count() == 1


def test_idempotency__ttl_releases_an_old_key(project: Any) -> None:
    old = enqueue_job(type="test.echo", payload={"value": 1}, project=project, idempotency_key="k")[
        0
    ]
    Job.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    again = enqueue_job(
        type="test.echo",
        payload={"value": 1},
        project=project,
        idempotency_key="k",
        idempotency_ttl=timedelta(hours=24),
    )[0]
    assert again.pk != old.pk
    old.refresh_from_db()
    assert old.idempotency_key is None


def test_exclusive_key__one_active_job_per_key() -> None:
    first, created_first = enqueue_job(type="test.echo", payload={"value": 1}, exclusive_key="a")
    second, created_second = enqueue_job(type="test.echo", payload={"value": 2}, exclusive_key="a")
    other, created_other = enqueue_job(type="test.echo", payload={"value": 3}, exclusive_key="b")
    assert second.pk == first.pk != other.pk
    assert (created_first, created_second, created_other) == (True, False, True)
    execute_job(str(first.pk))  # finished: the key is free again
    third, created = enqueue_job(type="test.echo", payload={"value": 4}, exclusive_key="a")
    assert third.pk != first.pk and created


def test_bulk__one_insert_and_handed_off_by_the_dispatcher() -> None:
    from jobs.dispatcher import dispatch_once

    ids = enqueue_jobs_bulk(
        jobs=[JobSpec(type="test.echo", payload={"value": i}) for i in range(25)]
    )
    assert len(ids) == 25
    assert Job.objects.filter(handed_off_at__isnull=True).count() == 25
    assert dispatch_once() == 25
    assert dispatch_once() == 0  # nothing is handed twice while it waits
    assert Job.objects.filter(handed_off_at__isnull=True).count() == 0


def test_enqueue__wakes_the_dispatchers_when_the_transaction_commits(staff_user: Any) -> None:
    from django.db import transaction

    from jobs.dispatcher import DUE_CHANNEL
    from tests.jobs.conftest import test_database_url

    with psycopg.connect(test_database_url(), autocommit=True) as listener:
        listener.execute(f"LISTEN {DUE_CHANNEL}")

        def woken() -> int:
            return len(list(listener.notifies(timeout=0.5)))

        with transaction.atomic():
            job = enqueue_job(type="test.permanent", payload={}, max_attempts=1)[0]
            assert woken() == 0  # not before the commit
        assert woken() == 1
        try:
            with transaction.atomic():
                enqueue_job(type="test.echo", payload={"value": 1})[0]
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        assert woken() == 0
        enqueue_jobs_bulk(jobs=[JobSpec(type="test.echo", payload={"value": i}) for i in range(3)])
        assert woken() == 1  # one per transaction, not per row
        execute_job(str(job.pk))
        assert woken() == 0  # the attempt's outcome is not a hand-off
        job_retry(job_ids=[job.pk], actor=staff_user, reason="again")
        assert woken() == 1  # a retried job waits for its hand-off again


def test_bulk__rows_match_what_enqueue_job_writes(project: Any) -> None:
    later = timezone.now() + timedelta(hours=1)
    single = enqueue_job(type="test.echo", payload={"value": 1}, project=project, priority=5)[0]
    ids = enqueue_jobs_bulk(
        jobs=[
            JobSpec(type="test.echo", payload={"value": 1}, project=project, priority=5),
            JobSpec(type="test.flaky", payload={"succeed_on": 2}, max_attempts=7),
            JobSpec(type="test.echo", payload={"value": 2}, scheduled_at=later),
        ]
    )
    rows = {job.pk: job for job in Job.objects.filter(pk__in=ids)}
    first, flaky, delayed = (rows[i] for i in ids)  # the ids come back in order
    fields = ["type", "payload", "project_id", "priority", "max_attempts", "status", "attempts"]
    fields += ["last_error", "worker", "result", "progress", "idempotency_key", "handed_off_at"]
    assert [getattr(first, f) for f in fields] == [getattr(single, f) for f in fields]
    assert first.created_at and first.updated_at and first.scheduled_at <= timezone.now()
    assert (flaky.type, flaky.max_attempts, flaky.project_id) == ("test.flaky", 7, None)
    assert delayed.scheduled_at == later and delayed.payload == {"value": 2}


def test_bulk__an_invalid_spec_writes_nothing() -> None:
    specs = [JobSpec(type="test.echo", payload={"value": 1})] * 3
    with pytest.raises(ValidationError) as bad:
        enqueue_jobs_bulk(jobs=[*specs, JobSpec(type="test.echo", payload={"value": "x"})])
    assert list(bad.value.message_dict) == ["payload.value"]
    with pytest.raises(ValidationError, match="At least one attempt"):
        enqueue_jobs_bulk(jobs=[JobSpec(type="test.echo", payload={"value": 1}, max_attempts=0)])
    assert not Job.objects.exists()
    assert enqueue_jobs_bulk(jobs=[]) == []


def test_retry__failed_job_gets_a_fresh_budget_and_audit(staff_user: Any) -> None:
    job = enqueue_job(type="test.permanent", payload={}, max_attempts=1)[0]
    execute_job(str(job.pk))
    assert job_retry(job_ids=[job.pk], actor=staff_user, reason="fixed upstream") == 1
    job.refresh_from_db()
    # A fresh budget: the type's 5 attempts again, counted from the one made.
    assert job.status == JobStatus.PENDING and job.max_attempts == 6 and job.completed_at is None
    audit = AuditLog.objects.get(action="job.retry")
    assert (audit.target_id, audit.reason, audit.actor_label) == (
        str(job.pk),
        "fixed upstream",
        "operator",
    )
    assert job_retry(job_ids=[job.pk], actor=staff_user) == 0  # pending: not retryable


def test_retry__skips_jobs_whose_exclusive_key_is_held(staff_user: Any) -> None:
    def failed(key: str) -> Job:
        job = enqueue_job(type="test.permanent", payload={}, max_attempts=1, exclusive_key=key)[0]
        execute_job(str(job.pk))
        return job

    older, newer = failed("k1"), failed("k1")
    blocked = failed("k2")
    holder = enqueue_job(type="test.permanent", payload={}, exclusive_key="k2")[0]  # pending
    free = failed("k3")
    ids = [older.pk, newer.pk, blocked.pk, free.pk]
    assert job_retry(job_ids=ids, actor=staff_user, reason="again") == 2
    status = dict(Job.objects.filter(pk__in=[*ids, holder.pk]).values_list("pk", "status"))
    assert status[newer.pk] == status[free.pk] == status[holder.pk] == JobStatus.PENDING
    assert status[older.pk] == status[blocked.pk] == JobStatus.FAILED


def test_run_now__only_delayed_pending_jobs(staff_user: Any) -> None:
    later = enqueue_job(
        type="test.echo", payload={"value": 1}, scheduled_at=timezone.now() + timedelta(hours=2)
    )[0]
    due = enqueue_job(type="test.echo", payload={"value": 1})[0]
    assert job_run_now(job_ids=[later.pk, due.pk], actor=staff_user) == 1
    later.refresh_from_db()
    assert later.scheduled_at <= timezone.now()
    assert AuditLog.objects.filter(action="job.run_now", target_id=str(later.pk)).exists()


def test_cancel__audited_and_idempotent(staff_user: Any) -> None:
    job = enqueue_job(type="test.echo", payload={"value": 1})[0]
    assert job_cancel(job_ids=[job.pk], actor=staff_user) == (1, 0)
    assert job_cancel(job_ids=[job.pk], actor=staff_user) == (0, 0)
    assert AuditLog.objects.filter(action="job.cancel").count() == 1


def test_prune__removes_only_finished_jobs_past_retention(settings: Any) -> None:
    settings.JOBS_RETENTION_DAYS = 30
    settings.JOBS_FAILED_RETENTION_DAYS = 90
    old_done = enqueue_job(type="test.echo", payload={"value": 1})[0]
    execute_job(str(old_done.pk))
    old_failed = enqueue_job(type="test.permanent", payload={})[0]
    execute_job(str(old_failed.pk))
    recent_failed = enqueue_job(type="test.permanent", payload={})[0]
    execute_job(str(recent_failed.pk))
    pending = enqueue_job(type="test.echo", payload={"value": 1})[0]
    Job.objects.filter(pk__in=[old_done.pk, pending.pk]).update(
        completed_at=timezone.now() - timedelta(days=31),
        created_at=timezone.now() - timedelta(days=400),
    )
    Job.objects.filter(pk=old_failed.pk).update(completed_at=timezone.now() - timedelta(days=91))
    Job.objects.filter(pk=recent_failed.pk).update(completed_at=timezone.now() - timedelta(days=31))
    assert jobs_prune() >= 2
    remaining = set(Job.objects.values_list("pk", flat=True))
    assert remaining == {recent_failed.pk, pending.pk}


def test_claim__progress_renews_lease_and_reports_cancel() -> None:
    job = enqueue_job(type="test.echo", payload={"value": 1})[0]
    claim = execution.job_claim(job_id=job.pk, worker="w")
    assert claim is not None
    before = Job.objects.get(pk=job.pk).lease_expires_at
    assert (
        execution.job_progress_record(
            job_id=job.pk, attempt=1, progress={"phase": "dump", "bytes": 10, "percent": None}
        )
        is False
    )
    job_cancel(job_ids=[job.pk], actor=None)
    assert execution.job_heartbeat(job_id=job.pk, attempt=1) is True
    job.refresh_from_db()
    assert job.progress == {"phase": "dump", "bytes": 10, "percent": None}
    assert job.lease_expires_at is not None and before is not None
    assert job.lease_expires_at >= before
