"""Request provisioning, re-provisioning, key rotation: write it and enqueue its job atomically."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef

from controlplane.models import AuditLog, Project, ProjectStatus
from controlplane.services import audit_log_record, project_create
from jobs.models import ACTIVE_STATUSES, Job, JobStatus
from jobs.services import enqueue_job
from provisioning.models import (
    ProvisioningStep,
    RegistrationStatus,
    ServiceName,
    ServiceRegistration,
    StepStatus,
)
from provisioning.services.provision import provision_project_compensate

PROVISION_JOB = "provision_project"
# Audit actions whose details carry the services and api_keys a provisioning was asked for.
PROVISION_REQUEST_ACTIONS = ("project.provision_request", "project.reprovision")
ROTATE_JOB = "rotate_key"
DEFAULT_GRACE_PERIOD_SECONDS = 86_400
# Keys of projects still being provisioned belong to the provisioning job, not to rotation.
ROTATABLE_STATUSES = (ProjectStatus.ACTIVE, ProjectStatus.SUSPENDED)


def provision_payload(
    *,
    project: Project,
    services: Mapping[str, bool],
    api_key_count: int,
    api_key_prefix: str | None,
) -> dict[str, Any]:
    """Return the provision_project payload for `project` (never a secret in it)."""
    unknown = sorted(set(services) - set(ServiceName.values))
    if unknown:
        raise ValidationError({"services": f"Unknown services: {', '.join(unknown)}."})
    return {
        "project_id": project.slug,
        "region": project.region,
        "owner_id": project.owner_id,
        "organization_id": project.organization_id,
        "services": {s: bool(services.get(s, False)) for s in ServiceName.values},
        "api_keys": {"count": api_key_count, "prefix": api_key_prefix or None},
    }


def _provision_exclusive_key(project: Project) -> str:
    return f"{PROVISION_JOB}:{project.pk}"


@transaction.atomic(durable=True)
def project_provision_request(
    *,
    slug: str,
    name: str,
    region: str = "local",
    owner_id: str = "",
    organization_id: str = "",
    services: Mapping[str, bool],
    api_key_count: int = 1,
    api_key_prefix: str | None = None,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> tuple[Project, Job]:
    """Create the project in PROVISIONING and enqueue its provision_project job, audited."""
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationError({"name": "A project name of 1-200 characters is required."})
    region = (region or "").strip()
    if not region or len(region) > 50:
        raise ValidationError({"region": "A region of 1-50 characters is required."})
    project = project_create(
        slug=slug,
        name=name,
        region=region,
        owner_id=owner_id.strip(),
        organization_id=organization_id.strip(),
        status=ProjectStatus.PROVISIONING,
        actor=actor,
    )
    payload = provision_payload(
        project=project,
        services=services,
        api_key_count=api_key_count,
        api_key_prefix=api_key_prefix,
    )
    job, _ = enqueue_job(  # a brand-new project: no job of it can exist yet
        type=PROVISION_JOB,
        payload=payload,
        project=project,
        exclusive_key=_provision_exclusive_key(project),
    )
    audit_log_record(
        actor=actor,
        action="project.provision_request",
        target_type="project",
        target_id=project.slug,
        project=project,
        reason=reason,
        details={
            "job_id": str(job.pk),
            "services": payload["services"],
            "api_keys": payload["api_keys"],
            "region": region,
        },
    )
    return project, job


def _original_request(project: Project) -> tuple[dict[str, Any], Job | None]:
    """Return what the project's last provisioning asked for (services, api_keys), its job.

    The last provision_project job's payload holds it; once that job is pruned, the audit
    row of the request (or of the last re-provisioning) still does.
    """
    job = Job.objects.filter(type=PROVISION_JOB, project=project).order_by("-created_at").first()
    if job is not None and "services" in job.payload:
        return {"services": job.payload["services"], "api_keys": job.payload.get("api_keys")}, job
    audit = (
        AuditLog.objects.filter(
            action__in=PROVISION_REQUEST_ACTIONS, target_type="project", target_id=project.slug
        )
        .order_by("-at", "-id")
        .first()
    )
    if audit is not None and "services" in audit.details:
        return {
            "services": audit.details["services"],
            "api_keys": audit.details.get("api_keys"),
        }, job
    raise ValidationError(
        {
            "project": f"The original provisioning request of project {project.slug} is gone "
            "(no provision_project job or audit row names its services); it cannot be "
            "provisioned again as it was."
        }
    )


@transaction.atomic(durable=True)
def project_reprovision(*, project: Project, actor: AbstractBaseUser | None, reason: str) -> Job:
    """Provision a PROVISION_FAILED project again, from the first step, as first requested.

    Moves it back to PROVISIONING, resets its steps to pending (compensation undid them) and
    enqueues a new provision_project job with the original services and API keys; audited.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "A reason is required."})
    project = Project.objects.select_for_update().get(pk=project.pk)
    if project.status != ProjectStatus.PROVISION_FAILED:
        raise ValidationError(
            {
                "project": f"Project {project.slug} is {project.status}; only a project whose "
                "provisioning failed (PROVISION_FAILED) can be provisioned again."
            }
        )
    active = Job.objects.filter(
        type=PROVISION_JOB, project=project, status__in=ACTIVE_STATUSES
    ).first()
    if active is not None:
        raise ValidationError(
            {
                "project": f"Project {project.slug} still has provision_project job {active.pk} "
                f"{active.status}; cancel it or let it end first."
            }
        )
    original, previous = _original_request(project)
    api_keys = original.get("api_keys") or {}
    payload = provision_payload(
        project=project,
        services=original["services"],
        api_key_count=api_keys.get("count", 1),
        api_key_prefix=api_keys.get("prefix") or None,
    )
    Project.objects.filter(pk=project.pk, status=ProjectStatus.PROVISION_FAILED).update(
        status=ProjectStatus.PROVISIONING
    )
    # From the start: compensation undid the done steps, so none of them counts as done.
    ProvisioningStep.objects.filter(project=project).update(
        status=StepStatus.PENDING, started_at=None, finished_at=None, error="", details={}
    )
    # A skipped registration did nothing outside; drop it so a service configured since counts.
    ServiceRegistration.objects.filter(project=project, status=RegistrationStatus.SKIPPED).delete()
    # No idempotency key: nothing may hand back the failed job. The exclusive key keeps one
    # provisioning of the project active at a time, as for the first request.
    job, created = enqueue_job(
        type=PROVISION_JOB,
        payload=payload,
        project=project,
        exclusive_key=_provision_exclusive_key(project),
    )
    if not created:  # a provisioning job became active since the check above
        raise ValidationError(
            {"project": f"Project {project.slug} has provision_project job {job.pk} active."}
        )
    audit_log_record(
        actor=actor,
        action="project.reprovision",
        target_type="project",
        target_id=project.slug,
        project=project,
        reason=reason,
        details={
            "job_id": str(job.pk),
            "previous_job_id": str(previous.pk) if previous is not None else None,
            "previous_status_reason": project.status_reason,
            "services": payload["services"],
            "api_keys": payload["api_keys"],
            "region": project.region,
        },
    )
    return job


