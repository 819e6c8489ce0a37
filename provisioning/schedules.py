"""Recurring provisioning work (see jobs.scheduling)."""

from __future__ import annotations

from jobs.scheduling import RecurringJob

# Job types, and the schedules' names (their exclusive keys).
REVEAL_PURGE_JOB = "provisioning.api_key_reveal_purge"
ORPHANS_JOB = "provisioning.orphans_compensate"

SCHEDULES = [
    # Uncollected key reveals go within the hour.
    RecurringJob(name=REVEAL_PURGE_JOB, type=REVEAL_PURGE_JOB, minutes=60),
    # A provisioning whose job is gone is undone within minutes.
    RecurringJob(name=ORPHANS_JOB, type=ORPHANS_JOB, minutes=5),
]
