"""Recurring console work (see jobs.scheduling): keep the dashboard's rollups current."""

from __future__ import annotations

from console.handlers import ROLLUP_JOB
from jobs.scheduling import RecurringJob

SCHEDULES = [RecurringJob(name=ROLLUP_JOB, type=ROLLUP_JOB, minutes=1)]
