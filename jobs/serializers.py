"""Output shape of a job (API.md, "Jobs")."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from jobs.models import Job


class ProgressSerializer(serializers.Serializer):
    phase = serializers.CharField()
    bytes = serializers.IntegerField()
    percent = serializers.FloatField(allow_null=True)


class JobOutputSerializer(serializers.ModelSerializer):
    project_id = serializers.SerializerMethodField()
    last_error = serializers.CharField(allow_null=True)
    result = serializers.JSONField(allow_null=True)
    progress = ProgressSerializer(allow_null=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "type",
            "status",
            "project_id",
            "attempts",
            "max_attempts",
            "priority",
            "created_at",
            "scheduled_at",
            "started_at",
            "completed_at",
            "last_error",
            "result",
            "progress",
        ]

    def get_project_id(self, job: Job) -> str | None:
        return job.project.slug if job.project is not None else None

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["last_error"] = data["last_error"] or None
        return data
