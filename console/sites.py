"""The console's AdminSite: the dashboard as its index, django-q2's models as internals."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import URLPattern, URLResolver, path

from console import views
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
        if not request.user.is_superuser:
            return ours
        internals = [
            {**a, "name": INTERNALS_LABEL, "internals": True}
            for a in apps
            if a["app_label"] in INTERNAL_APPS
        ]
        return ours + internals
