"""django-q2's scheduler as our clock: one Schedule row per declared recurring job."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.db import connection, transaction
from django_q.models import Schedule

# The task each Schedule row runs: it only enqueues the Job (see jobs.scheduling).
FIRE_FUNC = "jobs.scheduling.schedule_fire"
# Transaction-level advisory lock: clusters starting together must not both create a row
# (Schedule.name is not unique). Any constant works; the same in every process.
SCHEDULES_LOCK_ID = 0x7363686564  # "sched"


@transaction.atomic
def schedules_sync(*, minutes_by_name: Mapping[str, int]) -> dict[str, int]:
    """Make the Schedule rows exactly the declared ones; return counts of the changes.

    Each declared name gets one row firing FIRE_FUNC(name) every N minutes; every other
    row (a schedule no longer declared, a duplicate, one from an older release) is deleted.
    An unchanged row keeps its next_run, so a restart does not shift the clock.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEDULES_LOCK_ID])
    counts = {"created": 0, "updated": 0, "deleted": 0}
    deleted, _ = Schedule.objects.exclude(name__in=list(minutes_by_name)).delete()
    counts["deleted"] += deleted
    for name, minutes in minutes_by_name.items():
        if minutes < 1:
            raise ValueError(f"schedule {name!r}: minutes must be at least 1")
        fields = {
            "func": FIRE_FUNC,
            "args": repr(name),
            "kwargs": None,
            "schedule_type": Schedule.MINUTES,
            "minutes": minutes,
            "repeats": -1,
        }
        rows = Schedule.objects.filter(name=name).order_by("pk")
        keep = rows.first()
        if keep is None:
            Schedule.objects.create(name=name, **fields)
            counts["created"] += 1
            continue
        counts["deleted"] += rows.exclude(pk=keep.pk).delete()[0]
        if any(getattr(keep, k) != v for k, v in fields.items()):
            Schedule.objects.filter(pk=keep.pk).update(**fields)
            counts["updated"] += 1
    return counts


def schedule_rows() -> dict[str, tuple[str, str | None, int | None]]:
    """Return {name: (func, args, minutes)} of every Schedule row (for tests and status)."""
    return {
        s.name: (s.func, s.args, s.minutes)
        for s in Schedule.objects.only("name", "func", "args", "minutes")
    }


def schedule_next_runs() -> dict[str, datetime | None]:
    """Return {name: next_run} of every Schedule row (when the engine will fire it next)."""
    return dict(Schedule.objects.values_list("name", "next_run"))
