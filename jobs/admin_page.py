"""The job's page: buttons for the actions legal in its state, masked payload, live badge."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from jobs.models import ACTIVE_STATUSES, RETRYABLE_STATUSES, Job, JobStatus, PausedJobType
from jobs.registry import find_handler, payload_for_reader
from jobs.selectors import paused_job_types

OPERATE = "jobs.operate_job"
PAUSE = "jobs.pause_jobtype"
# The list actions a job's page offers as buttons: name -> label.
PAGE_ACTIONS = {"retry": "Retry…", "cancel": "Cancel…", "run_now": "Run now…"}


def legal_actions(job: Job) -> list[str]:
    """Return the page actions that apply to the job in its current state."""
    legal = []
    if job.status in RETRYABLE_STATUSES:
        legal.append("retry")
    if job.status == JobStatus.PENDING or (
        job.status == JobStatus.RUNNING and job.cancel_requested_at is None
    ):
        legal.append("cancel")
    if job.status == JobStatus.PENDING and job.scheduled_at > timezone.now():
        legal.append("run_now")
    return legal


def masked_payload(job: Job, *, reveal: bool) -> Any:
    """Return the payload with the fields its handler declares sensitive masked, unless `reveal`."""
    if not isinstance(job.payload, dict):
        return job.payload
    return payload_for_reader(find_handler(job.type), job.payload, reveal)


class JobPageMixin:
    """Add the job page's action URLs and buttons; each button runs the list action's flow."""

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta  # type: ignore[attr-defined]
        return [
            path(
                "<path:object_id>/act/<slug:action>/",
                self.admin_site.admin_view(self.job_page_action),  # type: ignore[attr-defined]
                name=f"{opts.app_label}_{opts.model_name}_act",
            ),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def job_page_action(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """Run list action `action` on this one job: its confirmation page, then its service."""
        if not request.user.has_perm(OPERATE):
            raise PermissionDenied
        if action not in PAGE_ACTIONS:
            raise Http404("No such job action.")
        job = self.get_object(request, object_id)  # type: ignore[attr-defined]
        if job is None:
            raise Http404("No such job.")
        func, _, _ = self.get_actions(request)[action]  # type: ignore[attr-defined]
        page = reverse("admin:jobs_job_change", args=[job.pk])
        response = func(self, request, Job.objects.filter(pk=job.pk))
        if response is None:
            return HttpResponseRedirect(page)
        if isinstance(response, TemplateResponse) and response.context_data is not None:
            response.context_data["cancel_url"] = page
        return response

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        user = request.user
        posted = request.POST.get("action") if request.method == "POST" else None
        if posted in PAGE_ACTIONS and not user.has_perm(OPERATE):
            raise PermissionDenied  # a viewer posting an action directly
        context = {
            "paused_types": paused_job_types(),
            "paused_page": user.has_perm("jobs.view_pausedjobtype") or user.has_perm(PAUSE),
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)  # type: ignore[misc]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Job | None = None,
    ) -> HttpResponse:
        if obj is not None:
            buttons = []
            if request.user.has_perm(OPERATE):
                buttons = [
                    (
                        name.replace("_", "-"),
                        PAGE_ACTIONS[name],
                        reverse("admin:jobs_job_act", args=[obj.pk, name]),
                    )
                    for name in legal_actions(obj)
                ]
            paused = PausedJobType.objects.filter(type=obj.type).exists()
            if request.user.has_perm(PAUSE) and not paused:
                url = (
                    reverse("admin:jobs_pausedjobtype_pause") + "?" + urlencode({"type": obj.type})
                )
                buttons.append(("pause-type", "Pause this type…", url))
            context.update(
                job_buttons=buttons,
                job_active=obj.status in ACTIVE_STATUSES,
                job_type_paused=paused,
            )
        return super().render_change_form(  # type: ignore[misc]
            request, context, add, change, form_url, obj
        )


def live_badge(job: Job, badge: str) -> str:
    """Wrap a job's badge so console/live-progress.js keeps it (and a progress bar) current."""
    if job.status not in ACTIVE_STATUSES:
        return badge
    return format_html(
        '<span id="job-live" data-live-job="{}" data-status="{}" data-reload-on-finish>{}</span>',
        job.pk,
        job.status,
        badge,
    )
