"""Staff's main screen: jobs and their attempts, read-only, changed only through actions."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.db.models import QuerySet
from django.forms import Media
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import truncatechars
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from controlplane.admin_helpers import (
    CappedCountPaginator,
    ConfirmedActionMixin,
    QuickListMixin,
    ReadOnlyAdminMixin,
    acting_user,
    exact_time,
    model_ids,
)
from jobs.admin_display import attempts_html, human_duration, job_badge, pretty_json
from jobs.admin_filters import (
    CreatedFilter,
    FinishedFilter,
    HousekeepingFilter,
    ProjectFilter,
    TypeFilter,
    job_search,
)
from jobs.admin_page import OPERATE, JobPageMixin, live_badge, masked_payload
from jobs.models import Job, JobStatus
from jobs.registry import find_handler
from jobs.services import job_cancel, job_retry, job_run_now

ERROR_SHOWN = 60
# Count only what the page links need: this many rows, or pages up to 5 past the current one.
COUNT_AT_LEAST = 500
COUNT_PAGES_AHEAD = 5
JOB_QUESTION = "{verb}: <strong>{count}</strong> {noun}(s) in a state this action applies to."


@admin.register(Job)
class JobAdmin(
    JobPageMixin, QuickListMixin, ConfirmedActionMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    list_display = [
        "short_id",
        "type",
        "status_display",
        "project_slug",
        "attempts_display",
        "created",
        "finished",
        "duration_display",
        "error_display",
    ]
    list_display_links = ["short_id"]
    list_filter = [
        "status",
        TypeFilter,
        HousekeepingFilter,
        ProjectFilter,
        CreatedFilter,
        FinishedFilter,
    ]
    search_fields = ["project__slug"]  # see get_search_results: id, id prefix or slug
    search_help_text = "A job id, its first 8 characters as listed, or a project slug."
    list_select_related = ["project"]
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    ordering = ["-created_at"]
    actions = ["retry", "cancel", "run_now"]
    change_list_template = "admin/jobs/job/change_list.html"
    change_form_template = "admin/jobs/job/change_form.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "id",
                    "type",
                    "status_live",
                    "project",
                    "subject_link",
                    "produced_link",
                    "priority",
                ]
            },
        ),
        (
            "Timing",
            {
                "fields": [
                    "created_exact",
                    "scheduled_exact",
                    "started_exact",
                    "completed_exact",
                    "updated_exact",
                    "duration_display",
                ]
            },
        ),
        (
            "Attempts",
            {
                "fields": [
                    "attempts_display",
                    "worker",
                    "lease_exact",
                    "cancel_requested_exact",
                    "last_error",
                    "attempts_table",
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
        "status_live",
        "project",
        "subject_link",
        "produced_link",
        "priority",
        "created_exact",
        "scheduled_exact",
        "started_exact",
        "completed_exact",
        "updated_exact",
        "duration_display",
        "attempts_display",
        "worker",
        "lease_exact",
        "cancel_requested_exact",
        "last_error",
        "attempts_table",
        "payload_pretty",
        "result_pretty",
        "progress_pretty",
        "idempotency_key",
    ]

    @property
    def media(self) -> Media:
        # The project filter is the admin's own autocomplete widget (jQuery + select2).
        widget = AutocompleteSelect(Job._meta.get_field("project"), self.admin_site)
        return super().media + widget.media

    def get_paginator(
        self, request: HttpRequest, queryset: QuerySet[Job], per_page: int, *args: Any, **kw: Any
    ) -> CappedCountPaginator:
        try:
            page = max(int(request.GET.get("p", 1)), 1)
        except ValueError:
            page = 1
        cap = max(COUNT_AT_LEAST, (page + COUNT_PAGES_AHEAD) * per_page)
        return CappedCountPaginator(queryset, per_page, *args, cap=cap, **kw)

    def get_ordering(self, request: HttpRequest) -> list[str]:
        # Filtered on finish time, newest finished first: the finish-time index serves both
        # the range and the order (ordered by creation, an old range scans most of the table).
        if any(key.startswith("completed_at__") for key in request.GET):
            return ["-completed_at"]
        return list(self.ordering)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Job], search_term: str
    ) -> tuple[QuerySet[Job], bool]:
        if not search_term.strip():
            return queryset, False
        return job_search(queryset, search_term), False

    # --- columns ------------------------------------------------------------------

    @admin.display(description="id")
    def short_id(self, obj: Job) -> str:
        return format_html('<code title="{}">{}</code>', obj.pk, str(obj.pk)[:8])

    @admin.display(description="status")
    def status_display(self, obj: Job) -> str:
        return job_badge(obj)

    @admin.display(description="project")
    def project_slug(self, obj: Job) -> str:
        if obj.project is None:
            return "—"
        return format_html(
            '<a href="?project__id__exact={}" title="Jobs of {}">{}</a>',
            obj.project_id,
            obj.project.name,
            obj.project.slug,
        )

    @admin.display(description="works on")
    def subject_link(self, obj: Job) -> str:
        spec = find_handler(obj.type)
        subject = spec.subject(obj.payload) if spec and spec.subject else None
        if subject is None:
            return "—"
        url, label = subject
        return format_html('<a href="{}" id="job-subject-link">{}</a>', url, label)

    @admin.display(description="made")
    def produced_link(self, obj: Job) -> str:
        spec = find_handler(obj.type)
        made = None
        if spec and spec.produced and obj.status == JobStatus.COMPLETED:
            made = spec.produced(obj.result if isinstance(obj.result, dict) else {})
        if made is None:
            return "—"
        url, label = made
        return format_html('<a href="{}" id="job-produced-link">{}</a>', url, label)

    @admin.display(description="attempts")
    def attempts_display(self, obj: Job) -> str:
        return f"{obj.attempts}/{obj.max_attempts}"

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Job) -> str:
        return exact_time(obj.created_at, short_today=True)

    # Not sortable: an unfiltered sort on it would sort the whole table (see get_ordering).
    @admin.display(description="finished / due")
    def finished(self, obj: Job) -> str:
        if obj.completed_at is not None:
            return exact_time(obj.completed_at, short_today=True)
        if obj.status == JobStatus.PENDING and obj.scheduled_at > timezone.now():
            return format_html(
                '<span class="quiet">due</span> {}', exact_time(obj.scheduled_at, short_today=True)
            )
        return "—"

    @admin.display(description="duration")
    def duration_display(self, obj: Job) -> str:
        duration = obj.duration
        return human_duration(duration.total_seconds()) if duration is not None else "—"

    @admin.display(description="last error")
    def error_display(self, obj: Job) -> str:
        if not obj.last_error:
            return mark_safe("&nbsp;")  # not the red "-" of an empty value
        return format_html(
            '<span class="job-error" title="{}">{}</span>',
            truncatechars(obj.last_error, 500),
            truncatechars(obj.last_error, ERROR_SHOWN),
        )

    # --- detail -------------------------------------------------------------------

    @admin.display(description="status")
    def status_live(self, obj: Job) -> str:
        return live_badge(obj, job_badge(obj))

    @admin.display(description="created")
    def created_exact(self, obj: Job) -> str:
        return exact_time(obj.created_at)

    @admin.display(description="scheduled")
    def scheduled_exact(self, obj: Job) -> str:
        return exact_time(obj.scheduled_at)

    @admin.display(description="started")
    def started_exact(self, obj: Job) -> str:
        return exact_time(obj.started_at)

    @admin.display(description="completed")
    def completed_exact(self, obj: Job) -> str:
        return exact_time(obj.completed_at)

    @admin.display(description="updated")
    def updated_exact(self, obj: Job) -> str:
        return exact_time(obj.updated_at)

    @admin.display(description="lease expires")
    def lease_exact(self, obj: Job) -> str:
        return exact_time(obj.lease_expires_at)

    @admin.display(description="cancel requested")
    def cancel_requested_exact(self, obj: Job) -> str:
        return exact_time(obj.cancel_requested_at)

    @admin.display(description="attempt history")
    def attempts_table(self, obj: Job) -> str:
        return attempts_html(obj)

    # Staff who may not operate jobs see the payload with its sensitive fields masked: the
    # field itself is swapped per request (a ModelAdmin is shared by every request's thread).
    def _payload_field(self, request: HttpRequest, name: Any) -> Any:
        if name == "payload_pretty" and not request.user.has_perm(OPERATE):
            return "payload_masked"
        return name

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [self._payload_field(request, f) for f in super().get_readonly_fields(request, obj)]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return [
            (name, {**opts, "fields": [self._payload_field(request, f) for f in opts["fields"]]})
            for name, opts in super().get_fieldsets(request, obj)
        ]

    @admin.display(description="payload")
    def payload_pretty(self, obj: Job) -> str:
        return pretty_json(obj.payload)

    @admin.display(description="payload")
    def payload_masked(self, obj: Job) -> str:
        return pretty_json(masked_payload(obj, reveal=False))

    @admin.display(description="result")
    def result_pretty(self, obj: Job) -> str:
        return pretty_json(obj.result)

    @admin.display(description="progress")
    def progress_pretty(self, obj: Job) -> str:
        return pretty_json(obj.progress)

    # --- actions ------------------------------------------------------------------

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("jobs.operate_job")

    def _job_action(
        self, request: HttpRequest, queryset: QuerySet[Job], **kwargs: Any
    ) -> HttpResponse | None:
        return self.confirmed_action(
            request,
            queryset,
            noun="job",
            question=JOB_QUESTION,
            describe=lambda job: " — ".join(
                [str(job.pk), job.type, job.get_status_display()]
                + ([job.project.slug] if job.project else [])
            ),
            **kwargs,
        )

    @admin.action(description="Retry selected jobs (failed or cancelled)…", permissions=["operate"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Job]) -> HttpResponse | None:
        return self._job_action(
            request,
            queryset,
            action="retry",
            verb="Retry",
            eligible=queryset.filter(status__in=[JobStatus.FAILED, JobStatus.CANCELLED]),
            skipped_why="are neither failed nor cancelled",
            perform=lambda jobs, data: job_retry(
                job_ids=model_ids(jobs), actor=acting_user(request), reason=data["reason"]
            ),
            done="Queued {n} job(s) for another attempt.",
        )

    @admin.action(description="Cancel selected jobs…", permissions=["operate"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Job]) -> HttpResponse | None:
        def perform(jobs: QuerySet[Job], data: dict[str, Any]) -> int:
            cancelled, requested = job_cancel(
                job_ids=model_ids(jobs), actor=acting_user(request), reason=data["reason"]
            )
            if requested:
                self.message_user(
                    request, f"Asked {requested} running job(s) to stop.", messages.INFO
                )
            return cancelled

        return self._job_action(
            request,
            queryset,
            action="cancel",
            verb="Cancel",
            eligible=queryset.filter(status__in=[JobStatus.PENDING, JobStatus.RUNNING]),
            skipped_why="have already finished",
            perform=perform,
            done="Cancelled {n} pending job(s).",
        )

    @admin.action(description="Run selected delayed jobs now…", permissions=["operate"])
    def run_now(self, request: HttpRequest, queryset: QuerySet[Job]) -> HttpResponse | None:
        return self._job_action(
            request,
            queryset,
            action="run_now",
            verb="Run now",
            eligible=queryset.filter(status=JobStatus.PENDING, scheduled_at__gt=timezone.now()),
            skipped_why="are not pending with a later due time",
            perform=lambda jobs, data: job_run_now(
                job_ids=model_ids(jobs), actor=acting_user(request), reason=data["reason"]
            ),
            done="Made {n} job(s) due now.",
        )


from jobs import admin_pause  # noqa: E402, F401 (registers the "Paused types" page)
