"""Reads for backups, scoped to what the caller may see."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from backups.models import Backup, ExportRequest
from controlplane.models import AuditLog
from jobs.models import ACTIVE_STATUSES, Job


def backup_list(*, project_slug: str | None) -> QuerySet[Backup]:
    """Return backups newest first, of one project when `project_slug` is given."""
    qs = Backup.objects.select_related("project").order_by("-created_at", "-id")
    if project_slug is not None:
        qs = qs.filter(project__slug=project_slug)
    return qs


def backup_get_visible(*, backup_id: Any, bound_project: str | None) -> Backup | None:
    """Return the backup if the caller may see it (staff: any; project token: its own)."""
    qs = Backup.objects.select_related("project").filter(pk=backup_id)
    if bound_project is not None:
        qs = qs.filter(project__slug=bound_project)
    return qs.first()


def backup_notified(*, backup_id: Any, to: str) -> bool:
    """Return whether the notification email about this backup already went out to `to`."""
    return AuditLog.objects.filter(
        action="backup.notify", target_type="backup", target_id=str(backup_id), details__to=to
    ).exists()


def export_jobs_active() -> QuerySet[Job]:
    """Return pending and running export jobs with their project, running first."""
    return (
        Job.objects.filter(type="export_backup", status__in=ACTIVE_STATUSES)
        .select_related("project")
        .order_by("-status", "created_at")
    )


def export_request_replays(
    *, project_slug: str, idempotency_key: str, fingerprint: str, recorded_after: datetime
) -> bool:
    """Return whether an Idempotency-Key record newer than `recorded_after` answers this body."""
    return ExportRequest.objects.filter(
        project__slug=project_slug,
        idempotency_key=idempotency_key,
        body_sha256=fingerprint,
        created_at__gt=recorded_after,
    ).exists()


def project_backups_latest(*, project_id: int, limit: int = 10) -> list[Backup]:
    """Return the project's newest backups (backup_project_created_idx)."""
    return list(Backup.objects.filter(project_id=project_id).order_by("-created_at", "-id")[:limit])
