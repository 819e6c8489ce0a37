"""Recurring work through django-q2's scheduler: each app's `schedules.py` declares its own.

An app's `<app>/schedules.py` defines `ensure_schedules()`, which creates or updates its
django-q2 `Schedule` rows idempotently (see `jobs.services.schedule_ensure`). The dispatcher
calls every app's once when it starts, so a deploy never needs a manual step.
"""

from __future__ import annotations

import importlib
import logging

from django.apps import apps
from django.db import connection
from django_q.models import Schedule

from jobs.services import schedule_ensure

logger = logging.getLogger("jobs")


def ensure_schedules() -> None:
    """Prune finished jobs (and django-q2's task rows) daily."""
    schedule_ensure(
        name="jobs.prune", func="jobs.services.jobs_prune", schedule_type=Schedule.DAILY
    )


# Session-level advisory lock: clusters starting together must not both create a schedule.
SCHEDULES_LOCK_ID = 0x7363686564  # "sched"


def ensure_all_schedules() -> None:
    """Call `ensure_schedules()` of every installed app that has a schedules module."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [SCHEDULES_LOCK_ID])
    try:
        _ensure_each_app()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [SCHEDULES_LOCK_ID])


def _ensure_each_app() -> None:
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.schedules")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.schedules":
                raise
            continue
        ensure = getattr(module, "ensure_schedules", None)
        if callable(ensure):
            ensure()
            logger.info("Schedules of %s ensured", config.name)
