"""Admin of backup schedules and Idempotency-Key records (imported by backups/admin.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from backups.models import BackupSchedule, ExportRequest
from backups.schedules import (
    backup_schedule_delete,
    backup_schedule_enable,
    backup_schedule_set,
)
from controlplane.admin_helpers import ReadOnlyAdminMixin, acting_user


def project_backups_url(project_id: int) -> str:
    """Return the backups changelist filtered to one project."""
    return f"{reverse('admin:backups_backup_changelist')}?project__id__exact={project_id}"


@admin.register(BackupSchedule)
class BackupScheduleAdmin(admin.ModelAdmin):
    """Daily backups per project; saving and deleting go through the schedule services."""

    list_display = ["project", "hour_utc", "format", "compress", "enabled", "backups_link"]
    list_filter = ["enabled", "format", "hour"]
    search_fields = ["project__slug"]
    list_select_related = ["project"]
    show_full_result_count = False
    fields = ["project", "hour", "format", "compress", "enabled"]
    actions = ["enable_schedules", "disable_schedules", "delete_schedules"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["project"] if obj is not None else []

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # replaced by delete_schedules (audited)
        return actions

    @admin.display(description="hour (UTC)", ordering="hour")
    def hour_utc(self, obj: BackupSchedule) -> str:
        return f"{obj.hour:02d}:00"

    @admin.display(description="backups")
    def backups_link(self, obj: BackupSchedule) -> str:
        return format_html('<a href="{}">backups</a>', project_backups_url(obj.project_id))

    def save_model(
        self, request: HttpRequest, obj: BackupSchedule, form: Any, change: bool
    ) -> None:
        saved = backup_schedule_set(
            project=obj.project,
            hour=obj.hour,
            format=obj.format,
            compress=obj.compress,
            enabled=obj.enabled,
            actor=acting_user(request),
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: BackupSchedule) -> None:
        backup_schedule_delete(schedule_ids=[obj.pk], actor=acting_user(request))

    @admin.action(description="Enable selected schedules", permissions=["change"])
    def enable_schedules(self, request: HttpRequest, queryset: QuerySet[BackupSchedule]) -> None:
        changed = backup_schedule_enable(
            schedule_ids=list(queryset.values_list("pk", flat=True)),
            enabled=True,
            actor=acting_user(request),
        )
        self.message_user(request, f"Enabled {changed} schedule(s).", messages.SUCCESS)

    @admin.action(description="Disable selected schedules", permissions=["change"])
    def disable_schedules(self, request: HttpRequest, queryset: QuerySet[BackupSchedule]) -> None:
        changed = backup_schedule_enable(
            schedule_ids=list(queryset.values_list("pk", flat=True)),
            enabled=False,
            actor=acting_user(request),
        )
        self.message_user(request, f"Disabled {changed} schedule(s).", messages.SUCCESS)

    @admin.action(description="Delete selected schedules", permissions=["delete"])
    def delete_schedules(self, request: HttpRequest, queryset: QuerySet[BackupSchedule]) -> None:
        deleted = backup_schedule_delete(
            schedule_ids=list(queryset.values_list("pk", flat=True)), actor=acting_user(request)
        )
        self.message_user(request, f"Deleted {deleted} schedule(s).", messages.SUCCESS)


@admin.register(ExportRequest)
class ExportRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Idempotency-Keys of export requests and the job each was answered with (24 h)."""

    list_display = ["idempotency_key", "project", "job_link", "created_at"]
    search_fields = ["project__slug", "idempotency_key"]
    list_select_related = ["project"]
    show_full_result_count = False
    fields = ["project", "idempotency_key", "body_sha256", "job_link", "created_at"]
    readonly_fields = ["project", "idempotency_key", "body_sha256", "job_link", "created_at"]

    @admin.display(description="job")
    def job_link(self, obj: ExportRequest) -> str:
        url = reverse("admin:jobs_job_change", args=[obj.job_id])
        return format_html('<a href="{}">{}</a>', url, obj.job_id)
