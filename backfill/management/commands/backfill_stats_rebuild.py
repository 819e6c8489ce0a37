"""Recompute the backfill stats rollup from backfill_log (repairs drift; safe to run anytime)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from backfill.rollup import backfill_stats_rebuild
from backfill.selectors import backfill_stats_drift


class Command(BaseCommand):
    help = "Recompute the backfill stats rollup from backfill_log and report any drift found."

    def handle(self, *args: Any, **options: Any) -> None:
        drift = backfill_stats_drift()
        backfill_stats_rebuild()
        self.stdout.write(f"rollup had drifted (rollup - truth): {drift}" if drift else "no drift")
        self.stdout.write("backfill stats rollup rebuilt")
