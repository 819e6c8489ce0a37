"""Input and output shapes of the backfill endpoints (API.md, "Backfill (internal)")."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from backfill.models import (
    DEFAULT_BATCH_SIZE,
    FIRST_YEAR,
    LAST_YEAR,
    MAX_BATCH_SIZE,
    YEAR_MAX,
    YEAR_MIN,
    BackfillStatus,
)

MAX_MONTHS_LIMIT = (YEAR_MAX - YEAR_MIN + 1) * 12


class YearRangeInput(serializers.Serializer):
    """An inclusive range of years in either order: 2024..2000 is the same range as 2000..2024."""

    start = serializers.IntegerField(min_value=YEAR_MIN, max_value=YEAR_MAX)
    end = serializers.IntegerField(min_value=YEAR_MIN, max_value=YEAR_MAX)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        low, high = sorted((attrs["start"], attrs["end"]))
        return {"start": low, "end": high}


class ScheduleInput(serializers.Serializer):
    batch_size = serializers.IntegerField(
        min_value=1, max_value=MAX_BATCH_SIZE, default=DEFAULT_BATCH_SIZE
    )
    max_months = serializers.IntegerField(min_value=1, max_value=MAX_MONTHS_LIMIT, default=1)
    dry_run = serializers.BooleanField(default=False)
    force_retry = serializers.BooleanField(default=False)
    year_range = YearRangeInput(
        required=False,
        help_text=f"Inclusive, either order; defaults to {LAST_YEAR} down to {FIRST_YEAR}.",
    )


class SeedOutput(serializers.Serializer):
    inserted = serializers.IntegerField()
    existing = serializers.IntegerField()


class CandidateOutput(serializers.Serializer):
    year = serializers.IntegerField()
    month = serializers.IntegerField()
    status = serializers.ChoiceField(choices=BackfillStatus.choices)


class ScheduledOutput(serializers.Serializer):
    job_id = serializers.UUIDField()
    year = serializers.IntegerField()
    month = serializers.IntegerField()
    batch_size = serializers.IntegerField()


class ScheduleOutput(serializers.Serializer):
    dry_run = serializers.BooleanField()
    candidates = CandidateOutput(many=True)
    scheduled = ScheduledOutput(many=True)


class StatusCountsOutput(serializers.Serializer):
    pending = serializers.IntegerField()
    processing = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    retry = serializers.IntegerField()


class TotalsOutput(serializers.Serializer):
    books_generated = serializers.IntegerField()
    isbns_resolved = serializers.IntegerField()
    gemini_calls = serializers.IntegerField()
    xai_calls = serializers.IntegerField()
    isbndb_calls = serializers.IntegerField()


class ActivityOutput(serializers.Serializer):
    year = serializers.IntegerField()
    month = serializers.IntegerField()
    status = serializers.ChoiceField(choices=BackfillStatus.choices)
    retry_count = serializers.IntegerField()
    batch_size = serializers.IntegerField()
    prompt_variant = serializers.CharField()
    books_generated = serializers.IntegerField()
    isbns_resolved = serializers.IntegerField()
    resolution_rate = serializers.FloatField()
    gemini_calls = serializers.IntegerField()
    xai_calls = serializers.IntegerField()
    isbndb_calls = serializers.IntegerField()
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    last_retry_at = serializers.DateTimeField(allow_null=True)
    error_message = serializers.CharField(allow_blank=True)
    updated_at = serializers.DateTimeField()


class StatsOutput(serializers.Serializer):
    status_counts = StatusCountsOutput()
    totals = TotalsOutput()
    overall_resolution_rate = serializers.FloatField()
    recent_activity = ActivityOutput(many=True)
