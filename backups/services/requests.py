"""Requests for backup jobs: exports (API, schedules; Idempotency-Key records) and checks."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from backups.codecs import resolve_compression
from backups.errors import (
    IdempotencyKeyReused,
    ProjectNotFound,
    ProjectUnavailable,
)
from backups.models import Backup, BackupFormat, Compression, ExportRequest
from controlplane.models import Project, ProjectStatus
from controlplane.services import audit_bulk_id, audit_log_record
from jobs.models import Job
from jobs.services import enqueue_job

EXPORT_JOB = "export_backup"
VERIFY_JOB = "verify_backup"
IDEMPOTENCY_TTL = timedelta(hours=24)


def export_exclusive_key(project: Project) -> str:
    """Return the key that keeps one export of `project` active at a time."""
    return f"{EXPORT_JOB}:{project.pk}"


def export_payload(
    *,
    project_slug: str,
    format: str,
    compress: bool = True,
    compression: str | None = None,
    notify_email: str | None = None,
    storage_path: str | None = None,
) -> dict[str, Any]:
    """Return the export job's payload: the request body with defaults applied, nothing else.

    The codec is resolved here (raising InvalidCompression on a contradiction), so a job
    keeps what was asked even if BACKUPS_DEFAULT_COMPRESSION changes before it runs.
    """
    codec = resolve_compression(compress=compress, compression=compression)
    payload: dict[str, Any] = {
        "project_id": project_slug,
        "format": format,
        "compress": codec != Compression.NONE,
        "compression": codec,
    }
    if notify_email:
        payload["notify_email"] = notify_email
    if storage_path:
        payload["storage_path"] = storage_path
    return payload


def export_fingerprint(payload: dict[str, Any]) -> str:
    """Return the SHA-256 of the payload's canonical JSON: equal bodies, equal fingerprints.

    Normalised to the shape payloads had before `compression` existed, when `compress`
    true meant gzip: a key recorded then still matches its replay. Only zstd, which no
    such record can hold, adds `compression` to what is hashed.
    """
    body = dict(payload)
    codec = body.pop("compression", None)
    if codec == Compression.ZSTD:
        body["compression"] = codec
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _enqueue_export(project: Project, payload: dict[str, Any]) -> Job:
    # An active export of the project is the answer too (one at a time): new or not alike.
    job, _ = enqueue_job(
        type=EXPORT_JOB,
        payload=payload,
        project=project,
        exclusive_key=export_exclusive_key(project),
    )
    return job


def _expired_before(now: datetime | None = None) -> datetime:
    """Return the creation time before which (inclusive) a key record has expired."""
    return (now or timezone.now()) - IDEMPOTENCY_TTL


def _answered(project: Project, key: str, fingerprint: str) -> Job | None:
    """Return the job recorded for the key (None if none or expired); raise on another body.

    An expired record is deleted here, releasing its key.
    """
    record = (
        ExportRequest.objects.filter(project=project, idempotency_key=key)
        .select_related("job")
        .first()
    )
    if record is None:
        return None
    if record.created_at <= _expired_before():
        record.delete()
        return None
    if record.body_sha256 != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body."
        )
    return record.job


def backup_request(
    *,
    project_slug: str,
    format: str = BackupFormat.SQL,
    compress: bool = True,
    compression: str | None = None,
    notify_email: str | None = None,
    storage_path: str | None = None,
    idempotency_key: str | None = None,
) -> Job:
    """Enqueue an export of the project, or return the job that already answers this request.

    The same `idempotency_key` within 24 h returns its job (a different body raises
    IdempotencyKeyReused); while an export of the project is active, that job is returned.
    The key is recorded (ExportRequest) with whichever job answered, new or already active.
    """
    request = functools.partial(
        _backup_request,
        project_slug=project_slug,
        format=format,
        compress=compress,
        compression=compression,
        notify_email=notify_email,
        storage_path=storage_path,
        idempotency_key=idempotency_key,
    )
    try:
        return request()
    except IntegrityError:
        if idempotency_key is None:
            raise
        # A concurrent request recorded the same key first (this transaction, job included,
        # rolled back whole): run again, and its record answers.
        return request()


@transaction.atomic(durable=True)
def _backup_request(
    *,
    project_slug: str,
    format: str,
    compress: bool,
    compression: str | None,
    notify_email: str | None,
    storage_path: str | None,
    idempotency_key: str | None,
) -> Job:
    project = Project.objects.filter(slug=project_slug).first()
    if project is None:
        raise ProjectNotFound(f"No project {project_slug!r}.")
    if project.status != ProjectStatus.ACTIVE:
        raise ProjectUnavailable(
            f"Project {project.slug} is {project.get_status_display().lower()}.",
            suspended=project.status == ProjectStatus.SUSPENDED,
        )
    payload = export_payload(
        project_slug=project.slug,
        format=format,
        compress=compress,
        compression=compression,
        notify_email=notify_email,
        storage_path=storage_path,
    )
    if idempotency_key is None:
        return _enqueue_export(project, payload)
    fingerprint = export_fingerprint(payload)
    answered = _answered(project, idempotency_key, fingerprint)
    if answered is not None:
        return answered
    job = _enqueue_export(project, payload)
    # A racing request with this key makes this INSERT fail: backup_request runs again.
    ExportRequest.objects.create(
        project=project, idempotency_key=idempotency_key, body_sha256=fingerprint, job=job
    )
    return job


def export_requests_prune(*, now: datetime | None = None) -> int:
    """Delete Idempotency-Key records older than IDEMPOTENCY_TTL; return how many."""
    deleted, _ = ExportRequest.objects.filter(created_at__lte=_expired_before(now)).delete()
    return deleted


@transaction.atomic(durable=True)
def backup_verify_request(*, backup_ids: Iterable[Any], actor: AbstractBaseUser | None) -> int:
    """Enqueue a restore check of each backup (one active check per backup); return how many."""
    queued = 0
    backups = list(Backup.objects.filter(pk__in=list(backup_ids)).select_related("project"))
    bulk_id = audit_bulk_id(backups)
    for backup in backups:
        job, created = enqueue_job(
            type=VERIFY_JOB,
            payload={"backup_id": str(backup.pk), "requested_by": actor.pk if actor else None},
            project=backup.project,
            exclusive_key=f"{VERIFY_JOB}:{backup.pk}",
        )
        if not created:
            continue  # a check of this backup is already pending or running
        queued += 1
        audit_log_record(
            actor=actor,
            action="backup.verify_requested",
            target_type="backup",
            target_id=str(backup.pk),
            project=backup.project_id,
            bulk_id=bulk_id,
            details={"job_id": str(job.pk)},
        )
    return queued
