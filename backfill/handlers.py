"""The `backfill_month` job: one month, retried by the job itself (backfill.consumer).

Each attempt writes the month's state (processing, then completed, pending on a quota,
retry or failed), so retrying the month and retrying its job are the same action: both
give the job a fresh MAX_RETRIES-attempt budget and reset the month (`on_retry`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.urls import reverse
from rest_framework import serializers

from backfill.attempts import backfill_months_job_retried
from backfill.catalogue import BookCatalogueProcessor
from backfill.consumer import backfill_month_process
from backfill.errors import MalformedPayload
from backfill.models import (
    BACKFILL_MONTH_JOB,
    MAX_BATCH_SIZE,
    MAX_RETRIES,
    YEAR_MAX,
    YEAR_MIN,
    BackfillLog,
    PromptVariant,
)
from backfill.protocol import MonthProcessor
from backfill.providers import provider_configs
from backfill.schedules import SCHEDULE_JOB, backfill_schedule_tick
from jobs.context import JobContext
from jobs.registry import job_handler
from jobs.retry import RetryPolicy

# A provider error is mostly an outage: give it minutes, not seconds.
BACKFILL_RETRY = RetryPolicy(base=30.0, factor=2.0, cap=600.0)


class BackfillMonthPayload(serializers.Serializer):
    year = serializers.IntegerField(min_value=YEAR_MIN, max_value=YEAR_MAX)
    month = serializers.IntegerField(min_value=1, max_value=12)
    batch_size = serializers.IntegerField(min_value=1, max_value=MAX_BATCH_SIZE)
    prompt_variant = serializers.ChoiceField(choices=PromptVariant.choices)


def backfill_month_run(
    payload: Mapping[str, Any],
    *,
    job_id: uuid.UUID,
    attempt: int = 1,
    max_attempts: int = MAX_RETRIES,
    processor: MonthProcessor | None = None,
) -> dict[str, Any]:
    """Validate a `backfill_month` payload and run the consumer on it; ValueError if malformed."""
    try:
        year, month, batch_size = (int(payload[k]) for k in ("year", "month", "batch_size"))
        prompt_variant = PromptVariant(payload["prompt_variant"])
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedPayload(f"malformed backfill_month payload: {exc}") from None
    if not (1 <= month <= 12 and 1 <= batch_size <= MAX_BATCH_SIZE):
        raise MalformedPayload("malformed backfill_month payload: month or batch_size out of range")
    return backfill_month_process(
        year=year,
        month=month,
        batch_size=batch_size,
        prompt_variant=prompt_variant.value,
        processor=processor or BookCatalogueProcessor(),
        job_id=job_id,
        attempt=attempt,
        max_attempts=max_attempts,
    )


def backfill_month_subject(payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """Return the admin page of the payload's month and its label (None if it is gone)."""
    try:
        year, month = int(payload["year"]), int(payload["month"])
    except (KeyError, TypeError, ValueError):
        return None
    pk = BackfillLog.objects.filter(year=year, month=month).values_list("pk", flat=True).first()
    if pk is None:
        return None
    return reverse("admin:backfill_backfilllog_change", args=[pk]), f"Backfill {year}-{month:02d}"


@job_handler(
    BACKFILL_MONTH_JOB,
    payload=BackfillMonthPayload,
    max_attempts=MAX_RETRIES,
    timeout=settings.BACKFILL_JOB_TIMEOUT,
    retry=BACKFILL_RETRY,
    on_retry=backfill_months_job_retried,
    subject=backfill_month_subject,
)
def backfill_month(ctx: JobContext) -> dict[str, Any]:
    """Process the payload's month; a failure propagates, so the job's policy retries it."""
    for config in provider_configs().values():
        ctx.add_secret(config.api_key)
    return backfill_month_run(
        ctx.payload, job_id=ctx.job_id, attempt=ctx.attempt, max_attempts=ctx.max_attempts
    )


@job_handler(SCHEDULE_JOB, housekeeping=True)
def schedule_pass(ctx: JobContext) -> dict[str, int]:
    """Run one scheduling pass (BACKFILL_SCHEDULE_BATCH_SIZE, _MAX_MONTHS)."""
    return backfill_schedule_tick()
