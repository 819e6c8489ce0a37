"""Restore a backup into a new project: provision it the normal way, then load the dump."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from backups.errors import BackupError, BackupPermanentError
from backups.models import Backup
from backups.pgtools import DatabaseParams
from backups.restore import restore_into_schema, schema_relation_count
from backups.storage import backups_storage
from controlplane.models import Project, ProjectStatus
from controlplane.services import audit_log_record
from jobs.models import Job
from jobs.services import enqueue_job
from provisioning.services.requests import project_provision_request

RESTORE_JOB = "restore_backup"


class ProjectNotReady(BackupError):
    """Raise while the target project is still being provisioned: retry later."""


def backup_restore_request(
    *,
    backup_id: Any,
    new_slug: str,
    name: str = "",
    actor: AbstractBaseUser | None,
) -> tuple[Project, Job]:
    """Create `new_slug` through the provisioning job and enqueue the restore that waits for it.

    Two transactions: provisioning's request owns its own. Should the second fail, the new
    project exists without a restore, and staff can request one with restore_backup.
    """
    backup = Backup.objects.select_related("project").filter(pk=backup_id).first()
    if backup is None:
        raise ValidationError({"backup": "No such backup."})
    source = backup.project
    project, _ = project_provision_request(
        slug=new_slug,
        name=(name or f"{source.name} (restored)")[:200],
        region=source.region,
        owner_id=source.owner_id,
        organization_id=source.organization_id,
        services={},
        api_key_count=1,
        actor=actor,
        reason=f"restore of backup {backup.pk} of {source.slug}",
    )
    return project, backup_restore_enqueue(backup=backup, project=project, actor=actor)


@transaction.atomic(durable=True)
def backup_restore_enqueue(
    *, backup: Backup, project: Project, actor: AbstractBaseUser | None
) -> Job:
    """Enqueue the restore of `backup` into `project` (one active restore per project)."""
    if project.pk == backup.project_id:
        raise ValidationError({"project": "A backup is never restored over its own project."})
    job, created = enqueue_job(
        type=RESTORE_JOB,
        payload={
            "backup_id": str(backup.pk),
            "project_id": project.slug,
            "requested_by": actor.pk if actor else None,
        },
        project=project,
        exclusive_key=f"{RESTORE_JOB}:{project.pk}",
    )
    if created:  # else the project's active restore answers
        audit_log_record(
            actor=actor,
            action="backup.restore_requested",
            target_type="backup",
            target_id=str(backup.pk),
            project=backup.project_id,
            details={"project": project.slug, "job_id": str(job.pk)},
        )
    return job


def backup_restore_run(
    *, backup_id: Any, project_slug: str, actor: AbstractBaseUser | None, attempt: int = 1
) -> dict[str, Any]:
    """Load the backup into the (ACTIVE) project's schema and compare rows; return the outcome.

    Raises ProjectNotReady while the project is provisioning, BackupPermanentError when it
    is anything but ACTIVE, VerificationMismatch when restored rows differ from the dump's.
    """
    backup = Backup.objects.select_related("project").get(pk=backup_id)
    project = Project.objects.filter(slug=project_slug).first()
    if project is None:
        raise BackupPermanentError(f"Project {project_slug} no longer exists.")
    if project.pk == backup.project_id:
        raise BackupPermanentError("A backup is never restored over its own project.")
    if project.status == ProjectStatus.PROVISIONING:
        raise ProjectNotReady(f"Project {project.slug} is still being provisioned.")
    if project.status != ProjectStatus.ACTIVE:
        raise BackupPermanentError(
            f"Project {project.slug} is {project.get_status_display().lower()}, not active."
        )
    db = DatabaseParams.from_alias()
    schema = str(project.schema_name)
    # The move is one transaction: a schema with tables on a retry is one it committed.
    moved = schema_relation_count(db, schema) > 0
    if moved and attempt == 1:
        raise BackupPermanentError(
            f"The schema of project {project.slug} is not empty; nothing was restored into it."
        )
    restored = restore_into_schema(
        backup,
        backups_storage(),
        db,
        schema=schema,
        role=schema,  # provisioning names the tenant's role after its schema
        timeout=float(settings.BACKUPS_TIMEOUT),
        moved_already=moved,
    )
    outcome = {
        "backup_id": str(backup.pk),
        "source_project_id": backup.project.slug,
        "project_id": project.slug,
        "table_count": len(restored),
        "rows": sum(restored.values()),
        "table_rows": restored,
    }
    with transaction.atomic(durable=True):
        audit_log_record(
            actor=actor,
            action="backup.restore",
            target_type="backup",
            target_id=str(backup.pk),
            project=backup.project_id,
            details={k: v for k, v in outcome.items() if k != "table_rows"},
        )
    return outcome
