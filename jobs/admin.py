"""Staff's main screen: jobs and their attempts, read-only, changed only through actions."""

from __future__ import annotations

import json
import uuid
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.functional import cached_property
from django.utils.html import format_html

from controlplane.admin import ReadOnlyAdminMixin, acting_user
from jobs.admin_filters import HousekeepingFilter
from jobs.models import Job, JobAttempt, JobStatus
from jobs.registry import registered_types
from jobs.services import job_cancel, job_retry, job_run_now

STATUS_COLOURS = {
    JobStatus.PENDING: "#1565c0",
    JobStatus.RUNNING: "#6a1b9a",
    JobStatus.COMPLETED: "#2e7d32",
    JobStatus.FAILED: "#c62828",
    JobStatus.CANCELLED: "#616161",
}
JSON_LIMIT = 20_000


class CappedCountPaginator(Paginator):
    """Count at most CAP rows, so a big job table never gets a full COUNT(*)."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        queryset = cast(QuerySet[Any], self.object_list)
        return queryset[: self.CAP + 1].count()


class TypeFilter(admin.SimpleListFilter):
    title = "type"
    parameter_name = "type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(t, t) for t in registered_types()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        return queryset.filter(type=self.value()) if self.value() else queryset


def pretty_json(value: Any) -> str:
    """Render JSON for the admin, truncated when big."""
    if value is None:
        return "—"
    text = json.dumps(value, indent=2, sort_keys=True, default=str)
    if len(text) > JSON_LIMIT:
        text = text[:JSON_LIMIT] + f"\n… ({len(text) - JSON_LIMIT} more characters)"
    return format_html('<pre style="white-space:pre-wrap;margin:0">{}</pre>', text)


def status_badge(status: str, label: str) -> str:
    colour = STATUS_COLOURS.get(JobStatus(status), "#555")
    return format_html(
        '<span class="job-status" style="color:#fff;background:{};padding:2px 6px;'
        'border-radius:3px">{}</span>',
        colour,
        label,
    )


class JobAttemptInline(admin.TabularInline):
    model = JobAttempt
    extra = 0
    can_delete = False
    fields = ["number", "outcome", "worker", "started_at", "finished_at", "duration", "error"]
    readonly_fields = [
        "number",
        "outcome",
        "worker",
        "started_at",
        "finished_at",
        "duration",
        "error",
    ]
    ordering = ["number"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReasonForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text="Optional; recorded in the audit log.",
    )


@admin.register(Job)
class JobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "short_id",
        "type",
        "status_display",
        "project",
        "attempts_display",
        "created_at",
        "scheduled_at",
        "duration_display",
    ]
    list_filter = ["status", TypeFilter, HousekeepingFilter, "project", "created_at"]
    search_fields = ["project__slug"]  # see get_search_results: exact id or slug
    list_select_related = ["project"]
    list_per_page = 50
    show_full_result_count = False
    paginator = CappedCountPaginator
    ordering = ["-created_at"]
    inlines = [JobAttemptInline]
    actions = ["retry", "cancel", "run_now"]
    fieldsets = [
        (None, {"fields": ["id", "type", "status_display", "project", "priority"]}),
        (
            "Timing",
            {"fields": ["created_at", "scheduled_at", "started_at", "completed_at", "updated_at"]},
        ),
        (
            "Attempts",
            {
                "fields": [
                    "attempts_display",
                    "worker",
                    "lease_expires_at",
                    "cancel_requested_at",
                    "last_error",
                ]
            },
        ),
        (
            "Data",
            {"fields": ["payload_pretty", "result_pretty", "progress_pretty", "idempotency_key"]},
        ),
    ]
    readonly_fields = [
        "id",
        "type",
        "status_display",
        "project",
        "priority",
        "created_at",
        "scheduled_at",
        "started_at",
        "completed_at",
        "updated_at",
        "attempts_display",
        "worker",
        "lease_expires_at",
        "cancel_requested_at",
        "last_error",
        "payload_pretty",
        "result_pretty",
        "progress_pretty",
        "idempotency_key",
    ]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Job], search_term: str
    ) -> tuple[QuerySet[Job], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        # A job id or a project slug, matched exactly: both are indexed lookups.
        try:
            return queryset.filter(pk=uuid.UUID(term)), False
        except ValueError:
            return queryset.filter(project__slug=term), False

    @admin.display(description="id")
    def short_id(self, obj: Job) -> str:
        return str(obj.pk)[:8]

    @admin.display(description="status", ordering="status")
    def status_display(self, obj: Job) -> str:
        label = obj.get_status_display()
        if obj.status == JobStatus.RUNNING and obj.progress:
            phase = obj.progress.get("phase", "")
            percent = obj.progress.get("percent")
            label += f" · {phase}" + (
                f" {percent:.0f}%" if isinstance(percent, (int, float)) else ""
            )
        if obj.cancel_requested_at and obj.status == JobStatus.RUNNING:
            label += " · cancelling"
        return status_badge(obj.status, label)

    @admin.display(description="attempts")
    def attempts_display(self, obj: Job) -> str:
        return f"{obj.attempts}/{obj.max_attempts}"

    @admin.display(description="duration")
    def duration_display(self, obj: Job) -> str:
        duration = obj.duration
        return f"{duration.total_seconds():.1f} s" if duration is not None else "—"

    @admin.display(description="payload")
    def payload_pretty(self, obj: Job) -> str:
        return pretty_json(obj.payload)

    @admin.display(description="result")
    def result_pretty(self, obj: Job) -> str:
        return pretty_json(obj.result)

    @admin.display(description="progress")
    def progress_pretty(self, obj: Job) -> str:
        return pretty_json(obj.progress)

    # --- actions ----------------------------------------------------------------

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("jobs.operate_job")

    @admin.action(description="Retry selected jobs (failed or cancelled)…", permissions=["operate"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Job]) -> HttpResponse | None:
        return self._confirm(
            request,
            queryset,
            action="retry",
            verb="Retry",
            eligible=queryset.filter(status__in=[JobStatus.FAILED, JobStatus.CANCELLED]),
            service=lambda ids, reason: job_retry(
                job_ids=ids, actor=acting_user(request), reason=reason
            ),
            done="Queued {n} job(s) for another attempt.",
        )

    @admin.action(description="Cancel selected jobs…", permissions=["operate"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Job]) -> HttpResponse | None:
        def service(ids: list[Any], reason: str) -> int:
            cancelled, requested = job_cancel(
                job_ids=ids, actor=acting_user(request), reason=reason
            )
            if requested:
                self.message_user(
                    request, f"Asked {requested} running job(s) to stop.", messages.INFO
                )
            return cancelled

        return self._confirm(
            request,
            queryset,
            action="cancel",
            verb="Cancel",
            eligible=queryset.filter(status__in=[JobStatus.PENDING, JobStatus.RUNNING]),
            service=service,
            done="Cancelled {n} pending job(s).",
        )

    @admin.action(description="Run selected delayed jobs now…", permissions=["operate"])
    def run_now(self, request: HttpRequest, queryset: QuerySet[Job]) -> HttpResponse | None:
        from django.utils import timezone

        return self._confirm(
            request,
            queryset,
            action="run_now",
            verb="Run now",
            eligible=queryset.filter(status=JobStatus.PENDING, scheduled_at__gt=timezone.now()),
            service=lambda ids, reason: job_run_now(
                job_ids=ids, actor=acting_user(request), reason=reason
            ),
            done="Made {n} job(s) due now.",
        )

    def _confirm(
        self,
        request: HttpRequest,
        queryset: QuerySet[Job],
        *,
        action: str,
        verb: str,
        eligible: QuerySet[Job],
        service: Any,
        done: str,
    ) -> HttpResponse | None:
        """Show how many jobs the action would change; on confirmation call the service."""
        confirmed = request.POST.get("confirm") == "yes"
        form = ReasonForm(request.POST if confirmed else None)
        if confirmed and form.is_valid():
            ids = list(eligible.values_list("pk", flat=True))
            changed = service(ids, form.cleaned_data["reason"])
            self.message_user(request, done.format(n=changed), messages.SUCCESS)
            return None
        count = eligible.count()
        context = {
            **self.admin_site.each_context(request),
            "title": f"{verb} jobs",
            "opts": self.model._meta,
            "action": action,
            "verb": verb,
            "count": count,
            "submit": f"{verb} {count} job(s)",
            "sample": eligible.select_related("project")[:20],
            "form": form,
            "select_across": request.POST.get("select_across", "0"),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "query_string": request.GET.urlencode(),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/jobs/job/confirm_action.html", context)
