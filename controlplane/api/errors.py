"""API exceptions with the contract's error codes (API.md, "Envelope")."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.exceptions import APIException


class ProjectSuspended(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "project_suspended"
    default_detail = "The project is suspended."


class ProjectSuspendedForbidden(APIException):
    """A suspended project's token or link on anything but an export (403, not 409)."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "project_suspended"
    default_detail = "The project is suspended."


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state."


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


class RateLimited(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "rate_limited"
    default_detail = "Too many requests; retry later."

    def __init__(self, retry_after: int, detail: Any = None) -> None:
        super().__init__(detail)
        self.retry_after = max(1, int(retry_after))
