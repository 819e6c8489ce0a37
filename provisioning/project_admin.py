"""The project admin, extended: add-and-provision form, provisioning panel, rotate keys, retry."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from django.forms.models import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from controlplane.admin import ProjectAdmin, acting_user
from controlplane.models import Project, ProjectStatus
from controlplane.services import validate_project_slug
from provisioning.models import KEY_PREFIX_PATTERN, ServiceName
from provisioning.selectors import key_state, project_provisioning_overview
from provisioning.serializers import MAX_GRACE_PERIOD_SECONDS
from provisioning.services import (
    api_key_rotation_request,
    project_provision_request,
    project_reprovision,
)
from provisioning.services.requests import DEFAULT_GRACE_PERIOD_SECONDS, ROTATABLE_STATUSES

TEMPLATES = "admin/controlplane/project"


class ProvisionProjectForm(forms.Form):
    slug = forms.CharField(
        max_length=40,
        help_text="3-40 lowercase letters, digits and hyphens, starting with a letter.",
    )
    name = forms.CharField(max_length=200)
    region = forms.CharField(max_length=50, initial="local")
    owner_id = forms.CharField(max_length=100, required=False, label="Owner id")
    organization_id = forms.CharField(max_length=100, required=False, label="Organization id")
    services = forms.MultipleChoiceField(
        choices=ServiceName.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=ServiceName.values,
        help_text="A service without a configured URL is recorded as skipped.",
    )
    api_key_count = forms.IntegerField(min_value=1, initial=1, label="Number of API keys")
    api_key_prefix = forms.CharField(
        max_length=40,
        required=False,
        label="Key prefix",
        validators=[RegexValidator(KEY_PREFIX_PATTERN, "Lowercase letters, digits and hyphens.")],
        help_text="Defaults to the slug.",
    )

    def clean_slug(self) -> str:
        slug = str(self.cleaned_data["slug"])
        try:
            validate_project_slug(slug)
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
        return slug

    def clean_api_key_count(self) -> int:
        value = int(self.cleaned_data["api_key_count"])
        limit = settings.PROVISIONING_MAX_API_KEYS
        if value > limit:
            raise ValidationError(f"At most {limit} API keys per project.")
        return value


class RotateKeysForm(forms.Form):
    grace_period_seconds = forms.IntegerField(
        min_value=0,
        max_value=MAX_GRACE_PERIOD_SECONDS,
        initial=DEFAULT_GRACE_PERIOD_SECONDS,
        label="Grace period (seconds)",
        help_text="The old keys keep working this long, then fail at token exchange.",
    )
    reason = forms.CharField(
        widget=forms.TextInput(attrs={"size": 60}),
        max_length=500,
        required=False,
        help_text="Optional; recorded in the audit log.",
    )


class RetryProvisioningForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        help_text="What was fixed; recorded in the audit log.",
    )


def _form_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form fields it names, the rest on top."""
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            form.add_error(None, message)
        return
    for field, errors in exc.message_dict.items():
        target = field.split(".")[-1]
        for message in errors:
            form.add_error(target if target in form.fields else None, message)


