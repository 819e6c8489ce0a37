"""Job handlers of the backups app: export a tenant schema, check that a backup restores."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse

from backups.errors import BackupCancelled
from backups.models import Backup
from backups.schedules import RETENTION_JOB, SCHEDULED_EXPORTS_JOB, backup_schedules_run
from backups.selectors import backup_notified
from backups.serializers import ExportBackupPayload, RestoreBackupPayload, VerifyBackupPayload
from backups.services import (
    EXPORT_JOB,
    RESTORE_JOB,
    VERIFY_JOB,
    backup_export_run,
    backup_notify_email,
    backup_restore_run,
    backup_retention_run,
    backup_verify,
)
from controlplane.models import Project
from jobs.context import JobContext
from jobs.errors import JobCancelled, PermanentJobError
from jobs.models import Job
from jobs.registry import job_handler
from jobs.retry import RetryPolicy

# The engine stops pg_dump at BACKUPS_TIMEOUT and cleans up; the job's own limit only
# catches a handler stuck elsewhere, so it must come later.
_TIMEOUT_MARGIN = 300
_EDGE_PHASES = ("starting", "stored")
# A restore retries while its new project is provisioning: about 10 minutes in all.
_RESTORE_ATTEMPTS = 14
_RESTORE_RETRY = RetryPolicy(base=5.0, factor=2.0, cap=60.0)


def backup_page(values: Mapping[str, Any]) -> tuple[str, str] | None:
    """Link the console's job page to the backup an export made or a verification checks."""
    backup_id = values.get("backup_id")
    try:
        if not backup_id or not Backup.objects.filter(pk=backup_id).exists():
            return None
    except (ValueError, ValidationError):  # not a backup id
        return None
    return reverse("admin:backups_backup_change", args=[backup_id]), f"Backup {backup_id}"


@job_handler(
    EXPORT_JOB,
    payload=ExportBackupPayload,
    max_attempts=3,
    timeout=settings.BACKUPS_TIMEOUT + _TIMEOUT_MARGIN,
    # A person's address, and where in storage the dump sits: operators only.
    sensitive=("notify_email", "storage_path"),
    produced=backup_page,
)
def export_backup(ctx: JobContext) -> dict[str, Any]:
    """Export the project's schema to storage; return the backup and a signed download link."""
    payload = ctx.payload
    project = None
    if ctx.project_id is not None:
        project = Project.objects.filter(pk=ctx.project_id, slug=payload["project_id"]).first()
    if project is None:
        raise PermanentJobError(f"Project {payload['project_id']} no longer exists.")
    job = Job.objects.only("created_at").get(pk=ctx.job_id)

    def progress(phase: str, nbytes: int, percent: float | None) -> None:
        ctx.report_progress(phase, nbytes, percent, force=phase in _EDGE_PHASES)

    try:
        backup = backup_export_run(
            project=project,
            format=payload["format"],
            compress=payload["compress"],
            # Absent in a job enqueued before zstd: `compress` meant gzip then.
            compression=payload.get("compression") or ("gzip" if payload["compress"] else "none"),
            storage_path=payload.get("storage_path"),
            job_id=ctx.job_id,
            # Every attempt of this job writes to the same key, so a retry can reclaim the
            # partial file of an attempt whose worker died mid-dump.
            started_at=job.created_at,
            reclaim_leftover=ctx.attempt > 1,
            progress=progress,
            should_cancel=ctx.cancel_requested,
        )
    except BackupCancelled as exc:
        raise JobCancelled(str(exc)) from exc
    notify_email = payload.get("notify_email")
    if notify_email and not backup_notified(backup_id=backup.pk, to=notify_email):
        # A failure is recorded in the audit log and must not fail the backup.
        backup_notify_email(backup=backup, to=notify_email)
    return {
        "backup_id": str(backup.pk),
        "storage_path": backup.storage_path,
        "size_bytes": backup.size_bytes,
        "sha256": backup.sha256,
        "table_count": backup.table_count,
        "format": backup.format,
        "compressed": backup.compressed,
        "compression": backup.compression,
        # No download link here: results are readable by anyone with jobs.view_job, so the
        # jobs API mints one per reader (backups.api.export_result).
    }


@job_handler(
    VERIFY_JOB,
    payload=VerifyBackupPayload,
    max_attempts=2,
    timeout=settings.BACKUPS_TIMEOUT + _TIMEOUT_MARGIN,
    subject=backup_page,
)
def verify_backup(ctx: JobContext) -> dict[str, Any]:
    """Restore the backup into a scratch database and compare; set its verified_at."""
    requested_by = ctx.payload.get("requested_by")
    actor = get_user_model().objects.filter(pk=requested_by).first() if requested_by else None
    try:
        backup = backup_verify(backup_id=ctx.payload["backup_id"], actor=actor)
    except Backup.DoesNotExist:
        raise PermanentJobError("The backup no longer exists.") from None
    assert backup.verified_at is not None
    return {"backup_id": str(backup.pk), "verified_at": backup.verified_at.isoformat()}


@job_handler(RETENTION_JOB, housekeeping=True)
def retention(ctx: JobContext) -> dict[str, Any]:
    """Delete expired backups (not on legal hold) and expired Idempotency-Key records."""
    return {"deleted": backup_retention_run()}


@job_handler(SCHEDULED_EXPORTS_JOB, housekeeping=True)
def scheduled_exports(ctx: JobContext) -> dict[str, Any]:
    """Enqueue the exports of the per-project schedules due this UTC hour."""
    return {"enqueued": backup_schedules_run()}


@job_handler(
    RESTORE_JOB,
    payload=RestoreBackupPayload,
    max_attempts=_RESTORE_ATTEMPTS,
    timeout=3 * settings.BACKUPS_TIMEOUT + _TIMEOUT_MARGIN,
    retry=_RESTORE_RETRY,
)
def restore_backup(ctx: JobContext) -> dict[str, Any]:
    """Restore a backup into a new project once it is ACTIVE; compare row counts."""
    requested_by = ctx.payload.get("requested_by")
    actor = get_user_model().objects.filter(pk=requested_by).first() if requested_by else None
    try:
        return backup_restore_run(
            backup_id=ctx.payload["backup_id"],
            project_slug=ctx.payload["project_id"],
            actor=actor,
            attempt=ctx.attempt,
        )
    except Backup.DoesNotExist:
        raise PermanentJobError("The backup no longer exists.") from None
