"""Admin for the audit log. The project admin lives in provisioning/project_admin.py.

Projects are created by provisioning, so their one admin (suspend and reactivate included)
is provisioning's; the shared admin pieces are in controlplane/admin_helpers.py.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from controlplane.admin_filters import ProjectFilter, project_filter_media
from controlplane.admin_helpers import ReadOnlyAdminMixin, acting_user, exact_time
from controlplane.audit import audit_bulk_url, audit_target_url
from controlplane.models import AuditLog

__all__ = ["AuditLogAdmin", "ReadOnlyAdminMixin", "acting_user"]


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["when", "actor_label", "action", "target", "project", "short_reason"]
    list_filter = [ProjectFilter, "action", "actor_label", "target_type"]
    search_fields = ["target_id", "actor_label", "reason"]
    date_hierarchy = "at"
    list_select_related = ["actor", "project"]
    show_full_result_count = False
    readonly_fields = [
        "at",
        "actor",
        "actor_label",
        "action",
        "target",
        "project",
        "reason",
        "details",
    ]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # The rows of one bulk action, linked from each of them.
        return lookup == "details__bulk_id" or super().lookup_allowed(lookup, value, request)

    @property
    def media(self) -> forms.Media:
        return super().media + project_filter_media(AuditLog, self.admin_site)

    @admin.display(description="at", ordering="at")
    def when(self, obj: AuditLog) -> SafeString | str:
        return exact_time(obj.at, short_today=True)

    @admin.display(description="target")
    def target(self, obj: AuditLog) -> SafeString | str:
        label = f"{obj.target_type}:{obj.target_id}"
        url = audit_target_url(obj)
        link = format_html('<a href="{}">{}</a>', url, label) if url else label
        bulk_id = obj.details.get("bulk_id") if isinstance(obj.details, dict) else None
        if bulk_id:
            return format_html(
                '{} <a class="quiet" href="{}" title="every row of this bulk action">(bulk)</a>',
                link,
                audit_bulk_url(bulk_id),
            )
        return link

    @admin.display(description="reason")
    def short_reason(self, obj: AuditLog) -> str:
        return obj.reason if len(obj.reason) <= 80 else obj.reason[:79] + "…"
