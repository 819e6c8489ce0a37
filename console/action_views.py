"""The console's pages that act: the schedules page (Run now) and "Run a job…".

Served through the admin site (`admin_view`: login and staff checked); each view checks
its own permission again, on GET and POST alike, before it looks at the method.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from backups.errors import ProjectUnavailable
from backups.models import BackupSchedule
from backups.schedules import backup_schedule_run_now
from console.payload_forms import PayloadForm, PickTypeForm, RunOptionsForm
from console.schedule_selectors import backup_schedules_page, recurring_schedules
from controlplane.admin_helpers import acting_user
from jobs.models import Job
from jobs.registry import find_handler
from jobs.scheduling import schedule_run_now
from jobs.services import job_submit

VIEW_JOBS = "jobs.view_job"
OPERATE_JOBS = "jobs.operate_job"
RUN_JOBS = "jobs.run_job"
VIEW_BACKUP_SCHEDULES = "backups.view_backupschedule"
REQUEST_EXPORT = "backups.request_export"

View = Callable[..., HttpResponse]


def needs(perm: str, *, methods: tuple[str, ...] = ("GET", "POST")) -> Callable[[View], View]:
    """Refuse (403) users without `perm` whatever the method, then methods not allowed (405)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perm(perm):
                raise PermissionDenied
            if request.method not in methods:
                return HttpResponseNotAllowed(list(methods))
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def _site_context(request: HttpRequest, title: str) -> dict[str, Any]:
    return {**admin.site.each_context(request), "title": title}


def job_url(job: Job) -> str:
    return reverse("admin:jobs_job_change", args=[job.pk])


def _run_message(request: HttpRequest, job: Job, created: bool, what: str) -> None:
    if created:
        text = format_html('{}: started job <a href="{}">{}</a>.', what, job_url(job), job.pk)
        messages.success(request, text)
    else:
        text = format_html(
            '{}: a run is already active, job <a href="{}">{}</a>; no new one.',
            what,
            job_url(job),
            job.pk,
        )
        messages.warning(request, text)


@needs(VIEW_JOBS, methods=("GET",))
def schedules(request: HttpRequest) -> HttpResponse:
    """List every declared recurring schedule and each project's backup schedule."""
    user = request.user
    context = {
        **_site_context(request, "Schedules"),
        "rows": recurring_schedules(),
        "can_run": user.has_perm(OPERATE_JOBS),
        "show_backups": user.has_perm(VIEW_BACKUP_SCHEDULES),
        "can_run_backups": user.has_perm(REQUEST_EXPORT),
    }
    if context["show_backups"]:
        page, rows = backup_schedules_page(page=request.GET.get("page", 1))
        context.update(backup_page=page, backup_rows=rows)
    return TemplateResponse(request, "console/schedules.html", context)


@needs(OPERATE_JOBS, methods=("POST",))
def schedule_run(request: HttpRequest, name: str) -> HttpResponse:
    """Run declared schedule `name` now (its exclusive key holds), audited."""
    try:
        job, created = schedule_run_now(name=name, actor=acting_user(request))
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    else:
        _run_message(request, job, created, f"Schedule {name}")
    return redirect("admin:console_schedules")


@needs(REQUEST_EXPORT, methods=("POST",))
def backup_schedule_run(request: HttpRequest, pk: int) -> HttpResponse:
    """Export the schedule's project now (one export per project at a time), audited."""
    schedule = BackupSchedule.objects.filter(pk=pk).select_related("project").first()
    if schedule is None:
        messages.error(request, f"No backup schedule {pk}.")
        return redirect("admin:console_schedules")
    try:
        job, created = backup_schedule_run_now(schedule_id=pk, actor=acting_user(request))
    except ProjectUnavailable as exc:
        messages.error(request, f"Not run: {exc}")
    else:
        _run_message(request, job, created, f"Backup of {schedule.project.slug}")
    return redirect(reverse("admin:console_schedules") + "#backup-schedules")


@needs(RUN_JOBS)
def run_job_pick(request: HttpRequest) -> HttpResponse:
    """Pick the job type to run."""
    form = PickTypeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return redirect("admin:console_run_job_type", type=form.cleaned_data["type"])
    context = {**_site_context(request, "Run a job"), "form": form}
    return TemplateResponse(request, "console/run_job_pick.html", context)


@needs(RUN_JOBS)
def run_job(request: HttpRequest, type: str) -> HttpResponse:
    """Fill the type's payload form; validate as enqueue_job does; enqueue, audit, open the job."""
    spec = find_handler(type)
    if spec is None:
        messages.error(request, f"Unknown job type {type!r}.")
        return redirect("admin:console_run_job")
    data = request.POST if request.method == "POST" else None
    payload_form = PayloadForm(data, spec=spec)
    options = RunOptionsForm(data)
    if data is not None and payload_form.is_valid() and options.is_valid():
        try:
            job = job_submit(
                type=type,
                payload=payload_form.payload(),
                project=options.cleaned_data["project"],
                priority=options.cleaned_data["priority"],
                reason=options.cleaned_data["reason"],
                actor=acting_user(request),
            )
        except ValidationError as exc:
            payload_form.add_payload_errors(_error_dict(exc))
        else:
            messages.success(request, f"Enqueued {type} job {job.pk}.")
            return redirect(job_url(job))
    context = {
        **_site_context(request, f"Run a job: {type}"),
        "type": type,
        "spec": spec,
        "payload_form": payload_form,
        "options": options,
    }
    return TemplateResponse(request, "console/run_job.html", context)


def _error_dict(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            key: [str(m) for e in errs for m in e.messages] for key, errs in exc.error_dict.items()
        }
    return {"payload": list(exc.messages)}
