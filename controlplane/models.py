"""Tenants (`Project`), the admin audit log, and the table behind the PostgreSQL cache."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Concat, Replace

SLUG_PATTERN = r"^[a-z][a-z0-9-]{2,39}$"


class ProjectStatus(models.TextChoices):
    PROVISIONING = "PROVISIONING", "Provisioning"
    ACTIVE = "ACTIVE", "Active"
    SUSPENDED = "SUSPENDED", "Suspended"
    PROVISION_FAILED = "PROVISION_FAILED", "Provisioning failed"


class Project(models.Model):
    """A tenant: one PostgreSQL schema `tenant_<slug>` and the services around it."""

    slug = models.CharField(
        max_length=40,
        unique=True,
        help_text="Lowercase letters, digits and hyphens; starts with a letter; 3-40 characters.",
    )
    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=20, choices=ProjectStatus.choices, default=ProjectStatus.PROVISIONING
    )
    # Derived by the database, so it can never disagree with the slug.
    schema_name = models.GeneratedField(
        expression=Concat(Value("tenant_"), Replace("slug", Value("-"), Value("_"))),
        output_field=models.CharField(max_length=63),
        db_persist=True,
        unique=True,
    )
    region = models.CharField(max_length=50, default="local")
    owner_id = models.CharField(max_length=100, blank=True, default="")
    organization_id = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_reason = models.TextField(blank=True, default="")
    # Why the project is in its status (e.g. the provisioning step that failed); never a secret.
    # db_default keeps inserts of code that predates the column working during a deploy.
    status_reason = models.CharField(max_length=500, blank=True, default="", db_default="")

    class Meta:
        ordering = ["slug"]
        permissions = [("suspend_project", "Can suspend and reactivate projects")]
        indexes = [
            models.Index(fields=["status"], name="project_status_idx"),
            models.Index(fields=["region"], name="project_region_idx"),
            models.Index(fields=["-created_at"], name="project_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(slug__regex=SLUG_PATTERN), name="project_slug_format"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ProjectStatus.values), name="project_status_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=ProjectStatus.SUSPENDED, suspended_at__isnull=False)
                    | (~Q(status=ProjectStatus.SUSPENDED) & Q(suspended_at__isnull=True))
                ),
                name="project_suspended_at_iff_suspended",
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class AuditLog(models.Model):
    """One staff or system action on a record: who, what, on which target, why."""

    SYSTEM: ClassVar[str] = "system"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept apart from the FK so the log still names the actor after a user is deleted.
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    # The project the action concerns (its own row, or one of its backups, jobs, keys):
    # what "History" on a project and the audit list's project filter read.
    project = models.ForeignKey(
        Project,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # covered by audit_project_idx
    )
    reason = models.TextField(blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["-at"], name="audit_at_idx"),
            models.Index(fields=["action", "-at"], name="audit_action_idx"),
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
            models.Index(fields=["actor_label", "-at"], name="audit_actor_idx"),
            models.Index(fields=["project", "-at"], name="audit_project_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.target_type}:{self.target_id}"


class CacheEntry(models.Model):
    """A row of the PostgreSQL cache: integers in `counter`, anything else pickled in `value`."""

    cache_key = models.CharField(max_length=255, primary_key=True)
    value = models.BinaryField(null=True)
    counter = models.BigIntegerField(null=True)
    expires = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["expires"], name="cacheentry_expires_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(value__isnull=True) ^ Q(counter__isnull=True),
                name="cacheentry_value_xor_counter",
            )
        ]

    def __str__(self) -> str:
        return self.cache_key
