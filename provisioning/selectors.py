"""Reads for provisioning: the job result, connection details, keys awaiting their reveal."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from controlplane.models import Project
from provisioning.crypto import decrypt_secret
from provisioning.models import (
    ApiKey,
    ApiKeyReveal,
    ProvisioningStep,
    ServiceName,
    ServiceRegistration,
    StepName,
    StepStatus,
    TenantDatabaseCredential,
)


def tenant_connection_details(*, project: Project) -> dict[str, Any]:
    """Return where and as whom the tenant connects; never the password."""
    db = connection.settings_dict
    credential = TenantDatabaseCredential.objects.filter(project=project).first()
    return {
        "host": settings.PROVISIONING_TENANT_DB_HOST or db.get("HOST") or "localhost",
        "port": settings.PROVISIONING_TENANT_DB_PORT or int(db.get("PORT") or 5432),
        "dbname": db["NAME"],
        "user": credential.role_name if credential else None,
    }


def tenant_password(*, project: Project) -> str:
    """Return the decrypted password of the project's role, for handing to its owner."""
    credential = TenantDatabaseCredential.objects.get(project=project)
    return decrypt_secret(credential.password_encrypted)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def provisioning_result(*, project: Project) -> dict[str, Any]:
    """Return the provisioning job's result: JSON values only, no secret."""
    project = Project.objects.get(pk=project.pk)
    steps = {s.name: s for s in ProvisioningStep.objects.filter(project=project)}
    registrations = {r.service: r for r in ServiceRegistration.objects.filter(project=project)}
    services: dict[str, Any] = {}
    for service in ServiceName.values:
        reg = registrations.get(service)
        services[service] = (
            {
                "status": reg.status,
                "external_id": reg.external_id or None,
                "registered_at": _iso(reg.registered_at),
            }
            if reg
            else {"status": "disabled", "external_id": None, "registered_at": None}
        )
    key_step = steps.get(StepName.API_KEYS)
    key_ids = key_step.details.get("api_key_ids", []) if key_step else []
    keys = ApiKey.objects.filter(pk__in=key_ids).order_by("id")
    activate = steps.get(StepName.ACTIVATE)
    provisioned_at = (
        activate.finished_at if activate and activate.status == StepStatus.DONE else None
    )
    return {
        "schema_name": str(project.schema_name),
        "database": tenant_connection_details(project=project),
        "services": services,
        "api_keys": [
            {"id": k.pk, "prefix": k.prefix, "name": k.name, "created_at": _iso(k.created_at)}
            for k in keys
        ],
        "region": project.region,
        "owner_id": project.owner_id or None,
        "organization_id": project.organization_id or None,
        "provisioned_at": _iso(provisioned_at),
    }


def api_keys_awaiting_reveal(*, project: Project) -> int:
    """Return how many of the project's new keys still wait for their one reveal."""
    return ApiKeyReveal.objects.filter(
        api_key__project=project, expires_at__gt=timezone.now(), api_key__revoked_at__isnull=True
    ).count()


def key_rotation_result(*, project: Project, job_id: uuid.UUID) -> dict[str, Any]:
    """Return the rotate_key job's result: the replaced keys and their replacements, no secret."""
    replacements = list(
        ApiKey.objects.filter(project=project, rotation_job_id=job_id)
        .select_related("replaces")
        .order_by("id")
    )
    return {
        "project_id": project.slug,
        "rotated": [
            {
                "id": k.replaces.pk,
                "prefix": k.replaces.prefix,
                "name": k.replaces.name,
                "expires_at": _iso(k.replaces.expires_at),
            }
            for k in replacements
            if k.replaces is not None
        ],
        "replacements": [
            {
                "id": k.pk,
                "prefix": k.prefix,
                "name": k.name,
                "created_at": _iso(k.created_at),
                "replaces": k.replaces_id,
            }
            for k in replacements
        ],
        "awaiting_reveal": api_keys_awaiting_reveal(project=project),
    }


def project_provisioning_overview(*, project: Project, key_limit: int = 50) -> dict[str, Any]:
    """Return what the project's admin page shows of its provisioning: steps, services, keys."""
    return {
        "steps": list(ProvisioningStep.objects.filter(project=project).order_by("id")),
        "registrations": list(ServiceRegistration.objects.filter(project=project)),
        "keys": list(ApiKey.objects.filter(project=project).order_by("-created_at")[:key_limit]),
        "awaiting_reveal": api_keys_awaiting_reveal(project=project),
    }


def key_state(key: ApiKey) -> str:
    """Return the key's state as staff read it."""
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None:
        return "expired" if key.expires_at <= timezone.now() else "expiring"
    return "active"


def api_key_counts(*, project: Project) -> dict[str, int]:
    """Return how many of the project's keys are active, expired and revoked (one query)."""
    now = timezone.now()
    live = Q(revoked_at__isnull=True)
    return ApiKey.objects.filter(project=project).aggregate(
        active=Count("pk", filter=live & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))),
        expired=Count("pk", filter=live & Q(expires_at__lte=now)),
        revoked=Count("pk", filter=Q(revoked_at__isnull=False)),
    )
