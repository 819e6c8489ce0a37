"""Writes on jobs for callers outside the worker: enqueue, cancel, retry, run now, pause, prune."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone

from controlplane.models import Project
from controlplane.services import audit_bulk_id, audit_log_record
from jobs import engine
from jobs.models import ACTIVE_STATUSES, RETRYABLE_STATUSES, Job, JobStatus, PausedJobType
from jobs.registry import find_handler, get_handler


@dataclass(frozen=True)
class JobSpec:
    """One job to enqueue in bulk."""

    type: str
    payload: dict[str, Any] = field(default_factory=dict)
    project: Project | None = None
    priority: int = 0
    max_attempts: int | None = None
    scheduled_at: datetime | None = None
    exclusive_key: str | None = None


def _validated_max_attempts(type: str, payload: dict[str, Any]) -> int:
    """Validate the payload against the type's handler; return the type's max_attempts."""
    handler = get_handler(type)
    handler.validate(payload)
    return handler.max_attempts


def _check_attempts(attempts: int) -> int:
    if attempts < 1:
        raise ValidationError({"max_attempts": "At least one attempt is needed."})
    return attempts


def _build(
    *,
    type: str,
    payload: dict[str, Any],
    project: Project | None,
    max_attempts: int | None,
    priority: int,
    scheduled_at: datetime | None,
    idempotency_key: str | None = None,
    exclusive_key: str | None = None,
) -> Job:
    default_attempts = _validated_max_attempts(type, payload)
    attempts = _check_attempts(max_attempts if max_attempts is not None else default_attempts)
    now = timezone.now()
    return Job(
        type=type,
        payload=payload,
        project=project,
        max_attempts=attempts,
        priority=priority,
        scheduled_at=scheduled_at or now,
        idempotency_key=idempotency_key,
        exclusive_key=exclusive_key,
        created_at=now,
        updated_at=now,
    )


def enqueue_job(
    *,
    type: str,
    payload: dict[str, Any],
    project: Project | None = None,
    max_attempts: int | None = None,
    priority: int = 0,
    scheduled_at: datetime | None = None,
    idempotency_key: str | None = None,
    idempotency_ttl: timedelta | None = None,
    exclusive_key: str | None = None,
) -> tuple[Job, bool]:
    """Write a job in the caller's transaction; return (job, created) like get_or_create.

    The dispatcher hands a new job to the engine.

    The INSERT wakes the dispatchers (a trigger NOTIFYs them, delivered at commit), so a due
    job reaches a worker about as fast as a direct hand-off would, and a rolled-back
    transaction leaves nothing behind.

    With `idempotency_key`, an existing job of the same type and project is returned instead
    (for `idempotency_ttl` after its creation, when given; an older one releases the key).
    With `exclusive_key`, an active job of the same type holding that key is returned instead.
    `created` is False whenever an existing job is returned.
    """
    job = _build(
        type=type,
        payload=payload,
        project=project,
        max_attempts=max_attempts,
        priority=priority,
        scheduled_at=scheduled_at,
        idempotency_key=idempotency_key,
        exclusive_key=exclusive_key,
    )
    if idempotency_key is not None and idempotency_ttl is not None:
        Job.objects.filter(
            type=type,
            project=project,
            idempotency_key=idempotency_key,
            created_at__lt=timezone.now() - idempotency_ttl,
        ).update(idempotency_key=None)
    if idempotency_key is None and exclusive_key is None:
        job.save(force_insert=True)
    else:
        existing = _find_existing(job)
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():  # a savepoint: losing a race must not poison the caller
                job.save(force_insert=True)
        except IntegrityError:
            existing = _find_existing(job)
            if existing is None:
                raise
            return existing, False
    return job, True


def _find_existing(job: Job) -> Job | None:
    """Return the job that `job` would duplicate (same idempotency or active exclusive key)."""
    if job.idempotency_key is not None:
        found = Job.objects.filter(
            type=job.type, project=job.project, idempotency_key=job.idempotency_key
        ).first()
        if found is not None:
            return found
    if job.exclusive_key is not None:
        return Job.objects.filter(
            type=job.type, exclusive_key=job.exclusive_key, status__in=ACTIVE_STATUSES
        ).first()
    return None


# One statement for any number of jobs: a column array per varying field. Columns left out
# are nullable and start NULL; the rest start as a new Job's defaults.
_BULK_INSERT_SQL = """
INSERT INTO jobs_job (id, type, payload, project_id, priority, max_attempts, scheduled_at,
                      exclusive_key, status, attempts, created_at, updated_at, last_error, worker)
SELECT id, type, payload, project_id, priority, max_attempts, coalesce(scheduled_at, now()),
       exclusive_key, %(status)s, 0, now(), now(), '', ''
  FROM unnest(%(ids)s::uuid[], %(types)s::text[], %(payloads)s::jsonb[],
              %(projects)s::bigint[], %(priorities)s::smallint[], %(max_attempts)s::smallint[],
              %(scheduled)s::timestamptz[], %(exclusive_keys)s::text[])
       AS job(id, type, payload, project_id, priority, max_attempts, scheduled_at, exclusive_key)
