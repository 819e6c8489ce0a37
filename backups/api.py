"""Backups API: list, signed download links, and the file behind a link."""

from __future__ import annotations

import posixpath
from typing import Any

from django.conf import settings
from django.http import FileResponse, HttpResponseRedirect
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backups.errors import IdempotencyKeyReused, ProjectNotFound, ProjectUnavailable
from backups.models import Backup
from backups.selectors import backup_get_visible, backup_list, export_request_replays
from backups.serializers import (
    PROJECT_ID,
    BackupExportInput,
    BackupListQuery,
    BackupOutput,
    ExportAcceptedOutput,
    validate_idempotency_key,
)
from backups.services import (
    EXPORT_JOB,
    IDEMPOTENCY_TTL,
    backup_download_link,
    backup_download_record,
    backup_request,
    export_fingerprint,
    export_payload,
)
from backups.signing import download_link_issue, download_token_read
from backups.storage import backups_storage
from controlplane.api.auth import request_project_id
from controlplane.api.errors import Conflict, ProjectSuspended, ProjectSuspendedForbidden
from controlplane.api.pagination import EnvelopeCursorPagination
from controlplane.api.permissions import ensure_project_access
from controlplane.api.ratelimit import enforce_rate_limit
from controlplane.api.schema import enveloped, error_responses
from controlplane.models import ProjectStatus
from jobs.api import result_presenter
from jobs.models import Job, JobStatus

DOWNLOAD_PERMISSION = "backups.download_backup"
IDEMPOTENCY_HEADER = "Idempotency-Key"

BackupPage = inline_serializer(
    "BackupPage",
    {
        "data": BackupOutput(many=True),
        "pagination": inline_serializer(
            "BackupPagination", {"next": serializers.CharField(allow_null=True)}
        ),
    },
)


def principal_label(request: Request) -> str:
    """Return who a link is issued to: `project:<slug>` or `user:<id>`."""
    bound = request_project_id(request)
    return f"project:{bound}" if bound is not None else f"user:{request.user.pk}"


def may_download(request: Request) -> bool:
    """Return whether the caller may fetch backups it can see (project tokens: their own)."""
    return request_project_id(request) is not None or request.user.has_perm(DOWNLOAD_PERMISSION)


@result_presenter(EXPORT_JOB)
def export_result(job: Job, request: Request, result: dict[str, Any]) -> dict[str, Any]:
    """Return an export's result with a link minted for this reader (null without the right)."""
    # Links are never stored; a result written before that rule loses its stale one here.
    result["download_url"] = result["download_expires_at"] = None
    backup_id = result.get("backup_id")
    if job.status == JobStatus.COMPLETED and backup_id and may_download(request):
        link = download_link_issue(backup_id=str(backup_id), issued_to=principal_label(request))
        result["download_url"] = request.build_absolute_uri(link.path)
        result["download_expires_at"] = link.expires_at.isoformat()
    return result


