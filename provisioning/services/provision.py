"""Provision a project step by step (resumable), and compensate a provisioning that failed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from controlplane.models import Project, ProjectStatus
from controlplane.redaction import redact
from controlplane.services import audit_log_record, validate_project_slug
from jobs.errors import PermanentJobError
from provisioning.models import (
    STEP_ORDER,
    ApiKey,
    ApiKeyReveal,
    ProvisioningStep,
    ServiceName,
    StepName,
    StepStatus,
)
from provisioning.selectors import provisioning_result
from provisioning.services.api_keys import api_keys_create
from provisioning.services.registration import (
    service_registrations_run,
    service_registrations_undo,
)
from provisioning.services.tenant_db import (
    tenant_role_create,
    tenant_role_drop,
    tenant_schema_create,
    tenant_schema_drop,
)

logger = logging.getLogger("provisioning")

DEFAULT_KEY_NAME = "default"
STATUS_REASON_LENGTH = 500


class ProvisioningPermanentError(PermanentJobError):
    """Raise when retrying cannot help (bad arguments, project gone or in the wrong state)."""


def _describe(exc: BaseException) -> str:
    # The type name helps tell DB errors from HTTP ones. Our messages carry no secrets;
    # scrubbing the known ones still keeps a surprising one out of the step row.
    return redact(f"{type(exc).__name__}: {exc}", _service_tokens())[:2000]


def _step_start(project: Project, name: str) -> None:
    with transaction.atomic(durable=True):
        step, _ = ProvisioningStep.objects.get_or_create(project=project, name=name)
        # RUNNING is taken over too: the job system runs one attempt at a time, so a RUNNING
        # step is one whose worker died.
        ProvisioningStep.objects.filter(
            pk=step.pk, status__in=[StepStatus.PENDING, StepStatus.FAILED, StepStatus.RUNNING]
        ).update(
            status=StepStatus.RUNNING,
            started_at=timezone.now(),
            finished_at=None,
            error="",
            attempts=F("attempts") + 1,
        )


def _step_finish(project: Project, name: str, details: dict[str, Any]) -> None:
    done = ProvisioningStep.objects.filter(
        project=project, name=name, status=StepStatus.RUNNING
    ).update(status=StepStatus.DONE, finished_at=timezone.now(), details=details)
    if not done:
        raise ProvisioningPermanentError(f"Step {name} of {project.slug} changed under us.")


def _step_fail(project: Project, name: str, error: str) -> None:
    with transaction.atomic(durable=True):
        ProvisioningStep.objects.filter(
            project=project, name=name, status=StepStatus.RUNNING
        ).update(status=StepStatus.FAILED, finished_at=timezone.now(), error=error)


def _locked(project: Project) -> Project:
    return Project.objects.select_for_update().get(pk=project.pk)


def _database_step(project: Project, options: dict[str, Any]) -> None:
    with transaction.atomic(durable=True):
        project = _locked(project)
        details = {
            "schema_created": tenant_schema_create(project=project),
            "role_created": tenant_role_create(project=project),
        }
        _step_finish(project, StepName.DATABASE, details)


def _services_step(project: Project, options: dict[str, Any]) -> None:
    service_registrations_run(project=project, services=options["services"])
    with transaction.atomic(durable=True):
        _step_finish(project, StepName.SERVICES, {"services": options["services"]})


def _api_keys_step(project: Project, options: dict[str, Any]) -> None:
    with transaction.atomic(durable=True):
        issued = api_keys_create(
            project=project,
            count=options["api_key_count"],
            name=DEFAULT_KEY_NAME,
            prefix=options["api_key_prefix"],
            reveal_later=True,
        )
        for key, _ in issued:
            audit_log_record(
                actor=None,
                action="api_key.issue",
                target_type="api_key",
                target_id=str(key.pk),
                project=project,
                details={"project": project.slug, "key": key.public_part},
            )
        _step_finish(project, StepName.API_KEYS, {"api_key_ids": [k.pk for k, _ in issued]})


def _activate_step(project: Project, options: dict[str, Any]) -> None:
    with transaction.atomic(durable=True):
        activated = Project.objects.filter(pk=project.pk, status=ProjectStatus.PROVISIONING).update(
            status=ProjectStatus.ACTIVE, status_reason=""
        )
        status = Project.objects.values_list("status", flat=True).get(pk=project.pk)
        if not activated and status != ProjectStatus.ACTIVE:
            raise ProvisioningPermanentError(
                f"Project {project.slug} is {status}, not PROVISIONING; it was left alone."
            )
        audit_log_record(
            actor=None,
            action="project.provisioned",
            target_type="project",
            target_id=project.slug,
            project=project,
        )
        _step_finish(project, StepName.ACTIVATE, {})


_STEPS: dict[str, Callable[[Project, dict[str, Any]], None]] = {
    StepName.DATABASE: _database_step,
    StepName.SERVICES: _services_step,
    StepName.API_KEYS: _api_keys_step,
    StepName.ACTIVATE: _activate_step,
}


def _options(
    services: Mapping[str, bool], api_key_count: int, api_key_prefix: str | None
) -> dict[str, Any]:
    unknown = set(services) - set(ServiceName.values)
    if unknown:
        raise ProvisioningPermanentError(f"Unknown services: {', '.join(sorted(unknown))}.")
    limit = settings.PROVISIONING_MAX_API_KEYS
    if not 1 <= api_key_count <= limit:
        raise ProvisioningPermanentError(f"api_keys.count must be between 1 and {limit}.")
    return {
        "services": {s: bool(services.get(s, False)) for s in ServiceName.values},
        "api_key_count": api_key_count,
        "api_key_prefix": api_key_prefix or None,
    }


def provision_project_run(
    *,
    project_id: int,
    services: Mapping[str, bool],
    api_key_count: int = 1,
    api_key_prefix: str | None = None,
) -> dict[str, Any]:
    """Run the provisioning steps not yet done, in order; return the provisioning result.

    Each step records itself in ProvisioningStep and is idempotent, so calling this again
    after a failure resumes at the first step not done. Raises ProvisioningPermanentError
    when retrying cannot help; any other exception is worth a retry.
    """
    options = _options(services, api_key_count, api_key_prefix)
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        raise ProvisioningPermanentError(f"Project {project_id} does not exist.")
    try:
        validate_project_slug(project.slug)
    except ValidationError as exc:
        raise ProvisioningPermanentError(exc.messages[0]) from None
    done = set(
        ProvisioningStep.objects.filter(project=project, status=StepStatus.DONE).values_list(
            "name", flat=True
        )
    )
    if project.status != ProjectStatus.PROVISIONING and done != set(STEP_ORDER):
        raise ProvisioningPermanentError(
            f"Project {project.slug} is {project.status}; only PROVISIONING projects are "
            "provisioned."
        )
    for name in STEP_ORDER:
        if name in done:
            continue
        _step_start(project, name)
        try:
            _STEPS[name](project, options)
        except Exception as exc:
            _step_fail(project, name, _describe(exc))
            logger.warning("Provisioning %s failed at step %s: %s", project.slug, name, exc)
            raise
    return provisioning_result(project=project)


def _service_tokens() -> list[str]:
    return [getattr(settings, f"{s.upper()}_SERVICE_TOKEN", "") for s in ServiceName.values]


def failure_status_reason(*, project: Project, reason: str) -> str:
    """Return the project's status_reason for a failed provisioning: the step and the error."""
    steps = {
        s.name: s.status
        for s in ProvisioningStep.objects.filter(
            project=project, status__in=[StepStatus.FAILED, StepStatus.RUNNING]
        )
    }
    failed = [n for n in STEP_ORDER if steps.get(n) == StepStatus.FAILED]
    running = [n for n in STEP_ORDER if steps.get(n) == StepStatus.RUNNING]
    reason = " ".join(reason.split())
    if failed:
        text = f"Step {failed[0]} ({StepName(failed[0]).label}) failed: {reason}"
    elif running:
        text = f"Step {running[0]} ({StepName(running[0]).label}) did not finish: {reason}"
    else:
        text = reason
    # Callers pass redacted reasons already; this also covers one that is not.
    text = redact(text, _service_tokens())
    if len(text) > STATUS_REASON_LENGTH:
        text = text[: STATUS_REASON_LENGTH - 1] + "…"
    return text


