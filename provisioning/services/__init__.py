"""Writes of the provisioning app; views, admin actions and job handlers call these."""

from provisioning.services.api_keys import (
    ApiKeyExpired,
    ApiKeyInvalid,
    ApiKeyRevoked,
    ProjectNotActive,
    api_key_authenticate,
    api_key_issue,
    api_key_reveal_consume,
    api_key_reveal_purge,
    api_key_revoke,
    api_key_rotate,
    api_key_use,
)
from provisioning.services.provision import (
    ProvisioningPermanentError,
    provision_project_compensate,
    provision_project_run,
)
from provisioning.services.registration import (
    service_registrations_run,
    service_registrations_undo,
)
from provisioning.services.requests import (
    api_key_rotation_request,
    project_provision_request,
    project_reprovision,
    provisioning_orphans_compensate,
)
from provisioning.services.tenant_db import (
    TenantDatabaseConflict,
    tenant_role_create,
    tenant_role_drop,
    tenant_schema_create,
    tenant_schema_drop,
)

__all__ = [
    "ApiKeyExpired",
    "ApiKeyInvalid",
    "ApiKeyRevoked",
    "ProjectNotActive",
    "ProvisioningPermanentError",
    "TenantDatabaseConflict",
    "api_key_authenticate",
    "api_key_issue",
    "api_key_reveal_consume",
    "api_key_reveal_purge",
    "api_key_revoke",
    "api_key_rotate",
    "api_key_rotation_request",
    "api_key_use",
    "project_provision_request",
    "project_reprovision",
    "provision_project_compensate",
    "provision_project_run",
    "provisioning_orphans_compensate",
    "service_registrations_run",
    "service_registrations_undo",
    "tenant_role_create",
    "tenant_role_drop",
    "tenant_schema_create",
    "tenant_schema_drop",
]
