"""The console's AdminSite: the dashboard as its index, django-q2's models as internals."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import URLPattern, URLResolver, path, reverse

from console import action_views, views
from controlplane.admin_history import with_console_mixins

INTERNAL_APPS = {"django_q"}
INTERNALS_LABEL = "Task queue internals (django-q2; Jobs are the record)"


class ConsoleAdminSite(admin.AdminSite):
    site_header = "Control plane console"
    site_title = "Control plane"
    index_title = "Operations dashboard"
    site_url = None  # there is no public site at "/": no "View site" link to a 404

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        """Register as usual, giving every ModelAdmin audit History and action 403s."""
        super().register(
            model_or_iterable, with_console_mixins(admin_class or admin.ModelAdmin), **options
        )

    def get_urls(self) -> list[URLResolver | URLPattern]:
        console = [
            path(
                "console/panel/<slug:name>/",
                self.admin_view(views.fragment),
                name="console_panel",
            ),
            path(
                "console/housekeeping/",
                self.admin_view(views.housekeeping_toggle),
                name="console_housekeeping",
            ),
            path(
                "console/job-progress/",
                self.admin_view(views.job_progress),
                name="console_job_progress",
            ),
            path(
                "console/schedules/",
                self.admin_view(action_views.schedules),
                name="console_schedules",
            ),
            path(
                "console/schedules/<str:name>/run/",
                self.admin_view(action_views.schedule_run),
                name="console_schedule_run",
            ),
            path(
                "console/backup-schedules/<int:pk>/run/",
                self.admin_view(action_views.backup_schedule_run),
                name="console_backup_schedule_run",
            ),
            path(
                "console/run-job/",
                self.admin_view(action_views.run_job_pick),
                name="console_run_job",
            ),
            path(
                "console/run-job/<str:type>/",
                self.admin_view(action_views.run_job),
                name="console_run_job_type",
            ),
        ]
        return console + super().get_urls()

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        context = {**views.dashboard_context(request), **(extra_context or {})}
        return super().index(request, extra_context=context)

    def get_app_list(
        self, request: HttpRequest, app_label: str | None = None
    ) -> list[dict[str, Any]]:
        """Hide django-q2's own models from everyone but superusers, labelled as internals."""
        apps = super().get_app_list(request, app_label)
        ours = [a for a in apps if a["app_label"] not in INTERNAL_APPS]
        pages = console_pages(request)
        if pages and app_label is None:
            ours.append(pages)
        if not request.user.is_superuser:
            return ours
        internals = [
            {**a, "name": INTERNALS_LABEL, "internals": True}
            for a in apps
            if a["app_label"] in INTERNAL_APPS
        ]
        return ours + internals


def console_pages(request: HttpRequest) -> dict[str, Any] | None:
    """Return the console's own pages as an app-list entry (those the user may open)."""
    user = request.user
    models = []
    if user.has_perm(action_views.VIEW_JOBS):
        models.append(("Schedules", "schedules", reverse("admin:console_schedules")))
    if user.has_perm(action_views.RUN_JOBS):
        models.append(("Run a job…", "run-job", reverse("admin:console_run_job")))
    if not models:
        return None
    return {
        "name": "Console",
        "app_label": "console",
        "app_url": models[0][2],
        "has_module_perms": True,
        "models": [
            {
                "name": name,
                "object_name": object_name,
                "admin_url": url,
                "add_url": None,
                "view_only": True,
                "perms": {"view": True},
            }
            for name, object_name, url in models
        ],
    }
