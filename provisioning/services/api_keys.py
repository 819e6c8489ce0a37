"""Issue, authenticate, use, revoke, rotate and reveal API keys."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from controlplane.models import Project, ProjectStatus
from controlplane.services import audit_bulk_id, audit_log_record
from provisioning.crypto import decrypt_secret, encrypt_secret
from provisioning.models import KEY_PREFIX_PATTERN, LOOKUP_LENGTH, ApiKey, ApiKeyReveal

SECRET_BYTES = 32
_PREFIX = re.compile(KEY_PREFIX_PATTERN)
_KEY = re.compile(
    rf"^(?P<prefix>[a-z][a-z0-9-]{{0,39}})_(?P<lookup>[0-9a-f]{{{LOOKUP_LENGTH}}})"
    rf"_(?P<secret>[0-9a-f]{{{SECRET_BYTES * 2}}})$"
)
# Compared against when no key matches, so an unknown lookup costs the same as a wrong secret.
_DUMMY_DIGEST = "0" * 64


class ApiKeyInvalid(Exception):
    """Raise when a presented API key is unknown, malformed or its secret is wrong."""

    message = "The API key is not valid."

    def __init__(self) -> None:
        super().__init__(self.message)


class ApiKeyRevoked(ApiKeyInvalid):
    message = "The API key has been revoked."


class ApiKeyExpired(ApiKeyInvalid):
    message = "The API key has expired."


class ProjectNotActive(Exception):
    """Raise when a valid key belongs to a project that may not obtain tokens."""

    def __init__(self, status: str) -> None:
        self.status = status
        label = "suspended" if status == ProjectStatus.SUSPENDED else "not active"
        super().__init__(f"The project is {label}.")


def secret_digest(secret: str) -> str:
    """Return the hex HMAC-SHA256 of `secret` keyed with API_KEY_PEPPER."""
    pepper = settings.API_KEY_PEPPER.encode()
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()


def in_service_keys(project: Project) -> Q:
    """Return the filter for keys that count against the limit (neither revoked nor expiring)."""
    return Q(project=project, revoked_at__isnull=True, expires_at__isnull=True)


def _valid_at(now: datetime) -> Q:
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def _clean_prefix(project: Project, prefix: str | None) -> str:
    prefix = project.slug if prefix is None or prefix == "" else prefix
    if not _PREFIX.fullmatch(prefix):
        raise ValidationError(
            {
                "prefix": f"{prefix!r} is not a valid key prefix: use 1-40 lowercase letters, "
                "digits and hyphens, starting with a letter."
            }
        )
    return prefix


def _lock_project(project: Project) -> Project:
    # Serialises issuing per project, so concurrent calls cannot both pass the limit check.
    return Project.objects.select_for_update().get(pk=project.pk)


def api_keys_create(
    *,
    project: Project,
    count: int,
    name: str,
    prefix: str | None,
    reveal_later: bool,
    replaces: ApiKey | None = None,
    rotation_job_id: uuid.UUID | None = None,
) -> list[tuple[ApiKey, str]]:
    """Create `count` keys inside the caller's transaction; enforce the per-project limit."""
    prefix = _clean_prefix(project, prefix)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError({"name": "A key name of 1-100 characters is required."})
    if count < 1:
        raise ValidationError({"count": "At least one key must be issued."})
    project = _lock_project(project)
    limit = settings.PROVISIONING_MAX_API_KEYS
    existing = ApiKey.objects.filter(in_service_keys(project)).count()
    if existing + count > limit:
        raise ValidationError(
            {
                "count": f"Project {project.slug} would have {existing + count} active API keys; "
                f"the limit is {limit}. Revoke or rotate keys first."
            }
        )
    issued = []
    for _ in range(count):
        lookup = secrets.token_hex(LOOKUP_LENGTH // 2)
        secret = secrets.token_hex(SECRET_BYTES)
        plaintext = f"{prefix}_{lookup}_{secret}"
        key = ApiKey.objects.create(
            project=project,
            name=name,
            prefix=prefix,
            lookup=lookup,
            digest=secret_digest(secret),
            replaces=replaces,
            rotation_job_id=rotation_job_id,
        )
        if reveal_later:
            ApiKeyReveal.objects.create(
                api_key=key,
                ciphertext=encrypt_secret(plaintext),
                expires_at=timezone.now() + timedelta(seconds=settings.PROVISIONING_KEY_REVEAL_TTL),
            )
        issued.append((key, plaintext))
    return issued


@transaction.atomic(durable=True)
def api_key_issue(
    *,
    project: Project,
    name: str,
    prefix: str | None = None,
    actor: AbstractBaseUser | None = None,
    reveal_later: bool = False,
) -> tuple[ApiKey, str]:
    """Issue one key; return it with its plaintext (or keep it, encrypted, for one reveal)."""
    [(key, plaintext)] = api_keys_create(
        project=project, count=1, name=name, prefix=prefix, reveal_later=reveal_later
    )
    audit_log_record(
        actor=actor,
        action="api_key.issue",
        target_type="api_key",
        target_id=str(key.pk),
        project=project,
        details={"project": project.slug, "key": key.public_part},
    )
    return key, plaintext


def api_key_authenticate(*, plaintext: str) -> ApiKey:
    """Return the key `plaintext` names; raise ApiKeyInvalid/Revoked/Expired otherwise."""
    match = _KEY.fullmatch(plaintext or "")
    if match is None:
        raise ApiKeyInvalid()
    key = ApiKey.objects.select_related("project").filter(lookup=match["lookup"]).first()
    presented = secret_digest(match["secret"])
    stored = key.digest if key is not None else _DUMMY_DIGEST
    if not hmac.compare_digest(presented.encode(), stored.encode()) or key is None:
        raise ApiKeyInvalid()
    if key.prefix != match["prefix"]:
        raise ApiKeyInvalid()
    if key.revoked_at is not None:
        raise ApiKeyRevoked()
    if key.expires_at is not None and key.expires_at <= timezone.now():
        raise ApiKeyExpired()
    return key


@transaction.atomic(durable=True)
def api_key_use(*, plaintext: str) -> ApiKey:
    """Authenticate `plaintext` for a token exchange and stamp its last use."""
    key = api_key_authenticate(plaintext=plaintext)
    if key.project.status != ProjectStatus.ACTIVE:
        raise ProjectNotActive(key.project.status)
    now = timezone.now()
    # Fenced on validity: a key revoked or expired since the check above is refused.
    if not ApiKey.objects.filter(_valid_at(now), pk=key.pk).update(last_used_at=now):
        raise ApiKeyInvalid()
    key.last_used_at = now
    return key


@transaction.atomic(durable=True)
def api_key_revoke(
    *, key_ids: Iterable[int], actor: AbstractBaseUser | None, reason: str = ""
) -> int:
    """Revoke the unrevoked keys among `key_ids`, auditing each; return how many changed."""
    candidates = ApiKey.objects.filter(pk__in=list(key_ids), revoked_at__isnull=True)
    locked = list(candidates.select_for_update().select_related("project"))
    changed = candidates.update(revoked_at=timezone.now())
    bulk_id = audit_bulk_id(locked)
    for key in locked:
        audit_log_record(
            actor=actor,
            action="api_key.revoke",
            target_type="api_key",
            target_id=str(key.pk),
            reason=reason,
            project=key.project_id,
            bulk_id=bulk_id,
            details={"project": key.project.slug, "key": key.public_part},
        )
    ApiKeyReveal.objects.filter(api_key__in=locked).delete()
    return changed


@transaction.atomic(durable=True)
def api_key_rotate(
    *,
    project: Project,
    key_id: int | None = None,
    grace_period_seconds: int = 86_400,
    actor: AbstractBaseUser | None = None,
    job_id: uuid.UUID | None = None,
) -> list[tuple[ApiKey, str]]:
    """Replace the project's keys in service (or one), expiring the old ones after the grace.

    With `job_id` (the rotate_key job) a second call for the same job rotates nothing and
    returns [], so a retried job never rotates the replacements it already issued.
    """
    if grace_period_seconds < 0:
        raise ValidationError({"grace_period_seconds": "The grace period cannot be negative."})
    project = _lock_project(project)
    if job_id is not None and ApiKey.objects.filter(rotation_job_id=job_id).exists():
        return []
    old = ApiKey.objects.filter(in_service_keys(project))
    if key_id is not None:
        old = old.filter(pk=key_id)
    olds = list(old.select_for_update().order_by("id"))
    if key_id is not None and not olds:
        raise ValidationError(
            {"key_id": f"Key {key_id} is not an active key of project {project.slug}."}
        )
    expires_at = timezone.now() + timedelta(seconds=grace_period_seconds)
    ApiKey.objects.filter(pk__in=[k.pk for k in olds], expires_at__isnull=True).update(
        expires_at=expires_at
    )
    issued: list[tuple[ApiKey, str]] = []
    for previous in olds:
        issued += api_keys_create(
            project=project,
            count=1,
            name=previous.name,
            prefix=previous.prefix,
            reveal_later=True,
            replaces=previous,
            rotation_job_id=job_id,
        )
        audit_log_record(
            actor=actor,
            action="api_key.rotate",
            target_type="api_key",
            target_id=str(previous.pk),
            project=project,
            details={
                "project": project.slug,
                "key": previous.public_part,
                "replacement": issued[-1][0].public_part,
                "expires_at": expires_at.isoformat(),
                "job_id": str(job_id) if job_id is not None else None,
            },
        )
    return issued


@transaction.atomic(durable=True)
def api_key_reveal_consume(
    *, project: Project, actor: AbstractBaseUser | None
) -> list[tuple[ApiKey, str]]:
    """Return the project's keys awaiting their reveal, with plaintext, and forget them."""
    now = timezone.now()
    pending = list(
        ApiKeyReveal.objects.select_for_update()
        .select_related("api_key")
        .filter(api_key__project=project, expires_at__gt=now, api_key__revoked_at__isnull=True)
        .order_by("api_key_id")
    )
    ApiKeyReveal.objects.filter(pk__in=[r.pk for r in pending]).delete()
    revealed = [(r.api_key, decrypt_secret(r.ciphertext)) for r in pending]
    for key, _ in revealed:
        audit_log_record(
            actor=actor,
            action="api_key.reveal",
            target_type="api_key",
            target_id=str(key.pk),
            project=project,
            details={"project": project.slug, "key": key.public_part},
        )
    return revealed


@transaction.atomic(durable=True)
def api_key_reveal_purge() -> int:
    """Delete reveals nobody collected in time; return how many."""
    deleted, _ = ApiKeyReveal.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
