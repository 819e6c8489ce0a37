"""`manage.py restore_backup <backup-id> <new-slug> [--wait]`: restore into a new project."""

from __future__ import annotations

import getpass
import json
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backups.services import backup_restore_request
from jobs.models import TERMINAL_STATUSES, JobStatus


class Command(BaseCommand):
    help = (
        "Provision a new project and enqueue the restore_backup job that loads the backup "
        "into it once it is ACTIVE. With --wait, wait for the restore and print its result."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup_id")
        parser.add_argument("new_slug")
        parser.add_argument("--name", default="", help="Display name of the new project.")
        parser.add_argument("--actor", default="", help="Username recorded in the audit log.")
        parser.add_argument("--wait", action="store_true", help="Wait for the restore job.")
        parser.add_argument("--timeout", type=float, default=1800.0)
        parser.add_argument("--poll", type=float, default=1.0)

    def handle(self, *args: Any, **options: Any) -> None:
        actor = None
        if options["actor"]:
            actor = get_user_model().objects.filter(username=options["actor"]).first()
            if actor is None:
                raise CommandError(f"No user {options['actor']!r}.")
        try:
            project, job = backup_restore_request(
                backup_id=options["backup_id"],
                new_slug=options["new_slug"],
                name=options["name"],
                actor=actor,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(
            f"Project {project.slug} is provisioning; restore job {job.pk} waits for it "
            f"(requested by {actor or getpass.getuser()})."
        )
        if not options["wait"]:
            return
        deadline = time.monotonic() + options["timeout"]
        while True:
            job.refresh_from_db()
            if job.status in TERMINAL_STATUSES:
                break
            if time.monotonic() > deadline:
                raise CommandError(f"Job {job.pk} is still {job.status}; stopped waiting.")
            time.sleep(options["poll"])
        if job.status != JobStatus.COMPLETED:
            raise CommandError(f"Restore job {job.pk} {job.status}: {job.last_error}")
        self.stdout.write(json.dumps(job.result, indent=2, sort_keys=True))
