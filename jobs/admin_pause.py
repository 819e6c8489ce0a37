"""The "Paused types" page: which job types are paused, pause another, resume (audited)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from controlplane.admin_helpers import (
    ConfirmedActionMixin,
    ReadOnlyAdminMixin,
    ReasonForm,
    acting_user,
    exact_time,
)
from jobs.admin_page import PAUSE
from jobs.models import Job, JobStatus, PausedJobType
from jobs.registry import registered_types
from jobs.services import job_type_pause, job_type_resume


class PauseForm(ReasonForm):
    """Pick a registered, unpaused job type; give a reason."""

    type = forms.ChoiceField(label="Job type")
    field_order = ["type", "reason"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        paused = set(PausedJobType.objects.values_list("type", flat=True))
        field = self.fields["type"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(t, t) for t in registered_types() if t not in paused]


@admin.register(PausedJobType)
class PausedJobTypeAdmin(ConfirmedActionMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["type", "paused", "paused_by", "reason", "waiting"]
    list_display_links = None
    list_select_related = ["paused_by"]
    actions = ["resume"]
    change_list_template = "admin/jobs/pausedjobtype/change_list.html"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) or request.user.has_perm(PAUSE)

    def has_pause_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(PAUSE)

    def get_queryset(self, request: HttpRequest) -> QuerySet[PausedJobType]:
        pending = (
            Job.objects.filter(type=OuterRef("type"), status=JobStatus.PENDING)
            .order_by()
            .values("type")
            .annotate(n=Count("*"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(pending=Coalesce(Subquery(pending, output_field=IntegerField()), 0))
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "pause/",
                self.admin_site.admin_view(self.pause_view),
                name="jobs_pausedjobtype_pause",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        can_pause = self.has_pause_permission(request)
        if request.method == "POST" and request.POST.get("action") == "resume" and not can_pause:
            raise PermissionDenied  # a viewer posting the action directly
        context = {"can_pause": can_pause, **(extra_context or {})}
        return super().changelist_view(request, context)

    @admin.display(description="paused", ordering="paused_at")
    def paused(self, obj: PausedJobType) -> str:
        return exact_time(obj.paused_at)

    @admin.display(description="pending jobs waiting", ordering="pending")
    def waiting(self, obj: Any) -> str:
        url = reverse("admin:jobs_job_changelist")
        return format_html(
            '<a href="{}?{}">{}</a>',
            url,
            urlencode({"type": obj.type, "status__exact": JobStatus.PENDING}),
            obj.pending,
        )

    def pause_view(self, request: HttpRequest) -> HttpResponse:
        """Ask which type to pause and why; pause it through the audited service."""
        if not self.has_pause_permission(request):
            raise PermissionDenied
        form = PauseForm(request.POST or None, initial={"type": request.GET.get("type", "")})
        if request.method == "POST" and form.is_valid():
            kind = form.cleaned_data["type"]
            try:
                job_type_pause(
                    type=kind, actor=acting_user(request), reason=form.cleaned_data["reason"]
                )
            except ValidationError as exc:
                form.add_error("type", exc.messages)
            else:
                self.message_user(
                    request,
                    f"Paused {kind}: its pending jobs wait; running ones finish.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:jobs_pausedjobtype_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Pause a job type",
            "opts": self.opts,
            "form": form,
        }
        return TemplateResponse(request, "admin/jobs/pausedjobtype/pause.html", context)

    @admin.action(description="Resume selected job types…", permissions=["pause"])
    def resume(
        self, request: HttpRequest, queryset: QuerySet[PausedJobType]
    ) -> HttpResponse | None:
        return self.confirmed_action(
            request,
            queryset,
            action="resume",
            verb="Resume",
            noun="job type",
            eligible=queryset,
            describe=lambda row: f"{row.type} — {row.pending} pending job(s) will run",
            perform=lambda rows, data: job_type_resume(
                types=[r.type for r in rows], actor=acting_user(request), reason=data["reason"]
            ),
            done="Resumed {n} job type(s); their waiting jobs are handed to the workers.",
        )
