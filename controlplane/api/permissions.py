"""Permissions shared by the apps' API views."""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from controlplane.api.auth import request_project_id

CRON_SECRET_HEADER = "X-Cron-Secret"  # noqa: S105 (a header name)


def cron_secret_valid(supplied: str) -> bool:
    """Compare `supplied` with CRON_SECRET (and CRON_SECRET_PREVIOUS) in constant time."""
    if not supplied:
        return False
    given = supplied.encode()
    accepted = [settings.CRON_SECRET, settings.CRON_SECRET_PREVIOUS]
    # Evaluate every candidate: which one matched must not show in the timing.
    matches = [hmac.compare_digest(given, s.encode()) for s in accepted if s]
    return any(matches)


class IsStaff(BasePermission):
    """Allow staff tokens only."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(getattr(request.user, "is_staff", False))


class CronSecretOrStaff(BasePermission):
    """Allow callers presenting X-Cron-Secret, or a staff token."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if cron_secret_valid(request.headers.get(CRON_SECRET_HEADER, "")):
            return True
        return bool(getattr(request.user, "is_staff", False))


def ensure_project_access(request: Request, project_id: str) -> None:
    """Refuse (403) a project token acting on another project; staff may act on any."""
    bound = request_project_id(request)
    if bound is not None and bound != project_id:
        raise PermissionDenied("This token may only act on its own project.")
