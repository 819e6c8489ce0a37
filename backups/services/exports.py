"""Backups themselves: export run, notification, download record, verification, retention."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.utils import timezone

from backups.codecs import resolve_compression
from backups.errors import (
    BackupError,
    BackupPermanentError,
    ProjectNotActive,
    StorageDeleteRefused,
)
from backups.models import Backup, BackupFormat, Compression, VerifyStatus
from backups.pgdump import export_schema
from backups.pgtools import DatabaseParams
from backups.services.requests import export_requests_prune
from backups.signing import DownloadGrant, DownloadLink, download_link_issue
from backups.storage import backups_storage, default_storage_key, validate_storage_path
from backups.streaming import Progress, ShouldCancel
from backups.verify import verify_restore
from controlplane.models import Project, ProjectStatus
from controlplane.redaction import redact
from controlplane.services import audit_bulk_id, audit_log_record

logger = logging.getLogger("backups")


def _active_project(project: Project | int) -> Project:
    pk = project.pk if isinstance(project, Project) else project
    current = Project.objects.filter(pk=pk).first()
    if current is None:
        raise ProjectNotActive("The project no longer exists.")
    if current.status != ProjectStatus.ACTIVE:
        raise ProjectNotActive(
            f"Project {current.slug} is {current.get_status_display().lower()}, not active."
        )
    return current


def backup_export_run(
    *,
    project: Project | int,
    format: str,
    compress: bool = True,
    compression: str | None = None,
    storage_path: str | None = None,
    job_id: Any = None,
    started_at: datetime | None = None,
    reclaim_leftover: bool = False,
    progress: Progress | None = None,
    should_cancel: ShouldCancel | None = None,
) -> Backup:
    """Dump the project's schema into storage and record the Backup; raise BackupError.

    With `job_id`, a backup already recorded for that job is returned instead of dumping
    again. `started_at` fixes the default storage key (a retried job reuses its key), and
    `reclaim_leftover` removes a file at the key that no backup refers to: the partial
    output of an attempt whose worker died before it could clean up. `compression`
    absent, `compress` true means BACKUPS_DEFAULT_COMPRESSION.
    """
    if format not in BackupFormat.values:
        raise BackupPermanentError(f"format must be one of {BackupFormat.values}.")
    codec = resolve_compression(compress=compress, compression=compression)
    current = _active_project(project)
    if job_id is not None:
        done = Backup.objects.filter(job_id=job_id).first()
        if done is not None:
            return done
    started = started_at or timezone.now()
    if storage_path:
        key = validate_storage_path(storage_path, project_slug=current.slug)
    else:
        key = default_storage_key(
            project_slug=current.slug, format=format, compression=codec, at=started
        )
    storage = backups_storage()
    if reclaim_leftover:
        _discard_unreferenced(key)
    # Runs outside any transaction: a dump may take many minutes.
    outcome = export_schema(
        schema=current.schema_name,
        format=format,
        compression=codec,
        key=key,
        storage=storage,
        progress=progress,
        should_cancel=should_cancel,
    )
    created = timezone.now()
    try:
        parts = getattr(storage, "parts", None)
        with transaction.atomic(durable=True):
            return Backup.objects.create(
                project=current,
                job_id=job_id,
                format=format,
                compressed=codec != Compression.NONE,
                compression=codec,
                storage_path=outcome.storage_path,
                size_bytes=outcome.size_bytes,
                sha256=outcome.sha256,
                table_count=outcome.table_count,
                table_rows=outcome.table_rows,
                storage_parts=parts(outcome.storage_path) if parts else [],
                created_at=created,
                expires_at=created + timedelta(days=max(1, settings.BACKUPS_RETENTION_DAYS)),
            )
    except BaseException as exc:
        _discard_unreferenced(outcome.storage_path)
        if isinstance(exc, IntegrityError) and job_id is not None:
            # A duplicate run of the same job recorded its backup first: that one stands.
            winner = Backup.objects.filter(job_id=job_id).first()
            if winner is not None:
                return winner
        raise


def _discard_unreferenced(path: str) -> None:
    """Delete the file at `path` unless a Backup row refers to it."""
    if Backup.objects.filter(storage_path=path).exists():
        return
    storage = backups_storage()
    try:
        if storage.exists(path):
            storage.delete(path)
    except Exception:
        logger.exception("could not remove the unreferenced file %s", path)


def backup_download_link(*, backup: Backup, issued_to: str) -> DownloadLink:
    """Return a signed, expiring download link for `backup`."""
    return download_link_issue(backup_id=str(backup.pk), issued_to=issued_to)


@transaction.atomic(durable=True)
def backup_download_link_grant(*, backup: Backup, actor: AbstractBaseUser) -> DownloadLink:
    """Mint a fresh download link for a staff user and audit that they asked for it.

    The download itself is audited again when the link is used (backup_download_record).
    """
    link = backup_download_link(backup=backup, issued_to=f"user:{actor.pk}")
    audit_log_record(
        actor=actor,
        action="backup.download_link",
        target_type="backup",
        target_id=str(backup.pk),
        project=backup.project_id,
        details={"expires_at": link.expires_at.isoformat()},
    )
    return link


def backup_notify_email(*, backup: Backup, to: str, link: DownloadLink | None = None) -> str | None:
    """Email the backup's details and download link; return the error text, None if sent."""
    link = link or backup_download_link(backup=backup, issued_to=f"email:{to}")
    context = {
        "backup": backup,
        "project": backup.project,
        "human_size": filesizeformat(backup.size_bytes),
        "download_url": link.absolute(),
        "expires_at": link.expires_at,
    }
    subject = " ".join(render_to_string("backups/email/backup_ready_subject.txt", context).split())
    body = render_to_string("backups/email/backup_ready.txt", context)
    error: str | None = None
    try:
        send_mail(subject, body, None, [to], fail_silently=False)
    except Exception as exc:  # an email problem must never fail the backup
        error = f"{type(exc).__name__}: {str(exc)[:200]}"
        logger.warning("backup %s: notification email failed: %s", backup.pk, error)
    audit_log_record(
        actor=None,
        action="backup.notify" if error is None else "backup.notify_failed",
        target_type="backup",
        target_id=str(backup.pk),
        project=backup.project_id,
        details={"to": to, **({"error": error} if error else {})},
    )
    return error


