"""Writes for projects and the audit log. Views, admin actions and handlers call these."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from controlplane.models import SLUG_PATTERN, AuditLog, Project, ProjectStatus
from controlplane.redaction import redact, redact_data

_SLUG = re.compile(SLUG_PATTERN)


def validate_project_slug(slug: str) -> None:
    """Raise ValidationError with a readable message unless `slug` is a legal project slug."""
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
        raise ValidationError(
            {
                "slug": (
                    f"{slug!r} is not a valid project slug: use 3-40 characters, lowercase "
                    "letters, digits and hyphens, starting with a letter."
                )
            }
        )


def audit_log_record(
    *,
    actor: AbstractBaseUser | None,
    action: str,
    target_type: str,
    target_id: str,
    reason: str = "",
    details: dict[str, Any] | None = None,
    project: Project | int | None = None,
    bulk_id: str = "",
) -> AuditLog:
    """Write one audit row; `actor=None` means the system did it.

    `project` is the project the action concerns (its History and the audit filter read
    it); `bulk_id` (from `audit_bulk_id`) ties together the rows of one bulk action.
    """
    details = dict(details or {})
    if bulk_id:
        details["bulk_id"] = bulk_id
    return AuditLog.objects.create(
        actor_id=actor.pk if actor is not None else None,
        actor_label=actor.get_username() if actor is not None else AuditLog.SYSTEM,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        project_id=project.pk if isinstance(project, Project) else project,
        # Reasons and details may quote an error (an SMTP server echoing credentials).
        reason=redact(reason),
        details=redact_data(details),
    )


def audit_bulk_id(ids: Sequence[Any]) -> str:
    """Return a fresh id shared by the audit rows of one action on several objects, else ""."""
    return uuid.uuid4().hex if len(ids) > 1 else ""


@transaction.atomic  # joins a caller's transaction: provisioning enqueues its job beside it
def project_create(
    *,
    slug: str,
    name: str,
    region: str = "local",
    owner_id: str = "",
    organization_id: str = "",
    status: ProjectStatus = ProjectStatus.PROVISIONING,
    actor: AbstractBaseUser | None = None,
) -> Project:
    """Create a project row (provisioning its schema is the provisioning app's job)."""
    validate_project_slug(slug)
    if Project.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"A project with slug {slug!r} already exists."})
    project = Project.objects.create(
        slug=slug,
        name=name,
        region=region,
        owner_id=owner_id,
        organization_id=organization_id,
        status=status,
        suspended_at=timezone.now() if status == ProjectStatus.SUSPENDED else None,
    )
    audit_log_record(
        actor=actor,
        action="project.create",
        target_type="project",
        target_id=slug,
        project=project,
    )
    return project


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "A reason is required."})
    return reason


def _project_transition(
    *,
    project_ids: Iterable[int],
    source: ProjectStatus,
    changes: dict[str, Any],
    action: str,
    actor: AbstractBaseUser | None,
    reason: str,
) -> int:
    """Apply `changes` to the projects among `project_ids` still in `source`; audit each."""
    candidates = Project.objects.filter(pk__in=list(project_ids), status=source)
    # Lock first so the conditional UPDATE changes exactly the rows we audit.
    rows = list(candidates.select_for_update().values_list("pk", "slug"))
    changed = candidates.update(**changes)
    bulk_id = audit_bulk_id(rows)
    for pk, slug in rows:
        audit_log_record(
            actor=actor,
            action=action,
            target_type="project",
            target_id=slug,
            reason=reason,
            project=pk,
            bulk_id=bulk_id,
        )
    return changed


@transaction.atomic(durable=True)
def project_suspend(
    *, project_ids: Iterable[int], actor: AbstractBaseUser | None, reason: str
) -> int:
    """Suspend the ACTIVE projects among `project_ids`; return how many changed."""
    reason = _require_reason(reason)
    return _project_transition(
        project_ids=project_ids,
        source=ProjectStatus.ACTIVE,
        changes={
            "status": ProjectStatus.SUSPENDED,
            "suspended_at": timezone.now(),
            "suspended_reason": reason,
        },
        action="project.suspend",
        actor=actor,
        reason=reason,
    )


@transaction.atomic(durable=True)
def project_reactivate(
    *, project_ids: Iterable[int], actor: AbstractBaseUser | None, reason: str
) -> int:
    """Reactivate the SUSPENDED projects among `project_ids`; return how many changed."""
    reason = _require_reason(reason)
    return _project_transition(
        project_ids=project_ids,
        source=ProjectStatus.SUSPENDED,
        changes={"status": ProjectStatus.ACTIVE, "suspended_at": None, "suspended_reason": ""},
        action="project.reactivate",
        actor=actor,
        reason=reason,
    )
