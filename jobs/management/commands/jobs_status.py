"""Print job counts, the oldest due job's age, running jobs' leases and live clusters."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from jobs.selectors import jobs_status_summary


class Command(BaseCommand):
    help = "Show counts by status and type, the oldest due pending job, running leases, clusters."

    def handle(self, *args: Any, **options: Any) -> None:
        summary = jobs_status_summary()
        out = self.stdout.write
        out("Jobs by status: " + ", ".join(f"{k}={v}" for k, v in summary["by_status"].items()))
        out("Jobs by type and status:")
        for (type_, status), count in sorted(summary["by_type"].items()):
            out(f"  {type_:<24} {status:<10} {count}")
        oldest = summary["oldest_due_pending_seconds"]
        out("Oldest due pending job: " + ("none" if oldest is None else f"{oldest:.1f} s waiting"))
        out(f"Running jobs ({len(summary['running'])}):")
        now = timezone.now()
        for job in summary["running"]:
            left = (job["lease_expires_at"] - now).total_seconds()
            lease = "expired" if left < 0 else f"{left:.0f} s left"
            out(
                f"  {job['id']} {job['type']} attempt {job['attempts']}/{job['max_attempts']} "
                f"on {job['worker'] or '?'}, lease {lease}"
            )
        out(f"Live clusters ({len(summary['clusters'])}):")
        for cluster in summary["clusters"]:
            out(f"  {cluster}")