class ProvisioningProjectAdmin(ProjectAdmin):
    """Projects: added through provisioning, read-only afterwards, keys rotated by a job."""

    actions = [*ProjectAdmin.actions, "rotate_keys", "retry_provisioning"]
    change_form_template = f"{TEMPLATES}/change_form_provisioning.html"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("controlplane.add_project")

    def has_rotate_keys_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("provisioning.issue_apikey")

    def has_retry_provisioning_permission(self, request: HttpRequest) -> bool:
        # Provisioning again is provisioning: the same permission as adding a project.
        return request.user.has_perm("controlplane.add_project")

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Create the project through the provisioning service (never a ModelForm save)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ProvisionProjectForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                project, job = project_provision_request(
                    slug=data["slug"],
                    name=data["name"],
                    region=data["region"],
                    owner_id=data["owner_id"],
                    organization_id=data["organization_id"],
                    services={s: s in data["services"] for s in ServiceName.values},
                    api_key_count=data["api_key_count"],
                    api_key_prefix=data["api_key_prefix"] or None,
                    actor=acting_user(request),
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                self.message_user(
                    request,
                    format_html(
                        "Project {} created; provisioning job {} enqueued.", project.slug, job.pk
                    ),
                    messages.SUCCESS,
                )
                url = reverse("admin:controlplane_project_change", args=[project.pk])
                return HttpResponseRedirect(url)
        context = {
            **self.admin_site.each_context(request),
            "title": "Add and provision a project",
            "opts": self.model._meta,
            "form": form,
            **(extra_context or {}),
        }
        return TemplateResponse(request, f"{TEMPLATES}/provision_add.html", context)

    def save_model(self, request: HttpRequest, obj: Project, form: ModelForm, change: bool) -> None:
        # Unreachable through the admin's own views; kept so no path writes a project directly.
        raise PermissionDenied("Projects are created through provisioning only.")

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """Show the project with its provisioning steps, services, keys and jobs."""
        project = self.get_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if project is not None:
            overview = project_provisioning_overview(project=project)
            extra.update(
                provisioning=overview,
                key_rows=[(k, key_state(k)) for k in overview["keys"]],
                jobs_url=reverse("admin:jobs_job_changelist") + f"?project__id__exact={project.pk}",
                keys_url=reverse("admin:provisioning_apikey_changelist")
                + f"?project__id__exact={project.pk}",
                reveal_url=reverse("admin:provisioning_apikey_reveal", args=[project.pk]),
                can_reveal=request.user.has_perm("provisioning.issue_apikey"),
                can_rotate=self.has_rotate_keys_permission(request)
                and project.status in ROTATABLE_STATUSES,
                can_retry_provisioning=self.has_retry_provisioning_permission(request)
                and project.status == ProjectStatus.PROVISION_FAILED,
                changelist_url=reverse("admin:controlplane_project_changelist"),
                action_checkbox_name=helpers.ACTION_CHECKBOX_NAME,
            )
        return super().change_view(request, object_id, form_url, extra)

    @admin.action(description="Rotate keys…", permissions=["rotate_keys"])
    def rotate_keys(self, request: HttpRequest, queryset: QuerySet[Project]) -> HttpResponse | None:
        """Ask for a grace period, then enqueue one rotate_key job per eligible project."""
        eligible = list(queryset.filter(status__in=ROTATABLE_STATUSES))
        skipped = queryset.exclude(status__in=ROTATABLE_STATUSES).count()
        confirmed = request.POST.get("confirm") == "yes"
        form = RotateKeysForm(request.POST if confirmed else None)
        if confirmed and form.is_valid():
            created = existing = 0
            for project in eligible:
                try:
                    _, new = api_key_rotation_request(
                        project=project,
                        grace_period_seconds=form.cleaned_data["grace_period_seconds"],
                        actor=acting_user(request),
                        reason=form.cleaned_data["reason"],
                    )
                except ValidationError as exc:  # its status changed since the page was shown
                    self.message_user(request, " ".join(exc.messages), messages.WARNING)
                    continue
                created += new
                existing += not new
            self.message_user(
                request, f"Enqueued key rotation for {created} project(s).", messages.SUCCESS
            )
            if existing:
                self.message_user(
                    request,
                    f"{existing} project(s) already had a rotation pending; left as is.",
                    messages.WARNING,
                )
            if skipped:
                self.message_user(
                    request,
                    f"Skipped {skipped} project(s) neither active nor suspended.",
                    messages.WARNING,
                )
            return None
        return self._confirm_page(
            request,
            queryset,
            "Rotate API keys",
            "confirm_rotate_keys.html",
            eligible,
            skipped,
            form,
        )

    @admin.action(description="Retry provisioning…", permissions=["retry_provisioning"])
    def retry_provisioning(
        self, request: HttpRequest, queryset: QuerySet[Project]
    ) -> HttpResponse | None:
        """Ask for a reason, then re-queue provisioning of each PROVISION_FAILED project."""
        failed = ProjectStatus.PROVISION_FAILED
        eligible = list(queryset.filter(status=failed))
        skipped = queryset.exclude(status=failed).count()
        confirmed = request.POST.get("confirm") == "yes"
        form = RetryProvisioningForm(request.POST if confirmed else None)
        if confirmed and form.is_valid():
            requeued = 0
            for project in eligible:
                try:
                    project_reprovision(
                        project=project,
                        actor=acting_user(request),
                        reason=form.cleaned_data["reason"],
                    )
                except ValidationError as exc:  # e.g. its status changed since the page was shown
                    self.message_user(request, " ".join(exc.messages), messages.WARNING)
                    continue
                requeued += 1
            self.message_user(
                request, f"Re-queued provisioning of {requeued} project(s).", messages.SUCCESS
            )
            if skipped:
                self.message_user(
                    request,
                    f"Skipped {skipped} project(s) whose provisioning has not failed.",
                    messages.WARNING,
                )
            return None
        return self._confirm_page(
            request,
            queryset,
            "Retry provisioning",
            "confirm_retry_provisioning.html",
            eligible,
            skipped,
            form,
        )

    def _confirm_page(
        self,
        request: HttpRequest,
        queryset: QuerySet[Project],
        title: str,
        template: str,
        projects: list[Project],
        skipped: int,
        form: forms.Form,
    ) -> TemplateResponse:
        """Render an action's confirmation page: the projects it acts on and its form."""
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "projects": projects,
            "skipped": skipped,
            "form": form,
            "selected": queryset.values_list("pk", flat=True),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, f"{TEMPLATES}/{template}", context)
