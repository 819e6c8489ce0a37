"""Admin for the audit log. The project admin lives in provisioning/project_admin.py.

Projects are created by provisioning, so their one admin (suspend and reactivate included)
is provisioning's; the shared admin pieces are in controlplane/admin_helpers.py.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.db.models import Model
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from controlplane.admin_helpers import ReadOnlyAdminMixin, acting_user, exact_time
from controlplane.audit import audit_bulk_url, audit_target_url
from controlplane.models import AuditLog

__all__ = ["AuditLogAdmin", "AutocompleteListFilter", "ReadOnlyAdminMixin", "acting_user"]


class AutocompleteListFilter(admin.RelatedFieldListFilter):
    """A foreign-key filter that searches (Django's autocomplete) instead of listing every row.

    The model admin adds `autocomplete_filter_media()` to its media; the remote model's admin
    needs `search_fields`, as for `autocomplete_fields`.
    """

    template = "admin/controlplane/autocomplete_filter.html"

    def __init__(
        self,
        field: Any,
        request: HttpRequest,
        params: dict[str, Any],
        model: type[Model],
        model_admin: admin.ModelAdmin[Any],
        field_path: str,
    ) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        chosen = str(self.lookup_val[-1]) if self.lookup_val else ""
        # A model choice field gives the widget its queryset: it renders the chosen row only.
        widget = forms.ModelChoiceField(
            queryset=field.remote_field.model._default_manager.all(),
            widget=AutocompleteSelect(field, model_admin.admin_site),
            required=False,
        ).widget
        self.widget_html = widget.render(
            f"{field_path}-autocomplete",
            chosen if chosen.isdigit() else None,
            attrs={
                "class": "autocomplete-filter",
                "data-lookup": self.lookup_kwarg,
                "style": "width:100%",
                "aria-label": f"Filter by {self.title}",
            },
        )

    def has_output(self) -> bool:
        return True

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[Any]:
        return []  # searched, never listed

    def choices(self, changelist: Any) -> Any:
        yield {
            "selected": not self.lookup_val,
            "query_string": changelist.get_query_string(remove=[self.lookup_kwarg]),
            "display": "All",
        }


def autocomplete_filter_media(field: Any, admin_site: admin.AdminSite) -> forms.Media:
    """Return the scripts an AutocompleteListFilter on `field` needs on the change list."""
    return AutocompleteSelect(field, admin_site).media + forms.Media(
        js=["controlplane/autocomplete-filter.js"]
    )


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["when", "actor_label", "action", "target", "project", "short_reason"]
    list_filter = [("project", AutocompleteListFilter), "action", "actor_label", "target_type"]
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
        project = AuditLog._meta.get_field("project")
        return super().media + autocomplete_filter_media(project, self.admin_site)

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
