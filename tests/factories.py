"""Test data built through the same services production code uses."""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser

from controlplane.models import Project, ProjectStatus
from controlplane.services import project_create

_seq = itertools.count(1)


def project(
    *, slug: str | None = None, status: ProjectStatus = ProjectStatus.ACTIVE, **kw: Any
) -> Project:
    slug = slug or f"proj-{next(_seq)}"
    return project_create(slug=slug, name=kw.pop("name", slug.title()), status=status, **kw)


def user(
    *, username: str | None = None, password: str = "correct horse battery", **kw: Any
) -> AbstractUser:
    username = username or f"user{next(_seq)}"
    return get_user_model().objects.create_user(username=username, password=password, **kw)


# Every permission a staff token's API endpoints check (README, "Security").
API_PERMISSIONS = (
    "backups.view_backup",
    "backups.download_backup",
    "backups.request_export",
    "jobs.view_job",
    "backfill.view_backfilllog",
    "backfill.manage_backfill",
)


def staff(*, perms: tuple[str, ...] | list[str] = (), **kw: Any) -> AbstractUser:
    account = user(is_staff=True, **kw)
    grant(account, *perms)
    return account


def grant(account: AbstractUser, *perms: str) -> AbstractUser:
    """Give `account` the permissions named `app_label.codename`."""
    from django.contrib.auth.models import Permission

    for name in perms:
        app_label, codename = name.split(".", 1)
        account.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    # Drop Django's per-instance permission cache.
    for attr in ("_perm_cache", "_user_perm_cache"):
        account.__dict__.pop(attr, None)
    return account
