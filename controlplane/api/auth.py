"""JWT authentication: project tokens (claims `project_id`, `api_key_id`) and staff tokens.

Every request re-checks what a token stands for, so revocation bites within seconds:
a project token's API key must still be valid (AUTH_TOKEN_RECHECK_SECONDS bounds how long
a per-process cache may remember that), a staff token's user must still be active staff
with the password the token was issued under (simplejwt's CHECK_REVOKE_TOKEN claim).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import caches
from django.db.models import Count, Q
from django.db.models.functions import Now
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, ExpiredTokenError, TokenError
from rest_framework_simplejwt.tokens import AccessToken, Token

from controlplane.models import Project

PROJECT_CLAIM = "project_id"
KEY_CLAIM = "api_key_id"
_CACHE_PREFIX = "auth.project-token"
_BEARER_HINT = "Send the token as 'Authorization: Bearer <token>'."


@dataclass(frozen=True)
class ProjectPrincipal:
    """The caller behind a project token: may act on its own project only.

    `project_status` is the project's status at the last check; None when the project no
    longer exists (its endpoints then answer 404, as for any unknown project).
    """

    project_id: str
    project_status: str | None = None
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False

    @property
    def pk(self) -> str:
        return f"project:{self.project_id}"

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def __str__(self) -> str:
        return self.pk


@dataclass(frozen=True)
class _KeyState:
    exists: bool
    project_status: str | None
    key_valid: bool


def _key_state(project_id: str, key_id: int) -> _KeyState:
    """Return the project's status and whether `key_id` is one of its valid keys (one query)."""
    # Through the reverse relation, so this layer needs no import from provisioning.
    valid_key = Q(api_keys__pk=key_id, api_keys__revoked_at__isnull=True) & (
        Q(api_keys__expires_at__isnull=True) | Q(api_keys__expires_at__gt=Now())
    )
    rows = (
        Project.objects.filter(slug=project_id)
        .values("status")
        .annotate(valid=Count("api_keys", filter=valid_key))
        .order_by("status")[:1]
    )
    row = next(iter(rows), None)
    if row is None:
        return _KeyState(exists=False, project_status=None, key_valid=False)
    return _KeyState(exists=True, project_status=row["status"], key_valid=row["valid"] > 0)


def project_token_state(project_id: str, key_id: int) -> _KeyState:
    """Return the key/project state, remembered per process for AUTH_TOKEN_RECHECK_SECONDS."""
    ttl = settings.AUTH_TOKEN_RECHECK_SECONDS
    if ttl <= 0:
        return _key_state(project_id, key_id)
    cache = caches["local"]
    cache_key = f"{_CACHE_PREFIX}:{project_id}:{key_id}"
    state = cache.get(cache_key)
    if state is None:
        state = _key_state(project_id, key_id)
        cache.set(cache_key, state, timeout=ttl)
    return state


class JWTAuthentication(authentication.JWTAuthentication):
    """Accept project tokens and staff tokens; say plainly why any other token is refused."""

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        header = self.get_header(request)
        if header is not None and self.get_raw_token(header) is None:
            parts = header.split()
            scheme = parts[0].decode(errors="replace")[:20] if parts else ""
            raise NotAuthenticated(
                f"The authorization scheme {scheme!r} is not accepted. {_BEARER_HINT}"
            )
        return super().authenticate(request)

    def get_validated_token(self, raw_token: bytes) -> Token:
        try:
            return AccessToken(raw_token)  # type: ignore[arg-type]  # (stubs say Token)
        except ExpiredTokenError:
            raise AuthenticationFailed(
                "The token has expired; obtain a new one.", code="token_expired"
            ) from None
        except TokenError:
            raise AuthenticationFailed(
                "The token is not valid: its signature, issuer, audience or format is wrong.",
                code="token_not_valid",
            ) from None

    def get_user(self, validated_token: Token) -> Any:
        project_id = validated_token.get(PROJECT_CLAIM)
        if project_id:
            return self._project_principal(str(project_id), validated_token.get(KEY_CLAIM))
        # simplejwt refuses a user gone, inactive, or whose password changed since.
        user = super().get_user(validated_token)
        if not getattr(user, "is_staff", False):
            raise AuthenticationFailed("The token is not a staff token.", code="invalid_token")
        return user

    def _project_principal(self, project_id: str, key_id: Any) -> ProjectPrincipal:
        if not isinstance(key_id, int) or isinstance(key_id, bool):
            raise AuthenticationFailed(
                "The token names no API key (issued before key revocation checks); "
                "exchange the API key for a new token.",
                code="invalid_token",
            )
        state = project_token_state(project_id, key_id)
        if state.exists and not state.key_valid:
            raise AuthenticationFailed(
                "The API key this token was issued for is revoked or expired.",
                code="invalid_token",
            )
        return ProjectPrincipal(project_id=project_id, project_status=state.project_status)


def request_project_id(request: Request) -> str | None:
    """Return the project a project token is bound to, or None for staff."""
    user = request.user
    return user.project_id if isinstance(user, ProjectPrincipal) else None


def issue_access_token(
    *,
    project_id: str | None = None,
    api_key_id: int | None = None,
    user: AbstractBaseUser | None = None,
) -> dict[str, Any]:
    """Return the token response body for a project's API key (by slug and key id) or staff."""
    if (project_id is None) == (user is None):
        raise ValueError("issue_access_token needs exactly one of project_id or user")
    if project_id is not None and api_key_id is None:
        raise ValueError("a project token must name the API key it was exchanged from")
    # for_user adds the password-hash claim (simplejwt CHECK_REVOKE_TOKEN).
    token = AccessToken.for_user(user) if user is not None else AccessToken()
    if project_id is not None:
        token[PROJECT_CLAIM] = project_id
        token[KEY_CLAIM] = api_key_id
    return {
        "access_token": str(token),
        "token_type": "Bearer",
        "expires_in": settings.JWT_ACCESS_TOKEN_LIFETIME,
    }
