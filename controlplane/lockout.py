"""Login lockouts (django-axes): audited, and told to API callers as 429 with Retry-After."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off
from axes.middleware import AxesMiddleware
from django.http import HttpRequest, HttpResponse

from controlplane.services import audit_log_record


def lockout_retry_after(request: HttpRequest) -> int | None:
    """Return the seconds an API caller should wait when axes locked this login out, else None."""
    if not getattr(request, "axes_locked_out", False):
        return None
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off is not None else 3600


def audit_lockout(
    sender: Any, request: HttpRequest | None, username: str | None, ip_address: str | None, **_: Any
) -> None:
    """Record a lockout in the audit log (receiver of axes' user_locked_out)."""
    audit_log_record(
        actor=None,
        action="auth.lockout",
        target_type="login",
        target_id=(username or "")[:64] or (ip_address or "-"),
        details={
            "username": (username or "")[:150],
            "ip_address": ip_address or "",
            "path": request.path if request is not None else "",
        },
    )


class LockoutMiddleware(AxesMiddleware):
    """Show django-axes' lockout page, except under /api/ (its views answer 429 themselves)."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            return self.get_response(request)
        return super().__call__(request)
