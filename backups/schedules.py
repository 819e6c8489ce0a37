"""Recurring backup work: daily retention, and per-project daily exports (BackupSchedule).

A recurring job (see jobs.scheduling) runs `backup_schedules_run` every few minutes; it
enqueues an ordinary export_backup job for each enabled schedule whose UTC hour it is. The job's
idempotency key names the project's date and hour, so however often it runs within the
hour (or on however many clusters), each schedule gets at most one export per day.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from backups.models import BackupFormat, BackupSchedule
from backups.services import EXPORT_JOB, export_exclusive_key, export_payload
from controlplane.models import Project, ProjectStatus
from controlplane.services import audit_bulk_id, audit_log_record
from jobs.scheduling import RecurringJob
from jobs.services import enqueue_job

logger = logging.getLogger("backups")

# Short enough that an hour whose export found another export still running gets retried.
SCHEDULER_MINUTES = 10


# Job types, and the schedules' names (their exclusive keys).
RETENTION_JOB = "backups.retention"
SCHEDULED_EXPORTS_JOB = "backups.scheduled_exports"

SCHEDULES = [
    RecurringJob(name=RETENTION_JOB, type=RETENTION_JOB, minutes=24 * 60),
    RecurringJob(name=SCHEDULED_EXPORTS_JOB, type=SCHEDULED_EXPORTS_JOB, minutes=SCHEDULER_MINUTES),
]


def schedule_idempotency_key(at: datetime) -> str:
    """Return the idempotency key of a scheduled export due in the UTC hour of `at`."""
    return f"schedule:{at.astimezone(UTC).strftime('%Y-%m-%dT%H')}"


def backup_schedules_run(*, now: datetime | None = None) -> int:
    """Enqueue an export for every enabled schedule due this UTC hour; return how many are new."""
    now = now or timezone.now()
    hour = now.astimezone(UTC).hour
    key = schedule_idempotency_key(now)
    due = BackupSchedule.objects.filter(
        enabled=True, hour=hour, project__status=ProjectStatus.ACTIVE
    ).select_related("project")
    created = 0
    for schedule in due:
        try:
            created += _enqueue_scheduled(schedule=schedule, key=key)
        except Exception:
            # One broken schedule must not starve the others.
            logger.exception("scheduled export of %s failed to enqueue", schedule.project.slug)
    return created


@transaction.atomic(durable=True)
def _enqueue_scheduled(*, schedule: BackupSchedule, key: str) -> int:
    _, created = enqueue_job(
        type=EXPORT_JOB,
        payload=export_payload(
            project_slug=schedule.project.slug,
            format=schedule.format,
            compress=schedule.compress,
        ),
        project=schedule.project,
        idempotency_key=key,
        exclusive_key=export_exclusive_key(schedule.project),
    )
    return int(created)


# Not durable: the admin's change view calls it inside its own transaction (one unit then).
@transaction.atomic
def backup_schedule_set(
    *,
    project: Project,
    hour: int,
    format: str = BackupFormat.SQL,
    compress: bool = True,
    enabled: bool = True,
    actor: AbstractBaseUser | None,
) -> BackupSchedule:
    """Create or change the project's daily backup schedule."""
    if not 0 <= hour <= 23:
        raise ValueError("hour must be between 0 and 23 (UTC).")
    BackupFormat(format)
    schedule, _ = BackupSchedule.objects.update_or_create(
        project=project,
        defaults={
            "hour": hour,
            "format": format,
            "compress": compress,
            "enabled": enabled,
            "updated_at": timezone.now(),
        },
    )
    audit_log_record(
        actor=actor,
        action="backup_schedule.set",
        target_type="project",
        target_id=str(project.pk),
        project=project,
        details={"hour": hour, "format": format, "compress": compress, "enabled": enabled},
    )
    return schedule


@transaction.atomic(durable=True)
def backup_schedule_enable(
    *, schedule_ids: Iterable[Any], enabled: bool, actor: AbstractBaseUser | None
) -> int:
    """Turn the given schedules on or off; return how many changed."""
    ids = list(
        BackupSchedule.objects.filter(pk__in=list(schedule_ids), enabled=not enabled)
        .select_for_update()
        .values_list("pk", "project_id")
    )
    changed = BackupSchedule.objects.filter(
        pk__in=[pk for pk, _ in ids], enabled=not enabled
    ).update(enabled=enabled, updated_at=timezone.now())
    bulk_id = audit_bulk_id(ids)
    for _, project_id in ids:
        audit_log_record(
            actor=actor,
            action="backup_schedule.enable" if enabled else "backup_schedule.disable",
            target_type="project",
            target_id=str(project_id),
            project=project_id,
            bulk_id=bulk_id,
        )
    return changed


# Not durable: the admin's delete view calls it inside its own transaction.
@transaction.atomic
def backup_schedule_delete(*, schedule_ids: Iterable[Any], actor: AbstractBaseUser | None) -> int:
    """Delete the given schedules; return how many."""
    rows = list(
        BackupSchedule.objects.filter(pk__in=list(schedule_ids)).values_list("pk", "project_id")
    )
    deleted, _ = BackupSchedule.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
    bulk_id = audit_bulk_id(rows)
    for _, project_id in rows:
        audit_log_record(
            actor=actor,
            action="backup_schedule.delete",
            target_type="project",
            target_id=str(project_id),
            project=project_id,
            bulk_id=bulk_id,
        )
    return deleted
