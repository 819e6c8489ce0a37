"""Input and output shapes of the provisioning API and its job payloads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import serializers

from controlplane.models import SLUG_PATTERN
from provisioning.models import KEY_PREFIX_PATTERN


class TokenExchangeInput(serializers.Serializer):
    api_key = serializers.CharField(max_length=256, trim_whitespace=True)


class AccessTokenOutput(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()


# --- job payloads (validated at enqueue and again when the job runs) -------------------------

MAX_GRACE_PERIOD_SECONDS = 90 * 24 * 3600


class ServicesPayload(serializers.Serializer):
    auth = serializers.BooleanField(default=False)
    realtime = serializers.BooleanField(default=False)
    storage = serializers.BooleanField(default=False)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown service; use auth, realtime or storage."] for name in unknown}
                )
        return super().to_internal_value(data)


class ApiKeysPayload(serializers.Serializer):
    count = serializers.IntegerField(min_value=1, default=1)
    prefix = serializers.RegexField(
        KEY_PREFIX_PATTERN, max_length=40, required=False, allow_null=True, allow_blank=True
    )

    def validate_count(self, value: int) -> int:
        limit = settings.PROVISIONING_MAX_API_KEYS
        if value > limit:
            raise serializers.ValidationError(f"At most {limit} API keys per project.")
        return value


class ProvisionProjectPayload(serializers.Serializer):
    """Payload of `provision_project`: which project, and what to set up for it."""

    project_id = serializers.RegexField(SLUG_PATTERN, max_length=40)
    region = serializers.CharField(max_length=50)
    owner_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    organization_id = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )
    services = ServicesPayload()
    api_keys = ApiKeysPayload(required=False)


class RotateKeyPayload(serializers.Serializer):
    """Payload of `rotate_key`: one key of the project, or all its keys in service."""

    project_id = serializers.RegexField(SLUG_PATTERN, max_length=40)
    key_id = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    grace_period_seconds = serializers.IntegerField(
        min_value=0, max_value=MAX_GRACE_PERIOD_SECONDS, default=86_400
    )