@transaction.atomic(durable=True)
def backup_download_record(*, backup: Backup, grant: DownloadGrant) -> None:
    """Audit one download through a signed link, naming who the link was issued to."""
    actor: AbstractBaseUser | None = None
    if grant.issued_to.startswith("user:"):
        actor = get_user_model().objects.filter(pk=grant.issued_to[5:]).first()
    audit_log_record(
        actor=actor,
        action="backup.download",
        target_type="backup",
        target_id=str(backup.pk),
        project=backup.project_id,
        details={"issued_to": grant.issued_to, "storage_path": backup.storage_path},
    )


def _delete_where(
    *, backup_ids: Iterable[Any], action: str, actor: AbstractBaseUser | None, **conditions: Any
) -> int:
    """Delete file, then row, of each backup still matching `conditions`; return how many.

    The file goes first, under the row's lock, so a file storage refuses to delete (a
    Telegram message past 48 h) leaves its row behind with the reason, never a file no
    row knows about. Retention stops retrying a row after BACKUPS_DELETE_MAX_ATTEMPTS.
    """
    deleted = 0
    storage = backups_storage()
    ids = list(backup_ids)
    bulk_id = audit_bulk_id(ids)
    for pk in ids:
        with transaction.atomic(durable=True):
            # The lock makes a concurrent legal hold wait until the file is gone or kept.
            backup = Backup.objects.select_for_update().filter(pk=pk, **conditions).first()
            if backup is None:
                continue
            try:
                storage.delete(backup.storage_path)
            except Exception as exc:
                _record_delete_failure(backup, exc, actor=actor)
                continue
            Backup.objects.filter(pk=pk).delete()
            audit_log_record(
                actor=actor,
                action=action,
                target_type="backup",
                target_id=str(pk),
                project=backup.project_id,
                bulk_id=bulk_id,
                details={"storage_path": backup.storage_path},
            )
        deleted += 1
    return deleted


