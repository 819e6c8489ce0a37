"""Handlers for the console's tests (loaded by qcluster via JOBS_EXTRA_HANDLER_MODULES)."""

from __future__ import annotations

import time
from typing import Any

from rest_framework import serializers

from jobs.context import JobContext
from jobs.errors import PermanentJobError
from jobs.registry import job_handler


class ProgressPayload(serializers.Serializer):
    steps = serializers.IntegerField(min_value=1, max_value=100)
    step_seconds = serializers.FloatField(min_value=0, max_value=5)


@job_handler("test.progress", payload=ProgressPayload, max_attempts=1, timeout=120)
def progress(ctx: JobContext) -> dict[str, Any]:
    """Report `steps` evenly spaced progress steps, `step_seconds` apart (deterministic)."""
    steps = ctx.payload["steps"]
    for step in range(1, steps + 1):
        time.sleep(ctx.payload["step_seconds"])
        ctx.report_progress(
            "copying", bytes=step * 1_048_576, percent=step * 100 / steps, force=True
        )
    return {"steps": steps}


@job_handler("test.upkeep", max_attempts=1, housekeeping=True)
def upkeep(ctx: JobContext) -> None:
    raise PermanentJobError("upkeep broke")


@job_handler("test.doomed", max_attempts=1)
def doomed(ctx: JobContext) -> None:
    raise PermanentJobError("the provider said no")


class FormPayload(serializers.Serializer):
    """One field of each kind "Run a job…" maps to a form field (and one it cannot)."""

    name = serializers.CharField(max_length=20)
    count = serializers.IntegerField(min_value=1, max_value=10, default=2)
    loud = serializers.BooleanField(default=False)
    colour = serializers.ChoiceField(choices=["red", "green"])
    email = serializers.EmailField(required=False)
    ref = serializers.UUIDField(required=False)
    day = serializers.DateField(required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    api_token = serializers.CharField(required=False)

    def validate_name(self, value: str) -> str:
        if value == "forbidden":
            raise serializers.ValidationError("This name is reserved.")
        return value


@job_handler("test.form", payload=FormPayload, max_attempts=1, sensitive=("api_token",))
def form(ctx: JobContext) -> dict[str, Any]:
    return {"name": ctx.payload["name"]}
