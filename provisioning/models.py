"""API keys, provisioning steps, service registrations and tenant database credentials."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from controlplane.models import Project

LOOKUP_LENGTH = 16
DIGEST_LENGTH = 64
KEY_PREFIX_PATTERN = r"^[a-z][a-z0-9-]{0,39}$"


class ApiKey(models.Model):
    """A project's API key: public lookup part plus an HMAC digest of the secret, never the key."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=40)
    # `unique` gives the index the token exchange looks keys up by.
    lookup = models.CharField(max_length=LOOKUP_LENGTH, unique=True)
    digest = models.CharField(max_length=DIGEST_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Rotation lineage: the key this one replaced, and the rotate_key job that issued it
    # (a retried job finds its replacements here instead of rotating twice).
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaced_by"
    )
    rotation_job_id = models.UUIDField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at", "-id"]
        permissions = [
            ("issue_apikey", "Can issue API keys and reveal new ones once"),
            ("revoke_apikey", "Can revoke API keys"),
        ]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="apikey_project_idx"),
            # The "keys in service" count behind the per-project limit.
            models.Index(
                fields=["project"],
                name="apikey_in_service_idx",
                condition=Q(revoked_at__isnull=True, expires_at__isnull=True),
            ),
            models.Index(
                fields=["rotation_job_id"],
                name="apikey_rotation_job_idx",
                condition=Q(rotation_job_id__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(lookup__regex=rf"^[0-9a-f]{{{LOOKUP_LENGTH}}}$"),
                name="apikey_lookup_format",
            ),
            models.CheckConstraint(
                condition=Q(digest__regex=rf"^[0-9a-f]{{{DIGEST_LENGTH}}}$"),
                name="apikey_digest_format",
            ),
            models.CheckConstraint(
                condition=Q(prefix__regex=KEY_PREFIX_PATTERN), name="apikey_prefix_format"
            ),
        ]

    def __str__(self) -> str:
        return self.public_part

    @property
    def public_part(self) -> str:
        """Return what may be shown of the key: prefix and lookup, never the secret."""
        return f"{self.prefix}_{self.lookup}_…"


class ApiKeyReveal(models.Model):
    """A newly generated key waiting, encrypted, for its one reveal; deleted when shown."""

    api_key = models.OneToOneField(ApiKey, on_delete=models.CASCADE, related_name="reveal")
    ciphertext = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="apikeyreveal_expires_idx")]

    def __str__(self) -> str:
        return f"reveal of key {self.api_key_id}"


class StepName(models.TextChoices):
    DATABASE = "database", "Create schema and role"
    SERVICES = "services", "Register with services"
    API_KEYS = "api_keys", "Generate API keys"
    ACTIVATE = "activate", "Mark project active"


STEP_ORDER = [StepName.DATABASE, StepName.SERVICES, StepName.API_KEYS, StepName.ACTIVATE]


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    COMPENSATED = "compensated", "Compensated"


class ProvisioningStep(models.Model):
    """One step of provisioning a project; a rerun resumes at the first step not done."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="provisioning_steps"
    )
    name = models.CharField(max_length=20, choices=StepName.choices)
    status = models.CharField(max_length=20, choices=StepStatus.choices, default="pending")
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    # What the step did (e.g. whether it created the schema), for compensation and the admin.
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["project", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="provstep_project_name_uniq"),
            models.CheckConstraint(
                condition=Q(name__in=StepName.values), name="provstep_name_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=StepStatus.values), name="provstep_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["status"], name="provstep_status_idx")]

    def __str__(self) -> str:
        return f"{self.project_id}:{self.name}={self.status}"


class ServiceName(models.TextChoices):
    AUTH = "auth", "Auth"
    REALTIME = "realtime", "Realtime"
    STORAGE = "storage", "Storage"


class RegistrationStatus(models.TextChoices):
    REGISTERED = "registered", "Registered"
    SKIPPED = "skipped", "Skipped (service not configured)"
    FAILED = "failed", "Failed"
    DEREGISTERED = "deregistered", "Deregistered"


# Registrations a rerun leaves alone.
SETTLED_REGISTRATION = [RegistrationStatus.REGISTERED, RegistrationStatus.SKIPPED]


class ServiceRegistration(models.Model):
    """The tenant's registration with one platform service (auth, realtime, storage)."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="service_registrations"
    )
    service = models.CharField(max_length=20, choices=ServiceName.choices)
    status = models.CharField(max_length=20, choices=RegistrationStatus.choices)
    external_id = models.CharField(max_length=200, blank=True, default="")
    registered_at = models.DateTimeField(null=True, blank=True)
    deregistered_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "service"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "service"], name="servicereg_project_service_uniq"
            ),
            models.CheckConstraint(
                condition=Q(service__in=ServiceName.values), name="servicereg_service_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=RegistrationStatus.values),
                name="servicereg_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status=RegistrationStatus.REGISTERED) | Q(registered_at__isnull=False),
                name="servicereg_registered_has_time",
            ),
        ]
        indexes = [models.Index(fields=["status"], name="servicereg_status_idx")]

    def __str__(self) -> str:
        return f"{self.project_id}:{self.service}={self.status}"


class TenantDatabaseCredential(models.Model):
    """The login role of a tenant schema; its password only ever stored encrypted."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, related_name="database_credential"
    )
    role_name = models.CharField(max_length=63, unique=True)
    password_encrypted = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(role_name__regex=r"^[a-z_][a-z0-9_]{0,62}$"),
                name="tenantcred_role_name_format",
            )
        ]

    def __str__(self) -> str:
        return self.role_name