def _record_delete_failure(
    backup: Backup, exc: Exception, *, actor: AbstractBaseUser | None
) -> None:
    """Keep the row with the reason; a refusal uses up every attempt at once."""
    error = str(exc) if isinstance(exc, BackupError) else f"{type(exc).__name__}"
    logger.warning("backup %s: deleting its file failed: %s", backup.pk, error)
    cap = max(1, settings.BACKUPS_DELETE_MAX_ATTEMPTS)
    attempts = (
        cap if isinstance(exc, StorageDeleteRefused) else min(cap, backup.delete_attempts + 1)
    )
    Backup.objects.filter(pk=backup.pk).update(delete_error=error[:2000], delete_attempts=attempts)
    audit_log_record(
        actor=actor,
        action="backup.delete_failed",
        target_type="backup",
        target_id=str(backup.pk),
        project=backup.project_id,
        details={"storage_path": backup.storage_path, "error": error[:500]},
    )


def backup_delete(*, backup_ids: Iterable[Any], actor: AbstractBaseUser | None) -> int:
    """Delete the backups (rows and files) not on legal hold; return how many."""
    return _delete_where(
        backup_ids=backup_ids, action="backup.delete", actor=actor, legal_hold=False
    )


def backup_retention_run(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Delete expired backups not on legal hold, oldest first; return how many.

    Also drops the Idempotency-Key records of export requests past their 24 h.
    """
    now = now or timezone.now()
    export_requests_prune(now=now)
    retryable = {"legal_hold": False, "expires_at__lte": now}
    retryable["delete_attempts__lt"] = max(1, settings.BACKUPS_DELETE_MAX_ATTEMPTS)
    due = Backup.objects.filter(**retryable).order_by("expires_at")
    ids = list(due.values_list("pk", flat=True)[:limit])
    return _delete_where(backup_ids=ids, action="backup.expire", actor=None, **retryable)


@transaction.atomic(durable=True)
def backup_legal_hold_set(
    *, backup_ids: Iterable[Any], hold: bool, actor: AbstractBaseUser | None
) -> int:
    """Place (`hold=True`) or release legal hold on the given backups; return how many changed."""
    candidates = Backup.objects.filter(pk__in=list(backup_ids), legal_hold=not hold)
    rows = list(candidates.select_for_update().values_list("pk", "project_id"))
    ids = [pk for pk, _ in rows]
    changed = Backup.objects.filter(pk__in=ids, legal_hold=not hold).update(legal_hold=hold)
    bulk_id = audit_bulk_id(rows)
    for pk, project_id in rows:
        audit_log_record(
            actor=actor,
            action="backup.hold" if hold else "backup.release",
            target_type="backup",
            target_id=str(pk),
            project=project_id,
            bulk_id=bulk_id,
        )
    return changed


def backup_verify(*, backup_id: Any, actor: AbstractBaseUser | None = None) -> Backup:
    """Check the file's SHA-256, restore it into a scratch database and compare; record the outcome.

    A pass sets verified_at; a failure records why (and re-raises, so the job shows it too).
    """
    backup = Backup.objects.select_related("project").get(pk=backup_id)
    try:
        verify_restore(
            backup,
            backups_storage(),
            DatabaseParams.from_alias(),
            timeout=float(settings.BACKUPS_TIMEOUT),
        )
    except Exception as exc:
        _record_verify_failure(backup, exc, actor=actor)
        raise
    now = timezone.now()
    with transaction.atomic(durable=True):
        # Fenced on the checksum: a file replaced meanwhile is not marked verified.
        Backup.objects.filter(pk=backup.pk, sha256=backup.sha256).update(
            verified_at=now,
            verify_status=VerifyStatus.PASSED,
            verify_checked_at=now,
            verify_error="",
        )
        audit_log_record(
            actor=actor,
            action="backup.verify",
            target_type="backup",
            target_id=str(backup.pk),
            project=backup.project_id,
        )
    backup.refresh_from_db()
    return backup


def _record_verify_failure(
    backup: Backup, exc: Exception, *, actor: AbstractBaseUser | None
) -> None:
    """Record a failed check: a BackupError's message (safe to show), else the error type only."""
    why = str(exc) if isinstance(exc, BackupError) else f"{type(exc).__name__} during the check"
    why = redact(why)[:2000]
    with transaction.atomic(durable=True):
        Backup.objects.filter(pk=backup.pk, sha256=backup.sha256).update(
            verify_status=VerifyStatus.FAILED, verify_checked_at=timezone.now(), verify_error=why
        )
        audit_log_record(
            actor=actor,
            action="backup.verify_failed",
            target_type="backup",
            target_id=str(backup.pk),
            project=backup.project_id,
            details={"error": why[:500]},
        )
