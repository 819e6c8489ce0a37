"""Cross-cutting endpoints: staff tokens and health probes."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.api.auth import issue_access_token
from controlplane.api.errors import RateLimited
from controlplane.api.exceptions import error_body
from controlplane.api.ratelimit import enforce_rate_limit
from controlplane.api.schema import enveloped, error_responses
from controlplane.lockout import lockout_retry_after

TokenSerializer = inline_serializer(
    "AccessToken",
    {
        "access_token": serializers.CharField(),
        "token_type": serializers.CharField(),
        "expires_in": serializers.IntegerField(),
    },
)


class StaffTokenInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False)


class StaffTokenView(APIView):
    """Exchange a staff user's username and password for a JWT without `project_id`."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request: Request) -> str:
        # Without it DRF turns a failed login (401) into 403.
        return 'Bearer realm="api"'

    @extend_schema(
        request=StaffTokenInput,
        responses={
            200: enveloped("StaffToken", TokenSerializer),
            **error_responses(400, 401, 429),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        enforce_rate_limit(
            request, group="auth.staff-token", key="ip", rate=settings.AUTH_STAFF_TOKEN_RATE_LIMIT
        )
        data = StaffTokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        retry_after = lockout_retry_after(request._request)
        if retry_after is not None:
            raise RateLimited(retry_after, "Too many failed logins: try again later.")
        # A non-staff user's right password answers like a wrong one: no password oracle.
        if user is None or not user.is_staff:
            raise AuthenticationFailed("Invalid username or password.")
        return Response({"data": issue_access_token(user=user)})


def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 while the process serves requests."""
    return JsonResponse({"data": {"status": "ok"}})


def readyz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the database answers a query, 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        # Drop the broken connection so the next probe reconnects.
        connection.close()
        return JsonResponse({"data": {"status": "unavailable", "database": "down"}}, status=503)
    return JsonResponse({"data": {"status": "ok", "database": "up"}})


def api_not_found(request: HttpRequest) -> JsonResponse:
    """Answer an unknown /api/ path with the error envelope."""
    return JsonResponse(error_body("not_found", "Not found."), status=404)
