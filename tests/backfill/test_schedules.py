"""The django-q2 schedule follows BACKFILL_SCHEDULE_*; a tick runs one scheduling pass."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils.module_loading import import_string
from django_q.models import Schedule

from backfill.models import BackfillLog, BackfillStatus
from backfill.schedules import SCHEDULE_NAME, TICK_FUNC, backfill_schedule_tick, ensure_schedules
from jobs.models import Job
from jobs.schedules import ensure_all_schedules
from tests.backfill.test_services import RecordingEnqueue

pytestmark = pytest.mark.django_db


def test_schedule_sync__off_by_default_then_on_then_off(settings: Any) -> None:
    out = StringIO()
    call_command("backfill_schedule_sync", stdout=out)
    assert "disabled" in out.getvalue() and not Schedule.objects.filter(name=SCHEDULE_NAME).exists()

    settings.BACKFILL_SCHEDULE_ENABLED = True
    settings.BACKFILL_SCHEDULE_MINUTES = 5
    call_command("backfill_schedule_sync", stdout=StringIO())
    settings.BACKFILL_SCHEDULE_MINUTES = 7
    call_command("backfill_schedule_sync", stdout=StringIO())
    (schedule,) = Schedule.objects.filter(name=SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        TICK_FUNC,
        Schedule.MINUTES,
        7,
        -1,
    )

    settings.BACKFILL_SCHEDULE_ENABLED = False
    call_command("backfill_schedule_sync", stdout=StringIO())
    assert not Schedule.objects.filter(name=SCHEDULE_NAME).exists()


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


def test_schedule_tick__is_what_the_schedule_runs(seeded: Any, settings: Any) -> None:
    settings.BACKFILL_SCHEDULE_ENABLED = True
    ensure_schedules()
    schedule = Schedule.objects.get(name=SCHEDULE_NAME)
    assert import_string(schedule.func)() == {"candidates": 1, "scheduled": 1}
    assert Job.objects.filter(type="backfill_month").count() == 1


def test_ensure_schedules__idempotent_and_collapses_duplicates(settings: Any) -> None:
    settings.BACKFILL_SCHEDULE_ENABLED = True
    settings.BACKFILL_SCHEDULE_MINUTES = 3
    for _ in range(2):  # rows from an older, unlocked sync
        Schedule.objects.create(name=SCHEDULE_NAME, func="old.func", schedule_type=Schedule.DAILY)
    ensure_schedules()
    ensure_schedules()
    (schedule,) = Schedule.objects.filter(name=SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        TICK_FUNC,
        Schedule.MINUTES,
        3,
    )


def test_ensure_schedules__called_by_the_dispatchers_hook(settings: Any) -> None:
    settings.BACKFILL_SCHEDULE_ENABLED = True
    ensure_all_schedules()
    assert Schedule.objects.filter(name=SCHEDULE_NAME, func=TICK_FUNC).count() == 1
    settings.BACKFILL_SCHEDULE_ENABLED = False
    ensure_all_schedules()
    assert not Schedule.objects.filter(name=SCHEDULE_NAME).exists()
