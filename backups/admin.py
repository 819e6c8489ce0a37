"""Backup admin: read-only list and page; actions and the page's buttons call the services.

Download links are minted only on request (the page's Download button or the list's
Download action), each audited, never rendered in bulk into a list.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from backups.admin_records import project_backups_url
from backups.models import Backup, VerifyStatus
from backups.selectors import export_jobs_active
from backups.services import (
    backup_delete,
    backup_download_link_grant,
    backup_legal_hold_set,
    backup_restore_request,
    backup_verify_request,
)
from controlplane.admin_helpers import (
    ObjectActionsMixin,
    ReadOnlyAdminMixin,
    acting_user,
    exact_time,
    model_ids,
    status_badge,
)

RUNNING_EXPORTS_SHOWN = 50


class RestoreForm(forms.Form):
    slug = forms.CharField(
        label="New project slug",
        max_length=40,
        help_text="3-40 lowercase letters, digits and '-', starting with a letter; must be new.",
    )
    name = forms.CharField(
        label="New project name",
        max_length=200,
        required=False,
        help_text="Defaults to the source project's name with “(restored)”.",
    )


@admin.register(Backup)
class BackupAdmin(ObjectActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created",
        "project_link",
        "human_size",
        "format_codec",
        "short_sha256",
        "expires",
        "verification",
        "legal_hold",
    ]
    # The row's link is its created time: a text link of its own, never the project's.
    list_display_links = ["created"]
    list_filter = ["format", "compression", "legal_hold", "verify_status"]
    search_fields = ["project__slug", "storage_path", "sha256"]
    list_select_related = ["project", "job"]
    show_full_result_count = False
    ordering = ["-created_at", "-id"]
    actions = [
        "verify",
        "download",
        "restore_into_new_project",
        "delete_backups",
        "place_legal_hold",
        "release_legal_hold",
    ]
    # The page's buttons: the same actions on this one backup (ObjectActionsMixin).
    object_actions = ["download", "verify"]
    change_form_template = "admin/backups/backup/change_form.html"
    readonly_fields = [
        "id",
        "project_page",
        "job_link",
        "format",
        "compressed",
        "compression",
        "storage_path",
        "human_size",
        "sha256",
        "table_count",
        "table_rows",
        "created_exact",
        "expires_exact",
        "legal_hold",
        "verification",
        "checked_exact",
        "verified_exact",
        "verify_error",
        "storage_parts",
        "delete_error",
        "delete_attempts",
    ]

    fields = list(readonly_fields)  # the page shows these only, each once

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Backup) -> str:
        return exact_time(obj.created_at, relative=False)

    @admin.display(description="expires", ordering="expires_at")
    def expires(self, obj: Backup) -> str:
        return timezone.localtime(obj.expires_at).strftime("%Y-%m-%d")

    @admin.display(description="format")
    def format_codec(self, obj: Backup) -> str:
        return f"{obj.format} · {obj.compression}"

    @admin.display(description="created")
    def created_exact(self, obj: Backup) -> str:
        return exact_time(obj.created_at)

    @admin.display(description="expires")
    def expires_exact(self, obj: Backup) -> str:
        return exact_time(obj.expires_at)

    @admin.display(description="last checked")
    def checked_exact(self, obj: Backup) -> str:
        return exact_time(obj.verify_checked_at)

    @admin.display(description="last passed")
    def verified_exact(self, obj: Backup) -> str:
        return exact_time(obj.verified_at)

    @admin.display(description="project", ordering="project__slug")
    def project_link(self, obj: Backup) -> str:
        """Link the list's project column to that project's backups (a column of its own)."""
        url = project_backups_url(obj.project_id)
        return format_html(
            '<a href="{}" class="project-link" title="This project\'s backups">{}</a>',
            url,
            obj.project,
        )

    @admin.display(description="project")
    def project_page(self, obj: Backup) -> str:
        url = reverse("admin:controlplane_project_change", args=[obj.project_id])
        return format_html('<a href="{}">{}</a>', url, obj.project)

    @admin.display(description="verification", ordering="verify_status")
    def verification(self, obj: Backup) -> str:
        """Render the latest check's outcome: passed, failed (why in the title) or never."""
        badge = status_badge(obj.verify_status, obj.verify_status)
        if obj.verify_status == VerifyStatus.FAILED:
            return format_html('<span title="{}">{}</span>', obj.verify_error, badge)
        return badge

    @admin.display(description="job")
    def job_link(self, obj: Backup) -> str:
        if obj.job_id is None:
            return "—"
        url = reverse("admin:jobs_job_change", args=[obj.job_id])
        return format_html('<a href="{}">{}</a>', url, obj.job_id)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """Show the backup with its Download and Verify buttons (where permitted)."""
        backup = self.get_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if backup is not None:
            extra.update(
                {
                    f"{name}_url": self.object_action_url(backup, name)
                    for name in self.object_actions
                    if self.object_action_allowed(request, name)
                }
            )
        return super().change_view(request, object_id, form_url, extra)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        running = []
        for job in export_jobs_active()[:RUNNING_EXPORTS_SHOWN]:
            progress = job.progress or {}
            running.append(
                {
                    "job": job,
                    "url": reverse("admin:jobs_job_change", args=[job.pk]),
                    "phase": progress.get("phase", ""),
                    "bytes": filesizeformat(progress.get("bytes") or 0),
                    "percent": progress.get("percent"),
                }
            )
        context = {**(extra_context or {}), "running_exports": running}
        return super().changelist_view(request, extra_context=context)

    @admin.display(description="size", ordering="size_bytes")
    def human_size(self, obj: Backup) -> str:
        return format_html(
            '<span title="{} bytes">{}</span>', obj.size_bytes, filesizeformat(obj.size_bytes)
        )

    @admin.display(description="SHA-256")
    def short_sha256(self, obj: Backup) -> str:
        return format_html('<code title="{}">{}…</code>', obj.sha256, obj.sha256[:12])

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("backups.manage_backup")

    def has_download_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("backups.download_backup")

    @admin.action(description="Verify selected backups (restore check)", permissions=["manage"])
    def verify(self, request: HttpRequest, queryset: QuerySet[Backup]) -> None:
        ids = model_ids(queryset)
        queued = backup_verify_request(backup_ids=ids, actor=acting_user(request))
        self.message_user(
            request,
            f"Queued verification of {queued} backup(s); the verify_backup jobs show the outcome.",
            messages.SUCCESS,
        )
        if queued < len(ids):
            self.message_user(
                request,
                f"{len(ids) - queued} backup(s) already had a check pending or running.",
                messages.WARNING,
            )

    @admin.action(description="Download (one backup; a fresh link)", permissions=["download"])
    def download(self, request: HttpRequest, queryset: QuerySet[Backup]) -> HttpResponse | None:
        """Mint a fresh, audited download link for the one selected backup and follow it."""
        backups = list(queryset[:2])
        user = acting_user(request)
        if len(backups) != 1 or user is None:
            self.message_user(request, "Select exactly one backup to download.", messages.WARNING)
            return None
        link = backup_download_link_grant(backup=backups[0], actor=user)
        return HttpResponseRedirect(link.path)

    def has_restore_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return user.has_perm("backups.manage_backup") and user.has_perm("controlplane.add_project")

    @admin.action(description="Restore into a new project…", permissions=["restore"])
    def restore_into_new_project(
        self, request: HttpRequest, queryset: QuerySet[Backup]
    ) -> HttpResponse | None:
        """Ask for the new project's slug, then provision it and queue the restore."""
        backups = list(queryset.select_related("project")[:2])
        if len(backups) != 1:
            self.message_user(request, "Select exactly one backup to restore.", messages.WARNING)
            return None
        backup = backups[0]
        confirmed = request.POST.get("confirm") == "yes"
        form = RestoreForm(request.POST if confirmed else None)
        if confirmed and form.is_valid():
            try:
                project, job = backup_restore_request(
                    backup_id=backup.pk,
                    new_slug=form.cleaned_data["slug"],
                    name=form.cleaned_data["name"],
                    actor=acting_user(request),
                )
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            else:
                self.message_user(
                    request,
                    f"Provisioning {project.slug}; restore job {job.pk} loads the backup into it "
                    "once it is active.",
                    messages.SUCCESS,
                )
                return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Restore into a new project",
            "opts": self.model._meta,
            "backup": backup,
            "form": form,
            "selected": [backup.pk],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/backups/backup/confirm_restore.html", context)

    @admin.action(description="Delete selected backups (files too)", permissions=["manage"])
    def delete_backups(self, request: HttpRequest, queryset: QuerySet[Backup]) -> None:
        held = queryset.filter(legal_hold=True).count()
        deleted = backup_delete(
            backup_ids=list(queryset.values_list("pk", flat=True)),
            actor=acting_user(request),
        )
        self.message_user(request, f"Deleted {deleted} backup(s).", messages.SUCCESS)
        if held:
            self.message_user(request, f"Kept {held} backup(s) on legal hold.", messages.WARNING)

    @admin.action(description="Place legal hold", permissions=["manage"])
    def place_legal_hold(self, request: HttpRequest, queryset: QuerySet[Backup]) -> None:
        changed = backup_legal_hold_set(
            backup_ids=list(queryset.values_list("pk", flat=True)),
            hold=True,
            actor=acting_user(request),
        )
        self.message_user(request, f"Placed legal hold on {changed} backup(s).", messages.SUCCESS)

    @admin.action(description="Release legal hold", permissions=["manage"])
    def release_legal_hold(self, request: HttpRequest, queryset: QuerySet[Backup]) -> None:
        changed = backup_legal_hold_set(
            backup_ids=list(queryset.values_list("pk", flat=True)),
            hold=False,
            actor=acting_user(request),
        )
        self.message_user(request, f"Released legal hold on {changed} backup(s).", messages.SUCCESS)