def provision_project_compensate(*, project_id: int, reason: str) -> list[str]:
    """Undo a failed provisioning in reverse order and mark the project PROVISION_FAILED.

    Revokes the generated keys, deregisters services, drops role and schema only if this
    provisioning created them, and records the failing step in `status_reason`. Returns
    what could not be undone (empty when clean).
    """
    project = Project.objects.get(pk=project_id)
    database = ProvisioningStep.objects.filter(project=project, name=StepName.DATABASE).first()
    status_reason = failure_status_reason(project=project, reason=reason)
    with transaction.atomic(durable=True):
        keys = ApiKey.objects.filter(project=project, revoked_at__isnull=True)
        ApiKeyReveal.objects.filter(api_key__project=project).delete()
        keys.update(revoked_at=timezone.now())
    failures = service_registrations_undo(project=project)
    with transaction.atomic(durable=True):
        details = database.details if database and database.status == StepStatus.DONE else {}
        if details.get("role_created"):
            tenant_role_drop(project=project)
        if details.get("schema_created"):
            tenant_schema_drop(project=project)
        ProvisioningStep.objects.filter(project=project, status=StepStatus.DONE).update(
            status=StepStatus.COMPENSATED
        )
        failed = Project.objects.filter(pk=project.pk, status=ProjectStatus.PROVISIONING).update(
            status=ProjectStatus.PROVISION_FAILED, status_reason=status_reason
        )
        if failed:
            audit_log_record(
                actor=None,
                action="project.provision_failed",
                target_type="project",
                target_id=project.slug,
                project=project,
                reason=reason[:2000],
                details={"compensation_failures": failures},
            )
    return failures