class BackupExportView(APIView):
    """Accept an export of one project's schema as a background job (202 + Location)."""

    staff_permission = "backups.request_export"
    # A suspended project's export answers 409 (API.md), its other endpoints 403.
    suspended_conflict = True

    def perform_authentication(self, request: Request) -> None:
        # Counted before the token is judged, so unauthenticated callers are limited by IP.
        try:
            super().perform_authentication(request)
        finally:
            # With an Idempotency-Key, post() counts once it knows whether this is a replay.
            if not (self._authenticated(request) and IDEMPOTENCY_HEADER in request.headers):
                self._count(request)

    @staticmethod
    def _authenticated(request: Request) -> bool:
        return bool(getattr(request.user, "is_authenticated", False))

    def _count(self, request: Request) -> None:
        enforce_rate_limit(
            request,
            group="backups.export",
            key="user" if self._authenticated(request) else "ip",
            rate=settings.BACKUPS_EXPORT_RATE_LIMIT,
        )

    @extend_schema(
        operation_id="backup_export",
        request=BackupExportInput,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                location=OpenApiParameter.HEADER,
                required=False,
                description=(
                    "The same key and body within 24 h return the same job; "
                    "the same key with another body is a 409 conflict."
                ),
            ),
        ],
        responses={
            202: OpenApiResponse(
                enveloped("ExportAccepted", ExportAcceptedOutput),
                description="Accepted; `Location: /api/jobs/<job_id>` tells where to poll. "
                "While an export of the project is active, that job is returned.",
            ),
            **error_responses(400, 401, 403, 404, 409, 429),
        },
    )
    def post(self, request: Request) -> Response:
        counted = IDEMPOTENCY_HEADER not in request.headers
        replay = False
        try:
            body = BackupExportInput(data=request.data)
            body.is_valid(raise_exception=True)
            key = validate_idempotency_key(request.headers.get(IDEMPOTENCY_HEADER))
            data = body.validated_data
            ensure_project_access(request, data["project_id"])
            args: dict[str, Any] = {
                "project_slug": data["project_id"],
                "format": data["format"],
                "compress": data["compress"],
                "compression": data.get("compression"),
                "notify_email": data.get("notify_email"),
                "storage_path": data.get("storage_path"),
            }
            if key is not None:
                # A replay answered by the same job is free; another body (409) still counts.
                replay = export_request_replays(
                    project_slug=data["project_id"],
                    idempotency_key=key,
                    fingerprint=export_fingerprint(export_payload(**args)),
                    recorded_after=timezone.now() - IDEMPOTENCY_TTL,
                )
        finally:
            if not counted and not replay:
                self._count(request)
        try:
            job = backup_request(**args, idempotency_key=key)
        except ProjectNotFound as exc:
            raise NotFound(str(exc)) from None
        except ProjectUnavailable as exc:
            raise (ProjectSuspended(str(exc)) if exc.suspended else Conflict(str(exc))) from None
        except IdempotencyKeyReused as exc:
            raise Conflict(str(exc)) from None
        return Response(
            {"data": ExportAcceptedOutput(job, context={"project_id": data["project_id"]}).data},
            status=202,
            headers={"Location": f"/api/jobs/{job.pk}"},
        )


class BackupListView(APIView):
    """List a project's backups, newest first (a project token sees only its own)."""

    staff_permission = "backups.view_backup"

    pagination_class = EnvelopeCursorPagination

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "project_id",
                {"type": "string", "pattern": PROJECT_ID.pattern, "maxLength": 64},
                description="Project slug; defaults to the token's.",
            ),
            OpenApiParameter("cursor", str, description="`pagination.next` of the previous page."),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 200},
                description="Page size (1-200, default 50).",
            ),
        ],
        responses={200: BackupPage, **error_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        # A plain dict: a QueryDict would let `?project_id=` pass as if absent.
        query = BackupListQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        project_id: str | None = query.validated_data.get("project_id")
        if project_id is not None:
            ensure_project_access(request, project_id)
        else:
            project_id = request_project_id(request)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(backup_list(project_slug=project_id), request, self)
        return paginator.get_paginated_response(BackupOutput(page, many=True).data)


class BackupDownloadView(APIView):
    """Redirect to a signed, expiring link that streams the backup file."""

    staff_permission = DOWNLOAD_PERMISSION

    @extend_schema(
        responses={
            302: OpenApiResponse(description="Location: the signed download link."),
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request: Request, backup_id: Any) -> HttpResponseRedirect:
        backup = backup_get_visible(backup_id=backup_id, bound_project=request_project_id(request))
        if backup is None:
            # Same answer for "absent" and "not yours": existence must not leak.
            raise NotFound("No such backup.")
        link = backup_download_link(backup=backup, issued_to=principal_label(request))
        response = HttpResponseRedirect(request.build_absolute_uri(link.path))
        response["Cache-Control"] = "no-store"
        return response


class BackupFileView(APIView):
    """Stream the file a signed link grants; tampered or expired links get 403."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            **error_responses(403, 404),
        },
        auth=[],
    )
    def get(self, request: Request, token: str) -> FileResponse:
        grant = download_token_read(token)
        if grant is None:
            raise PermissionDenied("The download link is invalid or has expired.")
        backup = Backup.objects.select_related("project").filter(pk=grant.backup_id).first()
        storage = backups_storage()
        if backup is None or not storage.exists(backup.storage_path):
            raise NotFound("The backup no longer exists.")
        if backup.project.status == ProjectStatus.SUSPENDED:
            raise ProjectSuspendedForbidden()
        backup_download_record(backup=backup, grant=grant)
        response = FileResponse(
            storage.open(backup.storage_path, "rb"),
            as_attachment=True,
            filename=posixpath.basename(backup.storage_path),
            content_type="application/octet-stream",
        )
        response["Cache-Control"] = "no-store"
        response["X-Content-SHA256"] = backup.sha256
        return response
