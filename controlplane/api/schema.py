"""OpenAPI helpers: describe the `{"data": ...}` and `{"error": ...}` envelopes."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField(required=False)


ERROR = inline_serializer("ErrorEnvelope", {"error": ErrorSerializer()})


def enveloped(name: str, serializer: Any, *, many: bool = False) -> Any:
    """Return a schema for `{"data": <serializer>}`."""
    inner = serializer(many=many) if isinstance(serializer, type) else serializer
    return inline_serializer(f"{name}Envelope", {"data": inner})


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """Return error envelope responses for the given statuses."""
    return {code: OpenApiResponse(ERROR) for code in statuses}
