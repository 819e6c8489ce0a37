"""The django-q2 schedule that runs the backfill scheduler, so no outside cron is needed."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django_q.models import Schedule

from backfill.services import EnqueueMonths, backfill_claim_months

SCHEDULE_NAME = "backfill-schedule"
TICK_FUNC = "backfill.schedules.backfill_schedule_tick"
SYNC_LOCK_ID = 0x62666C6C  # "bfll"; any constant, the same in every process


def backfill_schedule_tick(*, enqueue: EnqueueMonths | None = None) -> dict[str, int]:
    """Run one scheduling pass with BACKFILL_SCHEDULE_BATCH_SIZE and _MAX_MONTHS."""
    result = backfill_claim_months(
        batch_size=settings.BACKFILL_SCHEDULE_BATCH_SIZE,
        max_months=settings.BACKFILL_SCHEDULE_MAX_MONTHS,
        enqueue=enqueue,
    )
    return {"candidates": len(result.candidates), "scheduled": len(result.scheduled)}


def ensure_schedules() -> None:
    """Make the backfill schedule match settings (the jobs dispatcher calls this at start)."""
    backfill_schedule_sync()


@transaction.atomic(durable=True)
def backfill_schedule_sync() -> bool:
    """Create, update or remove the django-q2 schedule to match settings; return if it exists."""
    with connection.cursor() as cursor:
        # Schedule.name is not unique: serialise syncs (every qcluster runs one at start),
        # or two starting together could each create the row.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SYNC_LOCK_ID])
    rows = Schedule.objects.filter(name=SCHEDULE_NAME)
    if not settings.BACKFILL_SCHEDULE_ENABLED:
        rows.delete()
        return False
    fields: dict[str, Any] = {
        "func": TICK_FUNC,
        "schedule_type": Schedule.MINUTES,
        "minutes": max(1, settings.BACKFILL_SCHEDULE_MINUTES),
        "repeats": -1,
    }
    keep = rows.order_by("pk").values_list("pk", flat=True).first()
    if keep is None:
        Schedule.objects.create(name=SCHEDULE_NAME, **fields)
        return True
    rows.exclude(pk=keep).delete()  # duplicates from before the lock existed
    Schedule.objects.filter(pk=keep).update(**fields)
    return True
