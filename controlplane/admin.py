"""Admin for projects (suspend / reactivate with a reason) and the read-only audit log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html

from controlplane.models import AuditLog, Project, ProjectStatus
from controlplane.services import project_reactivate, project_suspend

STATUS_COLOURS = {
    ProjectStatus.ACTIVE: "#2e7d32",
    ProjectStatus.PROVISIONING: "#1565c0",
    ProjectStatus.SUSPENDED: "#b26a00",
    ProjectStatus.PROVISION_FAILED: "#c62828",
}


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        help_text="Recorded in the audit log.",
    )


def acting_user(request: HttpRequest) -> AbstractBaseUser | None:
    """Return the staff user behind an admin request (for services' `actor`)."""
    user = request.user
    return user if isinstance(user, AbstractBaseUser) else None


class ReadOnlyAdminMixin:
    """Records the system writes: visible to staff, changed only through actions."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["slug", "name", "status_badge", "region", "schema_name", "created_at"]
    list_filter = ["status", "region"]
    search_fields = ["slug", "name", "owner_id", "organization_id"]
    readonly_fields = [
        "slug",
        "name",
        "status",
        "status_reason",
        "schema_name",
        "region",
        "owner_id",
        "organization_id",
        "created_at",
        "suspended_at",
        "suspended_reason",
    ]
    actions = ["suspend", "reactivate"]
    show_full_result_count = False

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Project) -> str:
        colour = STATUS_COLOURS.get(ProjectStatus(obj.status), "#555")
        return format_html(
            '<span style="color:#fff;background:{};padding:2px 6px;border-radius:3px">{}</span>',
            colour,
            obj.get_status_display(),
        )

    def has_suspend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("controlplane.suspend_project")

    @admin.action(description="Suspend selected projects…", permissions=["suspend"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[Project]) -> HttpResponse | None:
        return self._status_change(
            request, queryset, action="suspend", source=ProjectStatus.ACTIVE, verb="Suspended"
        )

    @admin.action(description="Reactivate selected projects…", permissions=["suspend"])
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Project]) -> HttpResponse | None:
        return self._status_change(
            request,
            queryset,
            action="reactivate",
            source=ProjectStatus.SUSPENDED,
            verb="Reactivated",
        )

    def _status_change(
        self,
        request: HttpRequest,
        queryset: QuerySet[Project],
        *,
        action: str,
        source: ProjectStatus,
        verb: str,
    ) -> HttpResponse | None:
        """Ask for a reason on a confirmation page, then call the service."""
        eligible = queryset.filter(status=source)
        skipped = queryset.exclude(status=source).count()
        confirmed = request.POST.get("confirm") == "yes"
        form = ReasonForm(request.POST if confirmed else None)
        if confirmed and form.is_valid():
            service = project_suspend if action == "suspend" else project_reactivate
            changed = service(
                project_ids=list(eligible.values_list("pk", flat=True)),
                actor=acting_user(request),
                reason=form.cleaned_data["reason"],
            )
            self.message_user(request, f"{verb} {changed} project(s).", messages.SUCCESS)
            if skipped:
                self.message_user(
                    request,
                    f"Skipped {skipped} project(s) not {source.label.lower()}.",
                    messages.WARNING,
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": f"{action.capitalize()} projects",
            "opts": self.model._meta,
            "action": action,
            "verb": action.capitalize(),
            "projects": eligible,
            "skipped": skipped,
            "form": form,
            "selected": queryset.values_list("pk", flat=True),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/controlplane/project/confirm_status_change.html", context
        )


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
