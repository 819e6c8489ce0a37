"""Input and output shapes of the backups API (API.md, "Backups")."""

from __future__ import annotations

import re
from typing import Any

from rest_framework import serializers

from backups.codecs import resolve_compression
from backups.errors import InvalidCompression
from backups.models import Backup, BackupFormat, Compression
from backups.storage import storage_path_problem

PROJECT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PROJECT_ID_MESSAGE = "project_id must be 1-64 letters, digits, '_' or '-'."


def validate_project_id(value: str) -> str:
    """Raise a field error unless `value` has the API's project_id format."""
    if not PROJECT_ID.fullmatch(value):
        raise serializers.ValidationError(_PROJECT_ID_MESSAGE)
    return value


class BackupExportInput(serializers.Serializer):
    """Body of POST /api/backup/export."""

    # A RegexField so the OpenAPI document carries the pattern; validate_ checks it whole.
    project_id = serializers.RegexField(PROJECT_ID.pattern, max_length=64, trim_whitespace=False)
    format = serializers.ChoiceField(choices=BackupFormat.values, default=BackupFormat.SQL)
    compress = serializers.BooleanField(default=True)
    compression = serializers.ChoiceField(choices=Compression.values, required=False)
    notify_email = serializers.EmailField(required=False, max_length=254)
    storage_path = serializers.CharField(
        required=False, max_length=500, trim_whitespace=False, allow_blank=False
    )

    def validate_project_id(self, value: str) -> str:
        return validate_project_id(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            resolve_compression(compress=attrs["compress"], compression=attrs.get("compression"))
        except InvalidCompression as exc:
            raise serializers.ValidationError({"compression": [str(exc)]}) from None
        path = attrs.get("storage_path")
        if path is not None:
            problem = storage_path_problem(path, project_slug=attrs["project_id"])
            if problem:
                raise serializers.ValidationError({"storage_path": [problem]})
        return attrs


class ExportBackupPayload(BackupExportInput):
    """Payload of the export_backup job: the request body with its defaults applied."""


class VerifyBackupPayload(serializers.Serializer):
    """Payload of the verify_backup job."""

    backup_id = serializers.UUIDField(format="hex_verbose")
    requested_by = serializers.IntegerField(required=False, allow_null=True, min_value=1)


class RestoreBackupPayload(serializers.Serializer):
    """Payload of the restore_backup job: which backup goes into which (new) project."""

    backup_id = serializers.UUIDField(format="hex_verbose")
    project_id = serializers.CharField(max_length=64)
    requested_by = serializers.IntegerField(required=False, allow_null=True, min_value=1)

    def validate_project_id(self, value: str) -> str:
        return validate_project_id(value)


IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")


def validate_idempotency_key(value: str | None) -> str | None:
    """Return the Idempotency-Key header value (None when absent); raise a field error if bad."""
    if value is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(value):
        raise serializers.ValidationError(
            {"Idempotency-Key": ["Idempotency-Key must be 1-128 printable ASCII characters."]}
        )
    return value


class ExportAcceptedOutput(serializers.Serializer):
    """The 202 answer to POST /api/backup/export."""

    job_id = serializers.UUIDField(source="id")
    status = serializers.CharField()
    # From the context: the job's project is the one requested, and loading it costs a query.
    project_id = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_project_id(self, job: Any) -> str:
        return str(self.context["project_id"])


class BackupListQuery(serializers.Serializer):
    """Query of GET /api/backups."""

    project_id = serializers.CharField(required=False, max_length=64)

    def validate_project_id(self, value: str) -> str:
        return validate_project_id(value)


class BackupOutput(serializers.ModelSerializer):
    """One backup as the API shows it."""

    project_id = serializers.CharField(source="project.slug")

    class Meta:
        model = Backup
        fields = [
            "id",
            "project_id",
            "job_id",
            "format",
            "compressed",
            "compression",
            "size_bytes",
            "sha256",
            "table_count",
            "created_at",
            "expires_at",
        ]
        read_only_fields = fields
