"""Recurring work is Jobs: each app's `schedules.py` declares `SCHEDULES`, a list of these.

The engine's scheduler (django-q2's) fires a declared schedule every N minutes; firing
does one thing: enqueue a Job of the schedule's registered type, holding the schedule's
name as its exclusive key, so at most one run is pending or running at a time. The run
then has attempts, retries by its handler's policy, an audit trail and a place in the
console like any other job. `schedules_sync()` (the dispatcher calls it when a qcluster
starts) makes the engine's rows match the declarations, under one lock, and deletes the
rows of schedules no longer declared.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from controlplane.services import audit_log_record
from jobs import engine
from jobs.models import Job
from jobs.registry import get_handler
from jobs.services import enqueue_job

logger = logging.getLogger("jobs")


@dataclass(frozen=True)
class RecurringJob:
    """Enqueue a job of `type` every `minutes` (a value, or a callable reading settings)."""

    name: str
    type: str
    minutes: int | Callable[[], int]
    enabled: bool | Callable[[], bool] = True
    payload: Mapping[str, Any] = field(default_factory=dict)

    def every(self) -> int:
        return max(1, int(self.minutes() if callable(self.minutes) else self.minutes))

    def is_enabled(self) -> bool:
        return bool(self.enabled() if callable(self.enabled) else self.enabled)


def declared_schedules() -> dict[str, RecurringJob]:
    """Return every installed app's declared schedules by name (each type must be registered)."""
    declared: dict[str, RecurringJob] = {}
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.schedules")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.schedules":
                raise
            continue
        for schedule in getattr(module, "SCHEDULES", ()):
            if schedule.name in declared:
                raise ValueError(f"schedule {schedule.name!r} is declared twice")
            get_handler(schedule.type)  # an unknown type fails here, not at 3 a.m.
            declared[schedule.name] = schedule
    return declared


def schedules_sync() -> dict[str, int]:
    """Make the engine's schedules match the enabled declarations; return what changed."""
    enabled = {s.name: s.every() for s in declared_schedules().values() if s.is_enabled()}
    counts = engine.schedules_sync(minutes_by_name=enabled)
    logger.info("Schedules synced: %s declared and enabled, %s", len(enabled), counts)
    return counts


def schedule_fire(name: str) -> str | None:
    """Enqueue the job of schedule `name` unless one is active; return the job's id.

    The engine runs this at each tick; it is a plain function so a test can fire a tick.
    """
    schedule = declared_schedules().get(name)
    if schedule is None or not schedule.is_enabled():
        logger.warning("Schedule %s fired but is not declared (or is disabled)", name)
        return None
    job, created = schedule_enqueue(schedule)
    if not created:
        logger.info("Schedule %s: job %s is still active; no new run", name, job.pk)
    return str(job.pk)


def schedule_enqueue(schedule: RecurringJob) -> tuple[Job, bool]:
    """Enqueue one run of `schedule` (exclusive on its name); return (job, created)."""
    return enqueue_job(
        type=schedule.type, payload=dict(schedule.payload), exclusive_key=schedule.name
    )


def schedules_next_run() -> dict[str, datetime | None]:
    """Return when the engine fires each synced schedule next, by name (absent: not synced)."""
    return engine.schedule_next_runs()


@transaction.atomic(durable=True)
def schedule_run_now(
    *, name: str, actor: AbstractBaseUser | None, reason: str = ""
) -> tuple[Job, bool]:
    """Enqueue a run of declared schedule `name` now (audited); return (job, created).

    The schedule's exclusive key holds: while a run is active, that run is returned.
    """
    schedule = declared_schedules().get(name)
    if schedule is None:
        raise ValidationError({"schedule": f"No declared schedule {name!r}."})
    job, created = schedule_enqueue(schedule)
    audit_log_record(
        actor=actor,
        action="schedule.run_now",
        target_type="schedule",
        target_id=name,
        reason=reason,
        details={"job_id": str(job.pk), "created": created},
    )
    return job, created
