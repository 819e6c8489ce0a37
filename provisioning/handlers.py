"""Job handlers: `provision_project` (resumable, compensated on final failure) and `rotate_key`."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from controlplane.models import Project, ProjectStatus
from controlplane.redaction import redact
from jobs.context import JobContext
from jobs.errors import JobTimeout, PermanentJobError
from jobs.registry import job_handler
from jobs.retry import RetryPolicy
from provisioning.crypto import DecryptionError
from provisioning.models import ServiceName, TenantDatabaseCredential
from provisioning.schedules import ORPHANS_JOB, REVEAL_PURGE_JOB
from provisioning.selectors import key_rotation_result, tenant_password
from provisioning.serializers import ProvisionProjectPayload, RotateKeyPayload
from provisioning.services import (
    api_key_reveal_purge,
    api_key_rotate,
    provision_project_compensate,
    provision_project_run,
    provisioning_orphans_compensate,
)
from provisioning.services.requests import PROVISION_JOB, ROTATABLE_STATUSES, ROTATE_JOB

logger = logging.getLogger("provisioning")

# Failures worth a retry are mostly a service being down; give it time to come back.
PROVISION_RETRY = RetryPolicy(base=15.0, factor=2.0, cap=300.0)


def _project(ctx: JobContext) -> Project:
    slug = ctx.payload["project_id"]
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        raise PermanentJobError(f"Project {slug} does not exist.")
    if ctx.project_id is not None and ctx.project_id != project.pk:
        raise PermanentJobError(f"The job belongs to another project than {slug}.")
    return project


def _check_payload_matches(project: Project, payload: dict[str, Any]) -> None:
    """Refuse a payload that describes the project otherwise than its row does."""
    for field in ("region", "owner_id", "organization_id"):
        given = payload.get(field) or ""
        if field != "region" and not given:
            continue
        if given != getattr(project, field):
            raise PermanentJobError(
                f"payload.{field} {given!r} does not match project {project.slug} "
                f"({getattr(project, field)!r})."
            )


def _guard_secrets(ctx: JobContext, project: Project) -> None:
    """Register every secret this job handles, so none can reach a stored error."""
    for service in ServiceName.values:
        ctx.add_secret(getattr(settings, f"{service.upper()}_SERVICE_TOKEN", ""))
    if TenantDatabaseCredential.objects.filter(project=project).exists():
        with contextlib.suppress(DecryptionError):
            ctx.add_secret(tenant_password(project=project))


def _is_permanent(exc: BaseException) -> bool:
    # The worker's rule (jobs.worker): a PermanentJobError or an invalid payload is final.
    return isinstance(exc, PermanentJobError | ValidationError)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    if isinstance(exc, JobTimeout):
        return "Timed out."
    return f"{type(exc).__name__}: {exc}"


def _compensate(project: Project, reason: str) -> str:
    """Undo the provisioning; return a sentence for last_error about what is left behind."""
    # Only a project still being provisioned is ours to undo: an ACTIVE one keeps its keys.
    if not Project.objects.filter(pk=project.pk, status=ProjectStatus.PROVISIONING).exists():
        return "Nothing compensated: the project is not PROVISIONING."
    try:
        failures = provision_project_compensate(project_id=project.pk, reason=reason)
    except Exception as exc:
        logger.exception("Compensating the provisioning of %s failed", project.slug)
        return f"Compensation failed ({type(exc).__name__}: {exc}); clean up by hand."
    if failures:
        return "Compensated, except: " + " | ".join(failures)
    return "Compensated: nothing of this provisioning is left."


@job_handler(PROVISION_JOB, payload=ProvisionProjectPayload, retry=PROVISION_RETRY)
def provision_project(ctx: JobContext) -> dict[str, Any]:
    """Provision the project step by step; on a permanent or final failure, undo it all."""
    payload = ctx.payload
    project = _project(ctx)
    _check_payload_matches(project, payload)
    api_keys = payload.get("api_keys") or {}
    try:
        return provision_project_run(
            project_id=project.pk,
            services=payload["services"],
            api_key_count=api_keys.get("count", 1),
            api_key_prefix=api_keys.get("prefix") or None,
        )
    except (Exception, JobTimeout) as exc:
        _guard_secrets(ctx, project)
        permanent = _is_permanent(exc)
        if not (permanent or ctx.is_last_attempt):
            raise
        reason = redact(_describe(exc), ctx.secrets)[:1500]
        outcome = _compensate(project, reason)
        logger.warning("Provisioning %s failed for good: %s %s", project.slug, reason, outcome)
        if isinstance(exc, JobTimeout):
            raise
        raise PermanentJobError(f"{reason} — {outcome}") from exc


@job_handler(ROTATE_JOB, payload=RotateKeyPayload)
def rotate_key(ctx: JobContext) -> dict[str, Any]:
    """Issue replacements (kept for their one reveal) and expire the old keys after the grace."""
    project = _project(ctx)
    if project.status not in ROTATABLE_STATUSES:
        raise PermanentJobError(f"Project {project.slug} is {project.status}; keys not rotated.")
    api_key_rotate(
        project=project,
        key_id=ctx.payload.get("key_id"),
        grace_period_seconds=ctx.payload["grace_period_seconds"],
        job_id=ctx.job_id,
    )
    return {
        **key_rotation_result(project=project, job_id=ctx.job_id),
        "grace_period_seconds": ctx.payload["grace_period_seconds"],
    }


@job_handler(REVEAL_PURGE_JOB, housekeeping=True)
def reveal_purge(ctx: JobContext) -> dict[str, Any]:
    """Delete API-key reveals nobody collected in time."""
    return {"deleted": api_key_reveal_purge()}


@job_handler(ORPHANS_JOB, housekeeping=True)
def orphans_compensate(ctx: JobContext) -> dict[str, Any]:
    """Undo provisionings whose job ended without success and without compensating."""
    return {"compensated": provisioning_orphans_compensate()}
