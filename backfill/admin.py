"""Backfill admin: read-only month list, a year x month grid, retry/reset actions with a preview."""

from __future__ import annotations

import calendar
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import truncatechars
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from backfill.models import (
    BACKFILL_MONTH_JOB,
    RESETTABLE_STATUSES,
    BackfillLog,
    BackfillStatus,
)
from backfill.selectors import backfill_grid, backfill_month_jobs, backfill_status_counts
from backfill.services import backfill_months_reset_pending, backfill_months_retry_failed
from controlplane.admin_helpers import (
    ConfirmedActionMixin,
    acting_user,
    badge_colour,
    model_ids,
    status_badge,
)
from jobs.admin_display import job_badge

MONTH_JOBS_LIMIT = 20


@admin.register(BackfillLog)
class BackfillLogAdmin(ConfirmedActionMixin, admin.ModelAdmin):
    list_display = [
        "month_label",
        "status_badge",
        "retry_count",
        "batch_size",
        "prompt_variant",
        "books_generated",
        "isbns_resolved",
        "rate",
        "gemini_calls",
        "xai_calls",
        "isbndb_calls",
        "updated_at",
    ]
    list_filter = ["status", "prompt_variant", "year", "retry_count"]
    search_fields = ["error_message"]
    ordering = ["-year", "-month"]
    show_full_result_count = False
    list_per_page = 100
    change_list_template = "admin/backfill/backfilllog/change_list.html"
    readonly_fields = [
        "year",
        "month",
        "status",
        "retry_count",
        "batch_size",
        "prompt_variant",
        "books_generated",
        "isbns_resolved",
        "resolution_rate",
        "gemini_calls",
        "xai_calls",
        "isbndb_calls",
        "started_at",
        "completed_at",
        "last_retry_at",
        "error_message",
        "last_job_link",
        "month_jobs",
        "created_at",
        "updated_at",
    ]
    fields = tuple(readonly_fields)
    actions = ["retry_failed", "reset_pending"]

    # Rows are written by the scheduler and the consumer; staff change them through actions.
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("backfill.manage_backfill")

    @admin.display(description="month", ordering="year")
    def month_label(self, obj: BackfillLog) -> str:
        return str(obj)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: BackfillLog) -> str:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="resolution", ordering="resolution_rate")
    def rate(self, obj: BackfillLog) -> str:
        return f"{obj.resolution_rate:.1f}%"

    @admin.display(description="last job")
    def last_job_link(self, obj: BackfillLog) -> str:
        job = obj.last_job
        if job is None:
            return "—"
        return format_html(
            '<a href="{}" id="last-job-link">{}</a> {}',
            reverse("admin:jobs_job_change", args=[job.pk]),
            job.pk,
            job_badge(job),
        )

    @admin.display(description="jobs for this month")
    def month_jobs(self, obj: BackfillLog) -> str:
        jobs = backfill_month_jobs(year=obj.year, month=obj.month, limit=MONTH_JOBS_LIMIT)
        if not jobs:
            return "No jobs yet."
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:jobs_job_change", args=[job.pk]),
                    str(job.pk)[:8],
                    job_badge(job),
                    job.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    job.payload.get("batch_size", ""),
                    truncatechars(job.last_error, 160),
                )
                for job in jobs
            ),
        )
        return format_html(
            '<table id="month-jobs"><thead><tr><th>job</th><th>status</th><th>created</th>'
            "<th>batch</th><th>last error</th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}?type={}">All {} jobs</a> (newest {} shown)</p>',
            rows,
            reverse("admin:jobs_job_changelist"),
            BACKFILL_MONTH_JOB,
            BACKFILL_MONTH_JOB,
            MONTH_JOBS_LIMIT,
        )

    def get_urls(self) -> list[URLPattern]:
        grid = path(
            "grid/",
            self.admin_site.admin_view(self.grid_view),
            name="backfill_backfilllog_grid",
        )
        return [grid, *super().get_urls()]

    def grid_view(self, request: HttpRequest) -> HttpResponse:
        """Render one cell per month, coloured by status, with a completed / total progress bar."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        counts = backfill_status_counts()
        total = sum(counts.values())
        completed = counts[BackfillStatus.COMPLETED]
        rows = [
            {
                "year": row["year"],
                "cells": [self._cell(log, m) for m, log in enumerate(row["months"], 1)],
            }
            for row in backfill_grid()
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Backfill progress",
            "opts": self.model._meta,
            "rows": rows,
            "month_names": [calendar.month_abbr[m] for m in range(1, 13)],
            "legend": [
                {
                    "status": s.value,
                    "label": s.label,
                    "colour": badge_colour(s),
                    "count": counts[s],
                }
                for s in BackfillStatus
            ],
            "completed": completed,
            "total": total,
            "percent": round(completed * 100 / total, 1) if total else 0,
        }
        return TemplateResponse(request, "admin/backfill/backfilllog/grid.html", context)

    def _cell(self, log: BackfillLog | None, month: int) -> dict[str, Any]:
        if log is None:
            return {"label": calendar.month_abbr[month], "status": "missing", "title": "not seeded"}
        title = (
            f"{calendar.month_name[month]} {log.year}: {log.get_status_display()}; "
            f"books {log.books_generated}, ISBNs {log.isbns_resolved} "
            f"({log.resolution_rate:.1f}%), retries {log.retry_count}; calls: "
            f"Gemini {log.gemini_calls}, xAI {log.xai_calls}, ISBNdb {log.isbndb_calls}"
        )
        return {
            "label": calendar.month_abbr[month],
            "status": log.status,
            "colour": badge_colour(log.status),
            "title": title,
            "url": reverse("admin:backfill_backfilllog_change", args=[log.pk]),
        }

    def _month_action(
        self, request: HttpRequest, queryset: QuerySet[BackfillLog], **kwargs: Any
    ) -> HttpResponse | None:
        service = kwargs.pop("service")
        return self.confirmed_action(
            request,
            queryset,
            noun="month",
            describe=lambda log: f"{log} — {log.get_status_display()}"
            + (f": {truncatechars(log.error_message, 120)}" if log.error_message else ""),
            perform=lambda months, data: service(
                log_ids=model_ids(months), actor=acting_user(request)
            ),
            form_class=None,
            **kwargs,
        )

    @admin.action(description="Retry failed months…", permissions=["manage"])
    def retry_failed(
        self, request: HttpRequest, queryset: QuerySet[BackfillLog]
    ) -> HttpResponse | None:
        return self._month_action(
            request,
            queryset,
            action="retry_failed",
            verb="Retry",
            eligible=queryset.filter(status=BackfillStatus.FAILED).order_by("-year", "-month"),
            skipped_why="are in another status (only failed months are retried)",
            service=backfill_months_retry_failed,
            done="Sent {n} failed month(s) back to pending.",
        )

    @admin.action(description="Reset months to pending…", permissions=["manage"])
    def reset_pending(
        self, request: HttpRequest, queryset: QuerySet[BackfillLog]
    ) -> HttpResponse | None:
        return self._month_action(
            request,
            queryset,
            action="reset_pending",
            verb="Reset",
            eligible=queryset.filter(status__in=RESETTABLE_STATUSES).order_by("-year", "-month"),
            skipped_why="are in another status (a processing month belongs to its job)",
            service=backfill_months_reset_pending,
            done="Reset {n} month(s) to pending.",
        )
