"""The one project admin: add-and-provision form, provisioning panel, suspend / reactivate,
rotate keys and retry provisioning (each a confirmed action)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import RegexValidator
from django.db.models import QuerySet
from django.forms.models import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from backups.selectors import project_backups_latest
from controlplane.admin_helpers import (
    ConfirmedActionMixin,
    ObjectActionsMixin,
    QuickListMixin,
    ReadOnlyAdminMixin,
    ReasonForm,
    acting_user,
    exact_time,
    model_ids,
    status_badge,
)
from controlplane.models import Project, ProjectStatus
from controlplane.services import project_reactivate, project_suspend, validate_project_slug
from jobs.selectors import project_jobs_latest
from provisioning.models import KEY_PREFIX_PATTERN, ServiceName
from provisioning.selectors import api_key_counts, key_state, project_provisioning_overview
from provisioning.serializers import MAX_GRACE_PERIOD_SECONDS
from provisioning.services import (
    api_key_rotation_request,
    project_provision_request,
    project_reprovision,
)
from provisioning.services.requests import DEFAULT_GRACE_PERIOD_SECONDS, ROTATABLE_STATUSES

TEMPLATES = "admin/controlplane/project"
LATEST_SHOWN = 10
# While provisioning runs, the page reloads itself this often (seconds).
PROVISIONING_REFRESH_SECONDS = 3


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


class RotateKeysForm(ReasonForm):
    grace_period_seconds = forms.IntegerField(
        min_value=0,
        max_value=MAX_GRACE_PERIOD_SECONDS,
        initial=DEFAULT_GRACE_PERIOD_SECONDS,
        label="Grace period (seconds)",
        help_text="The old keys keep working this long, then fail at token exchange.",
    )
    field_order = ["grace_period_seconds", "reason"]


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


@admin.register(Project)
class ProjectAdmin(
    ObjectActionsMixin, QuickListMixin, ConfirmedActionMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    """Projects: added through provisioning, read-only afterwards, changed by actions."""

    list_display = ["slug", "name", "status_badge", "region", "schema_name", "created"]
    list_filter = ["status", "region"]
    search_fields = ["slug", "name", "owner_id", "organization_id"]
    list_per_page = 50
    show_full_result_count = False
    readonly_fields = [
        "slug",
        "name",
        "status",
        "status_reason",
        "schema_name",
        "region",
        "owner_id",
        "organization_id",
        "created_exact",
        "suspended_exact",
        "suspended_reason",
    ]
    fields = list(readonly_fields)
    actions = ["suspend", "reactivate", "rotate_keys", "retry_provisioning"]
    # The page's buttons: the same actions on this one project (ObjectActionsMixin).
    object_actions = ("suspend", "reactivate", "rotate_keys", "retry_provisioning")
    change_form_template = f"{TEMPLATES}/change_form_provisioning.html"

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Project) -> str:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Project) -> str:
        return exact_time(obj.created_at, relative=False)

    @admin.display(description="created")
    def created_exact(self, obj: Project) -> str:
        return exact_time(obj.created_at)

    @admin.display(description="suspended")
    def suspended_exact(self, obj: Project) -> str:
        return exact_time(obj.suspended_at)

    def has_suspend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("controlplane.suspend_project")

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
            extra.update(self._page_context(request, project))
        return super().change_view(request, object_id, form_url, extra)

    def _page_context(self, request: HttpRequest, project: Project) -> dict[str, Any]:
        """Return what the project's page shows beside its fields, and the buttons it offers."""
        overview = project_provisioning_overview(project=project)
        buttons = {
            # Each button only where its action is legal for this project and permitted.
            "suspend": project.status == ProjectStatus.ACTIVE,
            "reactivate": project.status == ProjectStatus.SUSPENDED,
            "rotate_keys": project.status in ROTATABLE_STATUSES,
            "retry_provisioning": project.status == ProjectStatus.PROVISION_FAILED,
        }
        urls = {
            f"{name}_url": self.object_action_url(project, name)
            for name, legal in buttons.items()
            if legal and self.object_action_allowed(request, name)
        }
        return {
            **urls,
            "provisioning": overview,
            "key_rows": [(k, key_state(k)) for k in overview["keys"]],
            "key_counts": api_key_counts(project=project),
            "latest_jobs": [
                (job, status_badge(job.status, job.get_status_display()))
                for job in project_jobs_latest(project_id=project.pk, limit=LATEST_SHOWN)
            ]
            if request.user.has_perm("jobs.view_job")
            else None,
            "latest_backups": project_backups_latest(project_id=project.pk, limit=LATEST_SHOWN)
            if request.user.has_perm("backups.view_backup")
            else None,
            "jobs_url": reverse("admin:jobs_job_changelist") + f"?project__id__exact={project.pk}",
            "backups_url": reverse("admin:backups_backup_changelist")
            + f"?project__id__exact={project.pk}",
            "keys_url": reverse("admin:provisioning_apikey_changelist")
            + f"?project__id__exact={project.pk}",
            "reveal_url": reverse("admin:provisioning_apikey_reveal", args=[project.pk]),
            "can_reveal": request.user.has_perm("provisioning.issue_apikey"),
            "refresh_seconds": PROVISIONING_REFRESH_SECONDS
            if project.status == ProjectStatus.PROVISIONING
            else None,
        }

    def _status_change(
        self, request: HttpRequest, queryset: QuerySet[Project], *, suspend: bool
    ) -> HttpResponse | None:
        source = ProjectStatus.ACTIVE if suspend else ProjectStatus.SUSPENDED
        service = project_suspend if suspend else project_reactivate
        return self.confirmed_action(
            request,
            queryset,
            action="suspend" if suspend else "reactivate",
            verb="Suspend" if suspend else "Reactivate",
            noun="project",
            eligible=queryset.filter(status=source),
            skipped_why=f"are in another status (only {source.label.lower()} ones change)",
            describe=lambda project: f"{project.slug} — {project.name}",
            perform=lambda projects, data: service(
                project_ids=model_ids(projects), actor=acting_user(request), reason=data["reason"]
            ),
            done=("Suspended" if suspend else "Reactivated") + " {n} project(s).",
            form_kwargs={"reason_required": True},
        )

    @admin.action(description="Suspend selected projects…", permissions=["suspend"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[Project]) -> HttpResponse | None:
        return self._status_change(request, queryset, suspend=True)

    @admin.action(description="Reactivate selected projects…", permissions=["suspend"])
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Project]) -> HttpResponse | None:
        return self._status_change(request, queryset, suspend=False)

    @admin.action(description="Rotate keys…", permissions=["rotate_keys"])
    def rotate_keys(self, request: HttpRequest, queryset: QuerySet[Project]) -> HttpResponse | None:
        """Ask for a grace period, then enqueue one rotate_key job per eligible project."""

        def perform(projects: QuerySet[Project], data: dict[str, Any]) -> int:
            created = existing = 0
            for project in projects:
                try:
                    _, new = api_key_rotation_request(
                        project=project,
                        grace_period_seconds=data["grace_period_seconds"],
                        actor=acting_user(request),
                        reason=data["reason"],
                    )
                except ValidationError as exc:  # its status changed since the page was shown
                    self.message_user(request, " ".join(exc.messages), messages.WARNING)
                    continue
                created += new
                existing += not new
            if existing:
                self.message_user(
                    request,
                    f"{existing} project(s) already had a rotation pending; left as is.",
                    messages.WARNING,
                )
            return created

        return self.confirmed_action(
            request,
            queryset,
            action="rotate_keys",
            verb="Rotate keys",
            noun="project",
            question="Rotate the API keys of these {count} project(s)?",
            explain=(
                "Each key in service gets a replacement, revealed once on the project's page; "
                "the old keys keep working for the grace period, then fail at token exchange."
            ),
            nothing="None of the selected projects is active or suspended: no keys to rotate.",
            eligible=queryset.filter(status__in=ROTATABLE_STATUSES),
            skipped_why="are neither active nor suspended",
            describe=lambda project: f"{project.slug} — {project.name}",
            perform=perform,
            done="Enqueued key rotation for {n} project(s).",
            submit="Rotate keys",
            form_class=RotateKeysForm,
        )

    @admin.action(description="Retry provisioning…", permissions=["retry_provisioning"])
    def retry_provisioning(
        self, request: HttpRequest, queryset: QuerySet[Project]
    ) -> HttpResponse | None:
        """Ask for a reason, then re-queue provisioning of each PROVISION_FAILED project."""

        def perform(projects: QuerySet[Project], data: dict[str, Any]) -> int:
            requeued = 0
            for project in projects:
                try:
                    project_reprovision(
                        project=project, actor=acting_user(request), reason=data["reason"]
                    )
                except ValidationError as exc:  # e.g. its status changed since the page was shown
                    self.message_user(request, " ".join(exc.messages), messages.WARNING)
                    continue
                requeued += 1
            return requeued

        return self.confirmed_action(
            request,
            queryset,
            action="retry_provisioning",
            verb="Retry provisioning",
            noun="project",
            question="Retry the provisioning of these {count} project(s)?",
            explain=(
                "Each goes back to Provisioning and a new provision_project job runs every step "
                "again from the start, with the services and API keys first asked for. Fix what "
                "made it fail first."
            ),
            nothing="None of the selected projects failed provisioning: nothing to retry.",
            eligible=queryset.filter(status=ProjectStatus.PROVISION_FAILED),
            skipped_why="did not fail provisioning",
            skipped_done="Skipped {n} project(s) whose provisioning has not failed.",
            describe=lambda project: format_html(
                "{} — {}{}",
                project.slug,
                project.name,
                format_html(': <span class="help">{}</span>', project.status_reason)
                if project.status_reason
                else "",
            ),
            perform=perform,
            done="Re-queued provisioning of {n} project(s).",
            submit="Retry provisioning",
            form_kwargs={
                "reason_required": True,
                "reason_help": "What was fixed; recorded in the audit log.",
            },
        )
