"""Admin for API keys (revoke, issue, one-time reveal), provisioning records and projects."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from controlplane.admin_helpers import (
    ConfirmedActionMixin,
    ReadOnlyAdminMixin,
    acting_user,
    model_ids,
    status_badge,
)
from controlplane.models import Project
from provisioning.models import ApiKey, ProvisioningStep, ServiceRegistration
from provisioning.project_admin import ProjectAdmin
from provisioning.selectors import api_keys_awaiting_reveal, key_state
from provisioning.services import api_key_issue, api_key_reveal_consume, api_key_revoke


class IssueForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.order_by("slug"), to_field_name="pk")
    name = forms.CharField(max_length=100, initial="default")
    key_prefix = forms.CharField(
        max_length=40, required=False, help_text="Defaults to the project's slug."
    )


@admin.register(ApiKey)
class ApiKeyAdmin(ConfirmedActionMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["public_part", "project", "name", "state", "created_at", "expires_at"]
    list_display += ["last_used_at"]
    search_fields = ["lookup", "project__slug", "name"]
    list_select_related = ["project"]
    show_full_result_count = False
    # The digest is not secret-equivalent, but staff have no use for it.
    fields = (
        "public_part",
        "project",
        "name",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    readonly_fields = fields
    actions = ["revoke"]
    change_list_template = "admin/provisioning/apikey/change_list.html"

    @admin.display(description="key")
    def public_part(self, obj: ApiKey) -> str:
        return obj.public_part

    @admin.display(description="state")
    def state(self, obj: ApiKey) -> str:
        return key_state(obj)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("provisioning.revoke_apikey")

    def has_issue_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("provisioning.issue_apikey")

    @admin.action(description="Revoke selected API keys…", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> HttpResponse | None:
        return self.confirmed_action(
            request,
            queryset,
            action="revoke",
            verb="Revoke",
            noun="API key",
            explain="Token exchange refuses them at once; this cannot be undone.",
            nothing="All the selected keys are already revoked.",
            eligible=queryset.filter(revoked_at__isnull=True).select_related("project"),
            skipped_why="are already revoked",
            describe=lambda key: f"{key.public_part} — {key.project.slug} ({key.name})",
            perform=lambda keys, data: api_key_revoke(
                key_ids=model_ids(keys), actor=acting_user(request), reason=data["reason"]
            ),
            done="Revoked {n} API key(s).",
            submit="Revoke",
        )

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "issue/",
                self.admin_site.admin_view(self.issue_view),
                name="provisioning_apikey_issue",
            ),
            path(
                "reveal/<int:project_id>/",
                self.admin_site.admin_view(self.reveal_view),
                name="provisioning_apikey_reveal",
            ),
        ]
        return own + super().get_urls()

    def issue_view(self, request: HttpRequest) -> HttpResponse:
        """Issue a key and send staff to its one reveal."""
        if not self.has_issue_permission(request):
            raise PermissionDenied
        form = IssueForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            project = form.cleaned_data["project"]
            try:
                api_key_issue(
                    project=project,
                    name=form.cleaned_data["name"],
                    prefix=form.cleaned_data["key_prefix"] or None,
                    actor=acting_user(request),
                    reveal_later=True,
                )
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            else:
                url = reverse("admin:provisioning_apikey_reveal", args=[project.pk])
                return HttpResponseRedirect(url)
        context = {
            **self.admin_site.each_context(request),
            "title": "Issue an API key",
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/provisioning/apikey/issue.html", context)

    def reveal_view(self, request: HttpRequest, project_id: int) -> HttpResponse:
        """Show the project's new keys once (on POST, so no prefetch can spend the reveal)."""
        if not self.has_issue_permission(request):
            raise PermissionDenied
        project = get_object_or_404(Project, pk=project_id)
        revealed: list[tuple[ApiKey, str]] = []
        if request.method == "POST":
            revealed = api_key_reveal_consume(project=project, actor=acting_user(request))
        context = {
            **self.admin_site.each_context(request),
            "title": f"New API keys of {project.slug}",
            "opts": self.model._meta,
            "project": project,
            "revealed": [(key.public_part, key.name, plaintext) for key, plaintext in revealed],
            "waiting": 0 if revealed else api_keys_awaiting_reveal(project=project),
            "posted": request.method == "POST",
        }
        response = TemplateResponse(request, "admin/provisioning/apikey/reveal.html", context)
        response["Cache-Control"] = "no-store"
        return response


@admin.register(ProvisioningStep)
class ProvisioningStepAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["project", "name", "status", "attempts", "started_at", "finished_at"]
    list_display += ["short_error"]
    list_filter = ["status", "name"]
    search_fields = ["project__slug"]
    list_select_related = ["project"]
    show_full_result_count = False
    readonly_fields = ["project", "name", "status", "attempts", "started_at", "finished_at"]
    readonly_fields += ["error", "details"]

    @admin.display(description="error")
    def short_error(self, obj: ProvisioningStep) -> str:
        return obj.error if len(obj.error) <= 80 else obj.error[:79] + "…"


@admin.register(ServiceRegistration)
class ServiceRegistrationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["project", "service", "status_label", "external_id", "registered_at"]
    list_filter = ["status", "service"]
    search_fields = ["project__slug", "external_id"]
    list_select_related = ["project"]
    show_full_result_count = False
    readonly_fields = ["project", "service", "status", "external_id", "registered_at"]
    readonly_fields += ["deregistered_at", "error", "updated_at"]

    @admin.display(description="status", ordering="status")
    def status_label(self, obj: ServiceRegistration) -> Any:
        return status_badge(obj.status, obj.get_status_display())


__all__ = ["ApiKeyAdmin", "ProjectAdmin", "ProvisioningStepAdmin", "ServiceRegistrationAdmin"]
