"""Permissions shared by the apps' API views.

`ApiAccess` is the default: a project token passes while its project is ACTIVE (each view
then keeps it to its own project); a staff token passes only where its user holds the
view's `staff_permission`, the Django permission the matching admin page needs.
"""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from controlplane.api.auth import ProjectPrincipal, request_project_id
from controlplane.api.errors import ProjectSuspended, ProjectSuspendedForbidden
from controlplane.models import ProjectStatus

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


def staff_permission_of(view: Any) -> str | None:
    """Return the Django permission a staff token needs for `view` (None: staff refused)."""
    return getattr(view, "staff_permission", None)


def ensure_staff_permission(request: Request, view: Any) -> None:
    """Refuse (403) a staff user who lacks the view's permission."""
    perm = staff_permission_of(view)
    if perm is None or not request.user.has_perm(perm):
        raise PermissionDenied(
            f"This needs the permission {perm}." if perm else "Staff tokens may not call this."
        )


def ensure_project_active(principal: ProjectPrincipal, *, suspended_conflict: bool) -> None:
    """Refuse a token of a suspended (409 on exports, else 403) or not yet active project."""
    status = principal.project_status
    if status is None or status == ProjectStatus.ACTIVE:
        return  # None: the project is gone, and the view's own lookup answers 404
    if status == ProjectStatus.SUSPENDED:
        raise ProjectSuspended() if suspended_conflict else ProjectSuspendedForbidden()
    raise PermissionDenied("The project is not active.")


class ApiAccess(BasePermission):
    """Allow project tokens of active projects, and staff holding the view's permission."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not getattr(user, "is_authenticated", False):
            return False
        if isinstance(user, ProjectPrincipal):
            ensure_project_active(
                user, suspended_conflict=getattr(view, "suspended_conflict", False)
            )
            return True
        if not getattr(user, "is_staff", False):
            return False
        ensure_staff_permission(request, view)
        return True


class IsStaff(BasePermission):
    """Allow staff tokens only."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(getattr(request.user, "is_staff", False))


class CronSecretOrStaff(BasePermission):
    """Allow callers presenting X-Cron-Secret, or a staff token with the view's permission."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if cron_secret_valid(request.headers.get(CRON_SECRET_HEADER, "")):
            return True
        if not getattr(request.user, "is_staff", False):
            return False
        if staff_permission_of(view) is not None:
            ensure_staff_permission(request, view)
        return True


def ensure_project_access(request: Request, project_id: str) -> None:
    """Refuse (403) a project token acting on another project; staff may act on any."""
    bound = request_project_id(request)
    if bound is not None and bound != project_id:
        raise PermissionDenied("This token may only act on its own project.")
