"""What the console's AdminSite gives every ModelAdmin: History from the audit log, and a
403 for a changelist action the user may not run (Django would just say "No action selected")."""

from __future__ import annotations

from typing import Any

from django.contrib.admin import ModelAdmin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import urlencode

from controlplane.audit import audit_bulk_url, audit_rows_for, audit_target_url
from controlplane.models import Project

HISTORY_LIMIT = 200


class AuditHistoryMixin:
    """Show the object's audit rows (newest 200, a link to the rest) above Django's change log."""

    object_history_template = "admin/audit_object_history.html"

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        admin: ModelAdmin[Any] = self  # type: ignore[assignment]
        obj = admin.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        # No object (or no permission): Django's own history view answers as usual.
        if obj is not None and admin.has_view_or_change_permission(request, obj):
            rows = list(audit_rows_for(obj)[: HISTORY_LIMIT + 1])
            for row in rows:
                row.target_url = audit_target_url(row)  # type: ignore[attr-defined]
                bulk_id = row.details.get("bulk_id") if isinstance(row.details, dict) else None
                row.bulk_url = audit_bulk_url(bulk_id) if bulk_id else None  # type: ignore[attr-defined]
            context["audit_rows"] = rows[:HISTORY_LIMIT]
            context["audit_more"] = len(rows) > HISTORY_LIMIT
            context["audit_all_url"] = _all_rows_url(obj)
        return super().history_view(request, object_id, extra_context=context)  # type: ignore[misc]


def _all_rows_url(obj: Any) -> str:
    changelist = reverse("admin:controlplane_auditlog_changelist")
    if isinstance(obj, Project):
        return f"{changelist}?{urlencode({'project__id__exact': obj.pk})}"
    return f"{changelist}?{urlencode({'q': str(obj.pk)})}"


class ActionPermissionMixin:
    """Answer 403 to a posted changelist action the user lacks the permission for."""

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        admin: ModelAdmin[Any] = self  # type: ignore[assignment]
        action = request.POST.get("action", "") if request.method == "POST" else ""
        if action and action not in admin.get_actions(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)  # type: ignore[misc]


class ConsoleModelAdminMixin(ActionPermissionMixin, AuditHistoryMixin):
    """Everything the console adds to each registered ModelAdmin."""


def with_console_mixins(admin_class: type[ModelAdmin[Any]]) -> type[ModelAdmin[Any]]:
    """Return `admin_class` with ConsoleModelAdminMixin in front (itself if it has it)."""
    if issubclass(admin_class, ConsoleModelAdminMixin):
        return admin_class
    return type(
        admin_class.__name__,
        (ConsoleModelAdminMixin, admin_class),
        {"__module__": admin_class.__module__, "__qualname__": admin_class.__qualname__},
    )
