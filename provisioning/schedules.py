"""Recurring provisioning work, ensured by the job dispatcher when a qcluster starts."""

from __future__ import annotations

from django_q.models import Schedule

from jobs.services import schedule_ensure

REVEAL_PURGE_SCHEDULE = "provisioning.api_key_reveal_purge"
ORPHANS_SCHEDULE = "provisioning.orphans_compensate"


def ensure_schedules() -> None:
    """Purge uncollected key reveals hourly; undo orphaned provisionings every 5 minutes."""
    schedule_ensure(
        name=REVEAL_PURGE_SCHEDULE,
        func="provisioning.services.api_key_reveal_purge",
        schedule_type=Schedule.HOURLY,
    )
    schedule_ensure(
        name=ORPHANS_SCHEDULE,
        func="provisioning.services.provisioning_orphans_compensate",
        schedule_type=Schedule.MINUTES,
        minutes=5,
    )
