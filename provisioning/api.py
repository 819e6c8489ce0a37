"""API-key-to-JWT exchange (`POST /api/auth/token`)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from controlplane.api.auth import issue_access_token
from controlplane.api.ratelimit import enforce_rate_limit
from controlplane.api.schema import enveloped, error_responses
from provisioning.serializers import AccessTokenOutput, TokenExchangeInput
from provisioning.services import ApiKeyInvalid, ProjectNotActive, api_key_use


class TokenExchangeView(APIView):
    """Exchange a project's API key for a JWT carrying its `project_id`."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request: Request) -> str:
        # Without it DRF turns a refused key (401) into 403.
        return 'Bearer realm="api"'

    @extend_schema(
        request=TokenExchangeInput,
        responses={
            200: enveloped("ProjectToken", AccessTokenOutput),
            **error_responses(400, 401, 403, 429),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        enforce_rate_limit(
            request, group="auth.token", key="ip", rate=settings.PROVISIONING_TOKEN_RATE_LIMIT
        )
        data = TokenExchangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            key = api_key_use(plaintext=data.validated_data["api_key"])
        except ApiKeyInvalid as exc:
            raise AuthenticationFailed(str(exc)) from None
        except ProjectNotActive as exc:
            raise PermissionDenied(str(exc)) from None
        return Response(
            {"data": issue_access_token(project_id=key.project.slug, api_key_id=key.pk)}
        )
