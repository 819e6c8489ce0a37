"""JWT authentication: project tokens (claim `project_id`) and staff tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from rest_framework.request import Request
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.tokens import AccessToken, Token

PROJECT_CLAIM = "project_id"


@dataclass(frozen=True)
class ProjectPrincipal:
    """The caller behind a project token: may act on its own project only."""

    project_id: str
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False

    @property
    def pk(self) -> str:
        return f"project:{self.project_id}"

    def __str__(self) -> str:
        return self.pk


class JWTAuthentication(authentication.JWTAuthentication):
    """Accept project tokens and staff tokens; any other user's token is refused."""

    def get_user(self, validated_token: Token) -> Any:
        project_id = validated_token.get(PROJECT_CLAIM)
        if project_id:
            return ProjectPrincipal(project_id=str(project_id))
        user = super().get_user(validated_token)
        if not getattr(user, "is_staff", False):
            raise AuthenticationFailed("The token is not a staff token.", code="invalid_token")
        return user


def request_project_id(request: Request) -> str | None:
    """Return the project a project token is bound to, or None for staff."""
    user = request.user
    return user.project_id if isinstance(user, ProjectPrincipal) else None


def issue_access_token(
    *, project_id: str | None = None, user: AbstractBaseUser | None = None
) -> dict[str, Any]:
    """Return the token response body for a project (by slug) or a staff user."""
    if (project_id is None) == (user is None):
        raise ValueError("issue_access_token needs exactly one of project_id or user")
    token = AccessToken.for_user(user) if user is not None else AccessToken()
    if project_id is not None:
        token[PROJECT_CLAIM] = project_id
    return {
        "access_token": str(token),
        "token_type": "Bearer",
        "expires_in": settings.JWT_ACCESS_TOKEN_LIFETIME,
    }
