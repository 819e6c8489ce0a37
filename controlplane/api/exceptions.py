"""One exception handler for the whole API: every error leaves in the same envelope."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from controlplane.api.errors import PayloadTooLarge, RateLimited
from controlplane.middleware import current_request_id

logger = logging.getLogger("controlplane.api")

# DRF exception class → contract code; subclasses are matched in order.
_CODES: list[tuple[type[Exception], str]] = [
    (exceptions.ValidationError, "validation_error"),
    (exceptions.ParseError, "validation_error"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "invalid_token"),
    (exceptions.PermissionDenied, "forbidden"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "rate_limited"),
]

_MESSAGES = {
    "validation_error": "The request is not valid.",
    "not_found": "Not found.",
    "forbidden": "You do not have permission to perform this action.",
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the contract's error envelope."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def _code_for(exc: exceptions.APIException) -> str:
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code
    return str(exc.default_code)


def _validation_details(detail: Any) -> dict[str, Any]:
    """Return field → list of messages (nested serializers keep their nesting)."""
    if not isinstance(detail, dict):
        detail = {"non_field_errors": detail}
    return {str(field): _as_list(value) for field, value in detail.items()}


def _as_list(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _as_list(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_list(v) if isinstance(v, (dict, list)) else str(v) for v in value]
    return [str(value)]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Translate any exception raised in a DRF view into the error envelope."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, (InvalidToken, TokenError)) and not isinstance(
        exc, exceptions.APIException
    ):
        exc = exceptions.AuthenticationFailed("The token is invalid or expired.")

    if not isinstance(exc, exceptions.APIException):
        return internal_error_response()

    code = _code_for(exc)
    headers: dict[str, str] = {}
    if code == "validation_error":
        message = _MESSAGES[code]
        details = _validation_details(exc.detail)
        if isinstance(exc, exceptions.ParseError):
            message, details = f"Malformed request body: {exc.detail}", {}
    else:
        message = _plain(exc.detail)
        details = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
        details = {"retry_after": exc.retry_after}
    elif isinstance(exc, exceptions.Throttled) and getattr(exc, "wait", None) is not None:
        headers["Retry-After"] = str(max(1, int(exc.wait)))  # type: ignore[attr-defined]
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    return Response(error_body(code, message, details), status=exc.status_code, headers=headers)


def _plain(detail: Any) -> str:
    """Return a one-sentence message from a DRF detail (string, list or dict)."""
    if isinstance(detail, dict):
        # simplejwt puts {"detail": ..., "messages": [...]} here; keep the sentence only.
        detail = detail.get("detail") or next(iter(detail.values()), "")
    if isinstance(detail, list):
        detail = detail[0] if detail else ""
    return str(detail)


def _internal_error_body() -> dict[str, Any]:
    request_id = current_request_id()
    return error_body(
        "internal_error",
        f"An unexpected error occurred. Quote request id {request_id} when reporting it.",
        {"request_id": request_id},
    )


def internal_error_response() -> Response:
    """Log the exception in flight and return a 500 that names only the request id."""
    logger.exception("Unhandled exception in API view")
    return Response(_internal_error_body(), status=status.HTTP_500_INTERNAL_SERVER_ERROR)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler500(request: HttpRequest) -> HttpResponse:
    """Answer errors outside DRF views under /api/ with the envelope, no internals."""
    if _is_api(request):
        return JsonResponse(_internal_error_body(), status=500)
    from django.views.defaults import server_error

    return server_error(request)
