"""The console's views, served through the admin site (login, staff and permissions checked)."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_POST

from console.dashboard import HIDE_HOUSEKEEPING_KEY, PANELS
from jobs.models import Job, JobStatus

VIEW_JOBS = "jobs.view_job"
PROGRESS_IDS_MAX = 200


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    """Return every panel's context for the admin index (empty without the jobs view perm)."""
    if not request.user.has_perm(VIEW_JOBS):
        return {"dashboard": False}
    context: dict[str, Any] = {"dashboard": True, "panels": PANELS}
    for panel in PANELS.values():
        context.update(panel.context(request))
    return context


@require_GET
def fragment(request: HttpRequest, name: str) -> HttpResponse:
    """Render one dashboard panel alone (htmx polls these)."""
    if not request.user.has_perm(VIEW_JOBS):
        raise PermissionDenied
    return _render_panel(request, name)


def _render_panel(request: HttpRequest, name: str) -> HttpResponse:
    panel = PANELS.get(name)
    if panel is None:
        raise Http404("No such dashboard panel.")
    context = {"panels": PANELS, **panel.context(request)}
    return TemplateResponse(request, panel.template, context)


@require_POST
def housekeeping_toggle(request: HttpRequest) -> HttpResponse:
    """Flip whether this staff user's failure views hide housekeeping jobs."""
    if not request.user.has_perm(VIEW_JOBS):
        raise PermissionDenied
    request.session[HIDE_HOUSEKEEPING_KEY] = not request.session.get(HIDE_HOUSEKEEPING_KEY, False)
    if request.headers.get("HX-Request") == "true":
        return _render_panel(request, "failures")
    return redirect("admin:index")


@require_GET
def job_progress(request: HttpRequest) -> JsonResponse:
    """Return status and progress of the given jobs (?id=...&id=...), for live job lists."""
    if not request.user.has_perm(VIEW_JOBS):
        raise PermissionDenied
    ids = []
    for raw in request.GET.getlist("id")[:PROGRESS_IDS_MAX]:
        try:
            ids.append(uuid.UUID(raw))
        except ValueError:
            return JsonResponse({"error": f"Not a job id: {raw[:40]!r}."}, status=400)
    jobs = Job.objects.filter(pk__in=ids).values("id", "status", "progress", "cancel_requested_at")
    return JsonResponse(
        {
            "jobs": {
                str(j["id"]): {
                    "status": j["status"],
                    "label": JobStatus(j["status"]).label,
                    "progress": j["progress"] if j["status"] == JobStatus.RUNNING else None,
                    "cancelling": bool(j["cancel_requested_at"])
                    and j["status"] == JobStatus.RUNNING,
                }
                for j in jobs
            }
        }
    )
