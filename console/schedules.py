"""Recurring console work: a rollup job every minute (one per minute across every cluster)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from console.handlers import ROLLUP_JOB
from jobs.models import Job
from jobs.services import enqueue_job, schedule_ensure


def ensure_schedules() -> None:
    """Create or update the console's django-q2 schedule."""
    schedule_ensure(
        name="console.rollup",
        func="console.schedules.rollup_enqueue",
        schedule_type=Schedule.MINUTES,
        minutes=1,
    )


@transaction.atomic(durable=True)
def rollup_enqueue(*, now: datetime | None = None) -> Job:
    """Enqueue this minute's rollup job (the idempotency key makes it one per minute)."""
    now = now or timezone.now()
    return enqueue_job(
        type=ROLLUP_JOB,
        payload={},
        idempotency_key=f"rollup:{now.astimezone(UTC):%Y-%m-%dT%H:%M}",
    )
