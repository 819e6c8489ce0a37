"""Sync the recurring jobs' schedules now (the backfill's follows BACKFILL_SCHEDULE_*)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from jobs.scheduling import schedules_sync


class Command(BaseCommand):
    help = "Sync every declared schedule now; the backfill's follows BACKFILL_SCHEDULE_*."

    def handle(self, *args: Any, **options: Any) -> None:
        schedules_sync()
        enabled = settings.BACKFILL_SCHEDULE_ENABLED
        self.stdout.write("backfill schedule " + ("enabled" if enabled else "disabled"))
