"""Recurring work of the jobs app (see jobs.scheduling)."""

from __future__ import annotations

from jobs.handlers import PRUNE_JOB
from jobs.scheduling import RecurringJob

DAILY = 24 * 60

SCHEDULES = [RecurringJob(name=PRUNE_JOB, type=PRUNE_JOB, minutes=DAILY)]
