"""Make the django-q2 backfill schedule match BACKFILL_SCHEDULE_* (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from backfill.schedules import backfill_schedule_sync


class Command(BaseCommand):
    help = "Create, update or remove the django-q2 schedule that runs the backfill scheduler."

    def handle(self, *args: Any, **options: Any) -> None:
        exists = backfill_schedule_sync()
        self.stdout.write("backfill schedule " + ("enabled" if exists else "disabled"))
