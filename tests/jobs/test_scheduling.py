"""Recurring work is Jobs: declared schedules, synced under one lock, runs retried by policy."""

from __future__ import annotations

from typing import Any

import pytest

from jobs import engine
from jobs.dispatcher import _sync_schedules
from jobs.models import AttemptOutcome, Job, JobAttempt, JobStatus
from jobs.scheduling import RecurringJob, declared_schedules, schedule_fire, schedules_sync
from jobs.worker import execute_job

pytestmark = pytest.mark.django_db


def test_declared_schedules__every_app_declares_its_own() -> None:
    declared = declared_schedules()
    assert {
        "jobs.prune",
        "backups.retention",
        "backups.scheduled_exports",
        "provisioning.api_key_reveal_purge",
        "provisioning.orphans_compensate",
        "backfill.schedule",
    } <= set(declared)
    assert all(isinstance(s, RecurringJob) for s in declared.values())


def test_schedules_sync__removes_stale_rows_and_duplicates(settings: Any) -> None:
    settings.BACKFILL_SCHEDULE_ENABLED = False
    engine.schedules_sync(minutes_by_name={"gone.schedule": 5, "jobs.prune": 7})
    engine.schedules_sync(minutes_by_name={"jobs.prune": 7})  # as an older release would leave
    counts = schedules_sync()
    rows = engine.schedule_rows()
    assert "gone.schedule" not in rows and "backfill.schedule" not in rows
    assert rows["jobs.prune"] == (engine.FIRE_FUNC, "'jobs.prune'", 24 * 60)
    assert counts["updated"] == 1
    assert schedules_sync() == {"created": 0, "updated": 0, "deleted": 0}  # idempotent


@pytest.mark.django_db(transaction=True)
def test_schedule_fire__a_run_is_a_job_retried_by_its_policy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A declared schedule of a flaky type: its run fails once, then succeeds on retry.
    flaky = RecurringJob(
        name="test.flaky-schedule", type="test.flaky", minutes=1, payload={"succeed_on": 2}
    )
    real = declared_schedules()
    monkeypatch.setattr("jobs.scheduling.declared_schedules", lambda: {**real, flaky.name: flaky})
    job_id = schedule_fire(flaky.name)
    assert job_id is not None
    assert schedule_fire(flaky.name) == job_id  # still active: no second run
    execute_job(job_id)
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.attempts, job.exclusive_key) == (JobStatus.PENDING, 1, flaky.name)
    Job.objects.filter(pk=job_id).update(scheduled_at=job.created_at)  # due now, not after backoff
    execute_job(job_id)
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.COMPLETED, 2)
    outcomes = JobAttempt.objects.filter(job_id=job_id).order_by("number")
    assert [a.outcome for a in outcomes] == [AttemptOutcome.ERROR, AttemptOutcome.COMPLETED]
    assert schedule_fire(flaky.name) != job_id  # finished: the next tick starts a new run


def test_schedule_fire__an_undeclared_name_enqueues_nothing() -> None:
    assert schedule_fire("no.such.schedule") is None
    assert not Job.objects.exists()


def test_dispatcher__a_broken_declaration_is_logged_not_fatal(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> dict[str, RecurringJob]:
        raise ValueError("schedule 'x' is declared twice")

    monkeypatch.setattr("jobs.scheduling.declared_schedules", broken)
    _sync_schedules()  # the dispatcher goes on handing jobs off
    assert "Schedules not synced" in caplog.text and "declared twice" in caplog.text
