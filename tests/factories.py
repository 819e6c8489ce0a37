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


def staff(**kw: Any) -> AbstractUser:
    return user(is_staff=True, **kw)
