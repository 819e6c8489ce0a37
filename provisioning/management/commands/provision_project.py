"""`manage.py provision_project <slug> ... [--wait]`: create and provision a project for ops."""

from __future__ import annotations

import getpass
import json
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.models import TERMINAL_STATUSES, Job, JobStatus
from provisioning.models import ServiceName
from provisioning.services import api_key_reveal_consume, project_provision_request


def _services(value: str) -> dict[str, bool]:
    names = {n.strip().lower() for n in value.split(",") if n.strip()} - {"none"}
    unknown = sorted(names - set(ServiceName.values))
    if unknown:
        raise CommandError(
            f"Unknown service(s) {', '.join(unknown)}: choose among "
            f"{', '.join(ServiceName.values)} (or 'none')."
        )
    return {s: s in names for s in ServiceName.values}


class Command(BaseCommand):
    help = (
        "Create a project in PROVISIONING and enqueue its provision_project job. With --wait, "
        "wait for the job, print the new API keys once (their only reveal), then the result."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", help="Display name (defaults to the slug).")
        parser.add_argument("--region", default="local")
        parser.add_argument("--owner", default="", help="Owner id.")
        parser.add_argument("--organization", default="", help="Organization id.")
        parser.add_argument(
            "--services",
            default=",".join(ServiceName.values),
            help="Comma-separated services to register with, or 'none' (default: all).",
        )
        parser.add_argument("--api-keys", type=int, default=1, dest="api_keys")
        parser.add_argument("--prefix", default="", help="API key prefix (default: the slug).")
        parser.add_argument("--wait", action="store_true", help="Wait for the job to finish.")
        parser.add_argument(
            "--timeout", type=float, default=600.0, help="Seconds --wait waits (default 600)."
        )
        parser.add_argument(
            "--poll", type=float, default=0.5, help="Seconds between checks while waiting."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        services = _services(options["services"])
        try:
            project, job = project_provision_request(
                slug=options["slug"],
                name=options["name"] or options["slug"],
                region=options["region"],
                owner_id=options["owner"],
                organization_id=options["organization"],
                services=services,
                api_key_count=options["api_keys"],
                api_key_prefix=options["prefix"] or None,
                actor=None,
                reason=f"manage.py provision_project, run by OS user {getpass.getuser()}",
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        if not options["wait"]:
            self.stderr.write(f"Project {project.slug} created; provisioning job enqueued:")
            self.stdout.write(str(job.pk))
            return
        self.stderr.write(f"Waiting for provisioning job {job.pk} of {project.slug}…")
        job = self._wait(job, timeout=options["timeout"], poll=options["poll"])
        if job.status != JobStatus.COMPLETED:
            raise CommandError(
                f"Provisioning job {job.pk} {job.status}: {job.last_error or 'no error recorded'}"
            )
        revealed = api_key_reveal_consume(project=project, actor=None)
        self.stderr.write(
            f"{len(revealed)} new API key(s) follow; this is their only reveal, store them now."
        )
        for _, plaintext in revealed:
            self.stdout.write(plaintext)
        self.stdout.write(json.dumps(job.result, indent=2, sort_keys=True))

    def _wait(self, job: Job, *, timeout: float, poll: float) -> Job:
        """Poll the job row until it is finished; CommandError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            job = Job.objects.get(pk=job.pk)
            if job.status in TERMINAL_STATUSES:
                return job
            if time.monotonic() >= deadline:
                raise CommandError(
                    f"Timed out after {timeout:g} s waiting for provisioning job {job.pk} "
                    f"(still {job.status}; is a qcluster running?). It carries on in the "
                    "background; its project page in the admin shows the outcome."
                )
            time.sleep(poll)
