"""Register a tenant with the platform services and undo it, one ServiceRegistration each."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from controlplane.models import Project
from provisioning.models import (
    SETTLED_REGISTRATION,
    RegistrationStatus,
    ServiceName,
    ServiceRegistration,
)
from provisioning.service_client import (
    ServiceCallError,
    ServiceRefused,
    deregister_tenant,
    register_tenant,
    service_endpoint,
)


@transaction.atomic
def _registration_record(*, project: Project, service: str, **fields: Any) -> None:
    """Write the outcome of one registration call (row per project and service)."""
    rows = ServiceRegistration.objects.filter(project=project, service=service)
    if not rows.update(**fields):
        ServiceRegistration.objects.create(project=project, service=service, **fields)


def service_registrations_run(*, project: Project, services: Mapping[str, bool]) -> None:
    """Register the tenant with each enabled service not yet settled; raise on the first failure.

    HTTP calls run outside any transaction; each outcome is committed as soon as it is known,
    so a rerun calls only the services still missing.
    """
    settled = set(
        ServiceRegistration.objects.filter(
            project=project, status__in=SETTLED_REGISTRATION
        ).values_list("service", flat=True)
    )
    for service in ServiceName.values:
        if not services.get(service) or service in settled:
            continue
        endpoint = service_endpoint(service)
        if endpoint is None:
            _registration_record(
                project=project, service=service, status=RegistrationStatus.SKIPPED, error=""
            )
            continue
        try:
            external_id = register_tenant(
                endpoint,
                tenant_id=project.slug,
                schema_name=str(project.schema_name),
                region=project.region,
            )
        except ServiceCallError as exc:
            _registration_record(
                project=project, service=service, status=RegistrationStatus.FAILED, error=str(exc)
            )
            raise
        _registration_record(
            project=project,
            service=service,
            status=RegistrationStatus.REGISTERED,
            external_id=external_id,
            registered_at=timezone.now(),
            deregistered_at=None,
            error="",
        )


def service_registrations_undo(*, project: Project) -> list[str]:
    """Deregister the tenant wherever it is or may be registered; return the failures."""
    # A failed call may still have registered the tenant (e.g. a timeout after the write).
    candidates = ServiceRegistration.objects.filter(
        project=project, status__in=[RegistrationStatus.REGISTERED, RegistrationStatus.FAILED]
    )
    failures = []
    for registration in list(candidates):
        endpoint = service_endpoint(registration.service)
        try:
            if endpoint is None:
                raise ServiceRefused(
                    f"{registration.service} service has no URL configured any more; "
                    f"deregister {project.slug} there by hand."
                )
            deregister_tenant(endpoint, tenant_id=project.slug)
        except ServiceCallError as exc:
            failures.append(str(exc))
            ServiceRegistration.objects.filter(pk=registration.pk).update(error=str(exc))
            continue
        ServiceRegistration.objects.filter(pk=registration.pk, status=registration.status).update(
            status=RegistrationStatus.DEREGISTERED, deregistered_at=timezone.now()
        )
    return failures
