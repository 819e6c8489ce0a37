"""Ask for provisioning and key rotation: write the request and enqueue its job atomically."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from controlplane.models import Project, ProjectStatus
from controlplane.services import audit_log_record, project_create
from jobs.models import ACTIVE_STATUSES, Job, JobStatus
from jobs.services import enqueue_job
from provisioning.models import ServiceName
from provisioning.services.provision import provision_project_compensate

PROVISION_JOB = "provision_project"
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
    job = enqueue_job(
        type=PROVISION_JOB,
        payload=payload,
        project=project,
        exclusive_key=f"{PROVISION_JOB}:{project.pk}",
    )
    audit_log_record(
        actor=actor,
        action="project.provision_request",
        target_type="project",
        target_id=project.slug,
        reason=reason,
        details={
            "job_id": str(job.pk),
            "services": payload["services"],
            "api_keys": payload["api_keys"],
            "region": region,
        },
    )
    return project, job


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
    started = timezone.now()
    payload: dict[str, Any] = {
        "project_id": project.slug,
        "grace_period_seconds": grace_period_seconds,
    }
    if key_id is not None:
        payload["key_id"] = key_id
    job = enqueue_job(
        type=ROTATE_JOB,
        payload=payload,
        project=project,
        exclusive_key=f"{ROTATE_JOB}:{project.pk}",
    )
    created = job.created_at >= started
    if created:
        audit_log_record(
            actor=actor,
            action="api_key.rotation_request",
            target_type="project",
            target_id=project.slug,
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
