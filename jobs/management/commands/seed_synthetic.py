"""Seed synthetic projects and job history for benchmarks and demos (never run by a cluster)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.synthetic import NEVER_DUE, PROJECT_PREFIX, SYNTHETIC_WORKER, seed_synthetic


class Command(BaseCommand):
    help = (
        f"Insert synthetic projects ({PROJECT_PREFIX}NNNNN), jobs of every status over the "
        "last 30 days (dense in the last 24 h) with their attempts, one job with 25 attempts, "
        "backups of the completed exports and the backfill month grid. Nothing seeded runs: "
        f"pending jobs are scheduled {NEVER_DUE} ahead, running ones hold a lease of the "
        f"worker '{SYNTHETIC_WORKER}' as long. Additive: run it again to add more jobs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--jobs", type=int, default=100_000)
        parser.add_argument("--projects", type=int, default=100)

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        try:
            counts = seed_synthetic(
                jobs=options["jobs"],
                projects=options["projects"],
                progress=lambda line: self.stdout.write(
                    f"[{time.monotonic() - started:6.1f} s] {line}"
                ),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {counts.jobs} jobs ({counts.attempts} attempts) over "
                f"{counts.projects} projects, {counts.backups} backups, "
                f"{counts.backfill_months} backfill months in "
                f"{time.monotonic() - started:.1f} s. Job with 25 attempts: "
                f"{counts.many_attempts_job}"
            )
        )