"""


def enqueue_jobs_bulk(*, jobs: Sequence[JobSpec]) -> list[uuid.UUID]:
    """Write many jobs with one INSERT and return their ids, in order.

    Each distinct (type, payload) is validated once. An exclusive key an active job already
    holds fails the whole INSERT (IntegrityError): callers exclude such keys beforehand.
    The dispatcher hands the jobs to the engine in batches (the INSERT wakes it).
    """
    ids: list[uuid.UUID] = []
    columns: dict[str, list[Any]] = {
        name: [] for name in ("types", "payloads", "projects", "priorities", "max_attempts")
    }
    scheduled: list[datetime | None] = []
    exclusive_keys: list[str | None] = []
    defaults: dict[tuple[str, str], int] = {}  # (type, payload JSON) -> default max_attempts
    for spec in jobs:
        payload = json.dumps(spec.payload, sort_keys=True)
        if (spec.type, payload) not in defaults:
            defaults[spec.type, payload] = _validated_max_attempts(spec.type, spec.payload)
        default_attempts = defaults[spec.type, payload]
        attempts = _check_attempts(
            default_attempts if spec.max_attempts is None else spec.max_attempts
        )
        ids.append(uuid.uuid4())
        columns["types"].append(spec.type)
        columns["payloads"].append(payload)
        columns["projects"].append(spec.project.pk if spec.project is not None else None)
        columns["priorities"].append(spec.priority)
        columns["max_attempts"].append(attempts)
        scheduled.append(spec.scheduled_at)
        exclusive_keys.append(spec.exclusive_key)
    if ids:
        with connection.cursor() as cursor:
            cursor.execute(
                _BULK_INSERT_SQL,
                {
                    "status": JobStatus.PENDING,
                    "ids": ids,
                    "scheduled": scheduled,
                    "exclusive_keys": exclusive_keys,
                    **columns,
                },
            )
    return ids


SENSITIVE_SHOWN = "[sensitive]"


@transaction.atomic(durable=True)
def job_submit(
    *,
    type: str,
    payload: dict[str, Any],
    actor: AbstractBaseUser | None,
    project: Project | None = None,
    priority: int = 0,
    reason: str = "",
) -> Job:
    """Enqueue a job staff asked for by hand (validated as enqueue_job does), audited.

    The audit row names the payload's fields; those the handler declares sensitive are
    masked, never copied.
    """
    job, _ = enqueue_job(type=type, payload=payload, project=project, priority=priority)
    sensitive = set(get_handler(type).sensitive)
    shown = {k: SENSITIVE_SHOWN if k in sensitive else v for k, v in payload.items()}
    audit_log_record(
        actor=actor,
        action="job.submit",
        target_type="job",
        target_id=str(job.pk),
        project=project,
        reason=reason,
        details={"type": type, "payload": shown, "project": project.slug if project else None},
    )
    return job


def _audit(
    actor: AbstractBaseUser | None, action: str, job_ids: Iterable[Any], reason: str
) -> None:
    ids = list(job_ids)
    projects = {
        str(pk): project_id
        for pk, project_id in Job.objects.filter(pk__in=ids).values_list("pk", "project_id")
    }
    bulk_id = audit_bulk_id(ids)
    for job_id in ids:
        audit_log_record(
            actor=actor,
            action=action,
            target_type="job",
            target_id=str(job_id),
            reason=reason,
            project=projects.get(str(job_id)),
            bulk_id=bulk_id,
        )


@transaction.atomic(durable=True)
def job_cancel(
    *, job_ids: Iterable[Any], actor: AbstractBaseUser | None, reason: str = ""
) -> tuple[int, int]:
    """Cancel pending jobs now and ask running ones to stop; return (cancelled, requested)."""
    ids = list(job_ids)
    pending = Job.objects.filter(pk__in=ids, status=JobStatus.PENDING)
    pending_ids = list(pending.select_for_update().values_list("pk", flat=True))
    cancelled = Job.objects.filter(pk__in=pending_ids, status=JobStatus.PENDING).update(
        status=JobStatus.CANCELLED, completed_at=Now(), updated_at=Now()
    )
    running = Job.objects.filter(
        pk__in=ids, status=JobStatus.RUNNING, cancel_requested_at__isnull=True
    )
    running_ids = list(running.select_for_update().values_list("pk", flat=True))
    requested = Job.objects.filter(pk__in=running_ids, status=JobStatus.RUNNING).update(
        cancel_requested_at=Now(), updated_at=Now()
    )
    _audit(actor, "job.cancel", pending_ids, reason)
    _audit(actor, "job.cancel_requested", running_ids, reason)
    return cancelled, requested


@transaction.atomic  # not durable: a caller's retry of its own records shares the transaction
def job_retry(*, job_ids: Iterable[Any], actor: AbstractBaseUser | None, reason: str = "") -> int:
    """Put failed or cancelled jobs back to pending now, with a fresh budget of attempts.

    The budget is the type's max_attempts again, counted from the attempts made so far.
    An exclusive key admits one active job: a job whose key an active job holds (or an
    earlier job of this call takes) stays as it is. Each type's `on_retry` hook (see
    jobs.registry) then gets its retried ids, in this transaction.
    """
    candidates = Job.objects.filter(pk__in=list(job_ids), status__in=RETRYABLE_STATUSES)
    rows = list(
        candidates.select_for_update()
        .order_by("-created_at")
        .values_list("pk", "type", "exclusive_key")
    )
    keys = {(type_, key) for _, type_, key in rows if key is not None}
    held = {
        (type_, key)
        for type_, key in Job.objects.filter(
            status__in=ACTIVE_STATUSES,
            type__in={type_ for type_, _ in keys},
            exclusive_key__in={key for _, key in keys},
        ).values_list("type", "exclusive_key")
    }
    by_type: dict[str, list[Any]] = {}
    for pk, type_, key in rows:
        if key is not None:
            if (type_, key) in held:
                continue
            held.add((type_, key))
        by_type.setdefault(type_, []).append(pk)
    changed = 0
    for type_, ids in by_type.items():
        spec = find_handler(type_)
        changed += Job.objects.filter(pk__in=ids, status__in=RETRYABLE_STATUSES).update(
            status=JobStatus.PENDING,
            max_attempts=F("attempts") + (spec.max_attempts if spec else 1),
            scheduled_at=Now(),
            completed_at=None,
            cancel_requested_at=None,
            handed_off_at=None,  # wakes the dispatchers (see enqueue_job)
            updated_at=Now(),
        )
        if spec is not None and spec.on_retry is not None:
            spec.on_retry(ids)
        _audit(actor, "job.retry", ids, reason)
    return changed


@transaction.atomic(durable=True)
def job_run_now(*, job_ids: Iterable[Any], actor: AbstractBaseUser | None, reason: str = "") -> int:
    """Make delayed pending jobs due now."""
    candidates = Job.objects.filter(
        pk__in=list(job_ids), status=JobStatus.PENDING, scheduled_at__gt=Now()
    )
    ids = list(candidates.select_for_update().values_list("pk", flat=True))
    changed = Job.objects.filter(pk__in=ids, status=JobStatus.PENDING).update(
        scheduled_at=Now(), handed_off_at=None, updated_at=Now()
    )
    _audit(actor, "job.run_now", ids, reason)
    return changed


@transaction.atomic(durable=True)
def job_type_pause(*, type: str, actor: AbstractBaseUser | None, reason: str = "") -> bool:
    """Pause a registered job type; return False if it was paused already.

    From the commit on, no dispatcher hands its jobs off and no worker claims one (a
    delivery already handed off waits); running jobs finish; new jobs queue up.
    """
    get_handler(type)  # an unknown type is a ValidationError, not a silent row
    _, created = PausedJobType.objects.get_or_create(
        type=type,
        defaults={"paused_by_id": actor.pk if actor is not None else None, "reason": reason},
    )
    if created:
        audit_log_record(
            actor=actor,
            action="jobtype.pause",
            target_type="jobtype",
            target_id=type,
            reason=reason,
        )
    return created


@transaction.atomic(durable=True)
def job_type_resume(
    *, types: Iterable[str], actor: AbstractBaseUser | None, reason: str = ""
) -> int:
    """Resume paused job types; their waiting jobs are handed off again. Return the count."""
    resumed = [
        type_
        for type_ in sorted(set(types))
        if PausedJobType.objects.filter(type=type_).delete()[0]
    ]
    if not resumed:
        return 0
    # Deliveries handed off during the pause were dropped by the claim: hand them again now
    # (clearing handed_off_at wakes the dispatchers, see jobs/migrations/0004).
    Job.objects.filter(
        type__in=resumed, status=JobStatus.PENDING, handed_off_at__isnull=False
    ).update(handed_off_at=None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify('jobs_due', '')")  # the never-handed ones too
    for type_ in resumed:
        audit_log_record(
            actor=actor,
            action="jobtype.resume",
            target_type="jobtype",
            target_id=type_,
            reason=reason,
        )
    return len(resumed)


def jobs_prune() -> int:
    """Delete finished jobs past retention, and the engine's own task rows past it too."""
    now = timezone.now()
    done_before = now - timedelta(days=settings.JOBS_RETENTION_DAYS)
    failed_before = now - timedelta(days=settings.JOBS_FAILED_RETENTION_DAYS)
    deleted, _ = Job.objects.filter(
        Q(status__in=[JobStatus.COMPLETED, JobStatus.CANCELLED], completed_at__lt=done_before)
        | Q(status=JobStatus.FAILED, completed_at__lt=failed_before)
    ).delete()
    engine.task_rows_prune(before=done_before)
    return deleted
