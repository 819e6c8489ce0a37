"""The real URLs plus views that raise each kind of error, for the envelope tests."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.api.errors import Conflict, ProjectSuspended
from controlplane.api.permissions import CronSecretOrStaff, IsStaff, ensure_project_access
from controlplane.urls import urlpatterns as real_urlpatterns


class Raise(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    errors: dict[str, Any] = {
        "suspended": ProjectSuspended,
        "conflict": Conflict,
        "django404": Http404,
    }

    def get(self, request: Request, kind: str) -> Response:
        if kind == "crash":
            raise RuntimeError("password=hunter2-canary SELECT * FROM secrets")
        raise self.errors[kind]()

    def post(self, request: Request, kind: str) -> Response:
        return Response({"data": {"size": len(request.data.get("blob", ""))}})


class ProjectScoped(APIView):
    staff_permission = "jobs.view_job"

    def get(self, request: Request, project_id: str) -> Response:
        ensure_project_access(request, project_id)
        return Response({"data": {"project_id": project_id}})


class StaffOnly(APIView):
    permission_classes = [IsStaff]

    def get(self, request: Request) -> Response:
        return Response({"data": {"user": request.user.get_username()}})


class CronOnly(APIView):
    permission_classes = [CronSecretOrStaff]

    def get(self, request: Request) -> Response:
        return Response({"data": {"ok": True}})


urlpatterns = [
    path("api/test/raise/<str:kind>", Raise.as_view()),
    path("api/test/projects/<str:project_id>", ProjectScoped.as_view()),
    path("api/test/staff-only", StaffOnly.as_view()),
    path("api/test/cron-only", CronOnly.as_view()),
    *real_urlpatterns,
]
