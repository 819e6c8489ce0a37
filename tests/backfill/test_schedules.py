"""The backfill's schedule follows BACKFILL_SCHEDULE_*; its job runs one scheduling pass."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from backfill.models import BackfillLog, BackfillStatus
from backfill.schedules import SCHEDULE_JOB, backfill_schedule_tick
from jobs import engine
from jobs.models import Job, JobStatus
from jobs.registry import housekeeping_types
from jobs.scheduling import schedule_fire
from jobs.worker import execute_job
from tests.backfill.test_services import RecordingEnqueue

pytestmark = pytest.mark.django_db


def test_schedule_sync__off_by_default_then_on_then_off(settings: Any) -> None:
    out = StringIO()
    call_command("backfill_schedule_sync", stdout=out)
    assert "disabled" in out.getvalue() and SCHEDULE_JOB not in engine.schedule_rows()

    settings.BACKFILL_SCHEDULE_ENABLED = True
    settings.BACKFILL_SCHEDULE_MINUTES = 5
    call_command("backfill_schedule_sync", stdout=StringIO())
    settings.BACKFILL_SCHEDULE_MINUTES = 7
    call_command("backfill_schedule_sync", stdout=StringIO())
    assert engine.schedule_rows()[SCHEDULE_JOB] == (engine.FIRE_FUNC, repr(SCHEDULE_JOB), 7)

    settings.BACKFILL_SCHEDULE_ENABLED = False
    call_command("backfill_schedule_sync", stdout=StringIO())
    assert SCHEDULE_JOB not in engine.schedule_rows()


def test_schedule_tick__claims_the_configured_number_of_months(seeded: Any, settings: Any) -> None:
    settings.BACKFILL_SCHEDULE_MAX_MONTHS = 2
    settings.BACKFILL_SCHEDULE_BATCH_SIZE = 9
    enqueue = RecordingEnqueue()
    assert backfill_schedule_tick(enqueue=enqueue) == {"candidates": 2, "scheduled": 2}
    claimed = BackfillLog.objects.filter(status=BackfillStatus.PROCESSING)
    assert set(claimed.values_list("month", "batch_size")) == {(12, 9), (11, 9)}
    jobs = Job.objects.filter(type="backfill_month")
    assert {(j.payload["month"], j.payload["batch_size"]) for j in jobs} == {(12, 9), (11, 9)}
    assert set(claimed.values_list("last_job_id", flat=True)) == {j.pk for j in jobs}


@pytest.mark.django_db(transaction=True)
def test_schedule_tick__is_what_the_schedules_job_runs(seeded: Any, settings: Any) -> None:
    settings.BACKFILL_SCHEDULE_ENABLED = True
    job_id = schedule_fire(SCHEDULE_JOB)
    assert job_id is not None
    assert schedule_fire(SCHEDULE_JOB) == job_id  # one run at a time: the exclusive key
    execute_job(str(job_id))
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.result) == (JobStatus.COMPLETED, {"candidates": 1, "scheduled": 1}), (
        job.last_error
    )
    assert SCHEDULE_JOB in housekeeping_types()
    assert Job.objects.filter(type="backfill_month").count() == 1
