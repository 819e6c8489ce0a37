"""Admin for the audit log. The project admin lives in provisioning/project_admin.py.

Projects are created by provisioning, so their one admin (suspend and reactivate included)
is provisioning's; the shared admin pieces are in controlplane/admin_helpers.py.
"""

from __future__ import annotations

from django.contrib import admin

from controlplane.admin_helpers import ReadOnlyAdminMixin, acting_user
from controlplane.models import AuditLog

__all__ = ["AuditLogAdmin", "ReadOnlyAdminMixin", "acting_user"]


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "actor_label", "action", "target_type", "target_id", "short_reason"]
    list_filter = ["action", "target_type", "actor_label"]
    search_fields = ["target_id", "actor_label", "reason"]
    date_hierarchy = "at"
    list_select_related = ["actor"]
    show_full_result_count = False
    readonly_fields = [
        "at",
        "actor",
        "actor_label",
        "action",
        "target_type",
        "target_id",
        "reason",
        "details",
    ]

    @admin.display(description="reason")
    def short_reason(self, obj: AuditLog) -> str:
        return obj.reason if len(obj.reason) <= 80 else obj.reason[:79] + "…"