@transaction.atomic(durable=True)
def api_key_rotation_request(
    *,
    project: Project,
    key_id: int | None = None,
    grace_period_seconds: int = DEFAULT_GRACE_PERIOD_SECONDS,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> tuple[Job, bool]:
    """Enqueue a rotate_key job for `project`; return it and whether it is new.

    One rotation per project runs at a time: while one is pending or running, that job is
    returned instead of a second one.
    """
    project = Project.objects.select_for_update().get(pk=project.pk)
    if project.status not in ROTATABLE_STATUSES:
        raise ValidationError(
            {"project": f"Project {project.slug} is {project.status}; its keys cannot rotate."}
        )
    payload: dict[str, Any] = {
        "project_id": project.slug,
        "grace_period_seconds": grace_period_seconds,
    }
    if key_id is not None:
        payload["key_id"] = key_id
    job, created = enqueue_job(
        type=ROTATE_JOB,
        payload=payload,
        project=project,
        exclusive_key=f"{ROTATE_JOB}:{project.pk}",
    )
    if created:
        audit_log_record(
            actor=actor,
            action="api_key.rotation_request",
            target_type="project",
            target_id=project.slug,
            project=project,
            reason=reason,
            details={
                "job_id": str(job.pk),
                "key_id": key_id,
                "grace_period_seconds": grace_period_seconds,
            },
        )
    return job, created


def provisioning_orphans_compensate() -> int:
    """Compensate PROVISIONING projects whose provision_project job ended without success.

    The handler compensates its own final failure; this catches the ends it never sees: a
    job cancelled before it ran, or a last attempt whose worker died. Returns how many.
    """
    jobs = Job.objects.filter(type=PROVISION_JOB, project=OuterRef("pk"))
    orphans = (
        Project.objects.filter(status=ProjectStatus.PROVISIONING)
        .filter(Exists(jobs.filter(status__in=[JobStatus.FAILED, JobStatus.CANCELLED])))
        .exclude(Exists(jobs.filter(status__in=[*ACTIVE_STATUSES, JobStatus.COMPLETED])))
        .values_list("pk", flat=True)
    )
    count = 0
    for project_id in list(orphans):
        provision_project_compensate(
            project_id=project_id,
            reason="Its provision_project job ended (cancelled, or its worker was lost) "
            "without finishing.",
        )
        count += 1
    return count
