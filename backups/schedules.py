"""Recurring backup work: daily retention, and per-project daily exports (BackupSchedule).

A recurring job (see jobs.scheduling) runs `backup_schedules_run` every few minutes; it
enqueues an ordinary export_backup job for each enabled schedule whose UTC hour it is. The job's
idempotency key names the project's date and hour, so however often it runs within the
hour (or on however many clusters), each schedule gets at most one export per day.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from backups.errors import ProjectUnavailable
from backups.models import BackupFormat, BackupSchedule
from backups.services import EXPORT_JOB, export_exclusive_key, export_payload
from controlplane.models import Project, ProjectStatus
from controlplane.services import audit_bulk_id, audit_log_record
from jobs.models import Job
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


# Every export a schedule enqueued (its hourly run or a staff "Run now") has a key with this
# prefix: the schedules page finds a schedule's last run by it.
SCHEDULE_KEY_PREFIX = "schedule:"


def schedule_idempotency_key(at: datetime) -> str:
    """Return the idempotency key of a scheduled export due in the UTC hour of `at`."""
    return f"{SCHEDULE_KEY_PREFIX}{at.astimezone(UTC).strftime('%Y-%m-%dT%H')}"


def backup_schedule_next_run(
    schedule: BackupSchedule, *, last_key: str | None, now: datetime | None = None
) -> datetime | None:
    """Return the start of the UTC hour the schedule exports next (None when it will not).

    `last_key` is its last run's idempotency key: the current hour counts only if that run
    was not this hour's (the scheduler looks every SCHEDULER_MINUTES within the hour).
    """
    if not schedule.enabled or schedule.project.status != ProjectStatus.ACTIVE:
        return None
    now = (now or timezone.now()).astimezone(UTC)
    start = now.replace(hour=schedule.hour, minute=0, second=0, microsecond=0)
    if start.hour == now.hour and last_key != schedule_idempotency_key(now):
        return start
    return start if start > now else start + timedelta(days=1)


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
    _, created = _schedule_export(schedule, key)
    return int(created)


def _schedule_export(schedule: BackupSchedule, key: str) -> tuple[Job, bool]:
    """Enqueue the schedule's export under idempotency `key` (one export per project)."""
    return enqueue_job(
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


@transaction.atomic(durable=True)
def backup_schedule_run_now(
    *, schedule_id: Any, actor: AbstractBaseUser | None, reason: str = ""
) -> tuple[Job, bool]:
    """Enqueue the schedule's export now (audited); return (job, created).

    One export per project at a time: while one is active, that job is returned. A project
    that is not active is refused (ProjectUnavailable), as the export itself would be.
    """
    schedule = BackupSchedule.objects.select_related("project").get(pk=schedule_id)
    project = schedule.project
    if project.status != ProjectStatus.ACTIVE:
        raise ProjectUnavailable(
            f"Project {project.slug} is {project.get_status_display().lower()}.",
            suspended=project.status == ProjectStatus.SUSPENDED,
        )
    job, created = _schedule_export(schedule, f"{SCHEDULE_KEY_PREFIX}now:{uuid.uuid4().hex}")
    audit_log_record(
        actor=actor,
        action="backup_schedule.run_now",
        target_type="project",
        target_id=str(project.pk),
        project=project.pk,
        reason=reason,
        details={"job_id": str(job.pk), "created": created},
    )
    return job, created


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
