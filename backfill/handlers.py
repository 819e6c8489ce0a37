"""The `backfill_month` job: run the consumer on one claimed month.

Month outcomes map to job outcomes so the jobs admin tells the truth without the jobs system
retrying anything (retrying is the month's business: the scheduler claims `retry` months again):
completed, deferred for quota, or nothing to do (a duplicate or stale delivery) -> the job
completes with the outcome as its result; the month moved to `retry` or `failed` -> the job
fails at once with the month's (scrubbed) error; a malformed payload -> the job fails at once.
A job that times out or loses its worker leaves the month `processing`: the scheduler's
recovery step (services.backfill_months_recover) counts that as a failed attempt.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import serializers

from backfill.catalogue import BookCatalogueProcessor
from backfill.consumer import backfill_month_process
from backfill.models import (
    BACKFILL_MONTH_JOB,
    MAX_BATCH_SIZE,
    YEAR_MAX,
    YEAR_MIN,
    BackfillStatus,
    PromptVariant,
)
from backfill.protocol import MonthProcessor
from backfill.providers import provider_configs
from backfill.schedules import SCHEDULE_JOB, backfill_schedule_tick
from jobs.context import JobContext
from jobs.errors import PermanentJobError
from jobs.registry import job_handler

FAILED_OUTCOMES = (BackfillStatus.RETRY.value, BackfillStatus.FAILED.value)


class BackfillMonthPayload(serializers.Serializer):
    year = serializers.IntegerField(min_value=YEAR_MIN, max_value=YEAR_MAX)
    month = serializers.IntegerField(min_value=1, max_value=12)
    batch_size = serializers.IntegerField(min_value=1, max_value=MAX_BATCH_SIZE)
    prompt_variant = serializers.ChoiceField(choices=PromptVariant.choices)


def backfill_month_run(
    payload: Mapping[str, Any],
    *,
    job_id: uuid.UUID | None = None,
    processor: MonthProcessor | None = None,
) -> dict[str, Any]:
    """Validate a `backfill_month` payload and run the consumer on it; ValueError if malformed."""
    try:
        year, month, batch_size = (int(payload[k]) for k in ("year", "month", "batch_size"))
        prompt_variant = PromptVariant(payload["prompt_variant"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed backfill_month payload: {exc}") from None
    if not (1 <= month <= 12 and 1 <= batch_size <= MAX_BATCH_SIZE):
        raise ValueError("malformed backfill_month payload: month or batch_size out of range")
    return backfill_month_process(
        year=year,
        month=month,
        batch_size=batch_size,
        prompt_variant=prompt_variant.value,
        processor=processor or BookCatalogueProcessor(),
        job_id=job_id,
    )


@job_handler(
    BACKFILL_MONTH_JOB,
    payload=BackfillMonthPayload,
    max_attempts=1,
    timeout=settings.BACKFILL_JOB_TIMEOUT,
)
def backfill_month(ctx: JobContext) -> dict[str, Any]:
    """Process the payload's month; fail the job, without a retry, when the month failed."""
    for config in provider_configs().values():
        ctx.add_secret(config.api_key)
    try:
        outcome = backfill_month_run(ctx.payload, job_id=ctx.job_id)
    except ValueError as exc:
        raise PermanentJobError(str(exc)) from None
    if outcome["outcome"] in FAILED_OUTCOMES:
        year, month = ctx.payload["year"], ctx.payload["month"]
        raise PermanentJobError(
            f"backfill {year}-{month:02d} is now {outcome['outcome']}: {outcome['error']}"
        )
    return outcome


@job_handler(SCHEDULE_JOB, housekeeping=True)
def schedule_pass(ctx: JobContext) -> dict[str, int]:
    """Run one scheduling pass (BACKFILL_SCHEDULE_BATCH_SIZE, _MAX_MONTHS)."""
    return backfill_schedule_tick()
