"""Backfill units (`backfill_log`, one row per year/month), the book catalogue, provider quotas."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Cast

MAX_RETRIES = 5
DEFAULT_BATCH_SIZE = 20
MAX_BATCH_SIZE = 50
FIRST_YEAR = 2000
LAST_YEAR = 2024
CONTEMPORARY_FROM_YEAR = 2020
# The job type that processes one month (backfill.handlers).
BACKFILL_MONTH_JOB = "backfill_month"
# Sane bounds for any year the tables may hold (the seeded range is FIRST_YEAR..LAST_YEAR).
YEAR_MIN = 1900
YEAR_MAX = 2100


class BackfillStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    RETRY = "retry", "Retry"


SCHEDULABLE_STATUSES = (BackfillStatus.PENDING, BackfillStatus.RETRY)
# Staff may send these back to `pending`; `processing` belongs to a running job.
RESETTABLE_STATUSES = (BackfillStatus.FAILED, BackfillStatus.RETRY, BackfillStatus.COMPLETED)


class PromptVariant(models.TextChoices):
    BASELINE = "baseline", "Baseline"
    CONTEMPORARY_NOTABLE = "contemporary-notable", "Contemporary notable"


def prompt_variant_for(year: int) -> PromptVariant:
    """Return the prompt variant a month of `year` is processed with."""
    if year >= CONTEMPORARY_FROM_YEAR:
        return PromptVariant.CONTEMPORARY_NOTABLE
    return PromptVariant.BASELINE


class Provider(models.TextChoices):
    GEMINI = "gemini", "Gemini"
    XAI = "xai", "xAI"
    ISBNDB = "isbndb", "ISBNdb"


class BackfillLog(models.Model):
    """One month of the book-catalogue backfill: its state, counters and last error."""

    year = models.PositiveSmallIntegerField()
    month = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=16, choices=BackfillStatus.choices, default=BackfillStatus.PENDING
    )
    retry_count = models.PositiveSmallIntegerField(default=0)
    batch_size = models.PositiveSmallIntegerField(default=DEFAULT_BATCH_SIZE)
    prompt_variant = models.CharField(
        max_length=32, choices=PromptVariant.choices, default=PromptVariant.BASELINE
    )
    books_generated = models.PositiveIntegerField(default=0)
    isbns_resolved = models.PositiveIntegerField(default=0)
    # Derived by the database, so it can never disagree with the two counters.
    resolution_rate = models.GeneratedField(
        expression=models.Case(
            models.When(
                books_generated__gt=0,
                then=Cast(F("isbns_resolved"), models.FloatField())
                * Value(100.0)
                / Cast(F("books_generated"), models.FloatField()),
            ),
            default=Value(0.0),
            output_field=models.FloatField(),
        ),
        output_field=models.FloatField(),
        db_persist=True,
    )
    gemini_calls = models.PositiveIntegerField(default=0)
    xai_calls = models.PositiveIntegerField(default=0)
    isbndb_calls = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_retry_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(blank=True, default="")
    # The job that last carried this month; a delivery from any other job is stale.
    last_job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "backfill_log"
        ordering = ["-year", "-month"]
        permissions = [("manage_backfill", "Can retry and reset backfill months")]
        indexes = [
            # The scheduler's "next schedulable months, newest first".
            models.Index(
                F("year").desc(),
                F("month").desc(),
                name="backfill_schedulable_idx",
                condition=Q(status__in=SCHEDULABLE_STATUSES),
            ),
            models.Index(fields=["status"], name="backfill_status_idx"),
            models.Index(fields=["-updated_at", "-id"], name="backfill_updated_idx"),
            models.Index(fields=["prompt_variant"], name="backfill_variant_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["year", "month"], name="backfill_year_month_uniq"),
            models.CheckConstraint(
                condition=Q(year__gte=YEAR_MIN, year__lte=YEAR_MAX), name="backfill_year_range"
            ),
            models.CheckConstraint(
                condition=Q(month__gte=1, month__lte=12), name="backfill_month_range"
            ),
            models.CheckConstraint(
                condition=Q(status__in=BackfillStatus.values), name="backfill_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(retry_count__gte=0, retry_count__lte=MAX_RETRIES),
                name="backfill_retry_count_range",
            ),
            models.CheckConstraint(
                condition=Q(batch_size__gte=1, batch_size__lte=MAX_BATCH_SIZE),
                name="backfill_batch_size_range",
            ),
            models.CheckConstraint(
                condition=Q(prompt_variant__in=PromptVariant.values),
                name="backfill_prompt_variant_valid",
            ),
            models.CheckConstraint(
                condition=Q(isbns_resolved__lte=F("books_generated")),
                name="backfill_resolved_le_generated",
            ),
            models.CheckConstraint(
                condition=~Q(status=BackfillStatus.COMPLETED) | Q(completed_at__isnull=False),
                name="backfill_completed_has_completed_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year}-{self.month:02d}"


class Book(models.Model):
    """A catalogue entry found by the backfill, unique on its ISBN."""

    title = models.CharField(max_length=500)
    author = models.CharField(max_length=300, blank=True, default="")
    isbn = models.CharField(max_length=13, unique=True)
    year = models.PositiveSmallIntegerField()
    month = models.PositiveSmallIntegerField()
    source = models.CharField(max_length=16, choices=Provider.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "backfill_book"
        ordering = ["-year", "-month", "title"]
        indexes = [models.Index(fields=["year", "month"], name="book_year_month_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(isbn__regex=r"^([0-9]{9}[0-9X]|[0-9]{13})$"), name="book_isbn_format"
            ),
            models.CheckConstraint(
                condition=Q(month__gte=1, month__lte=12), name="book_month_range"
            ),
            models.CheckConstraint(
                condition=Q(source__in=Provider.values), name="book_source_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.isbn})"


class ProviderQuota(models.Model):
    """Calls made to one provider on one UTC day, against that day's limit."""

    provider = models.CharField(max_length=16, choices=Provider.choices)
    day = models.DateField()
    used = models.PositiveIntegerField(default=0)
    limit = models.PositiveIntegerField()

    class Meta:
        db_table = "backfill_provider_quota"
        ordering = ["-day", "provider"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "day"], name="quota_provider_day_uniq"),
            models.CheckConstraint(
                condition=Q(provider__in=Provider.values), name="quota_provider_valid"
            ),
            models.CheckConstraint(condition=Q(used__lte=F("limit")), name="quota_used_le_limit"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.day}: {self.used}/{self.limit}"


class BackfillStatsDelta(models.Model):
    """A change to the per-status month count and counter sums of `backfill_log`.

    Written only by statement-level triggers on `backfill_log` (migration 0002), so the stats
    read a few rows instead of scanning every month; `backfill_stats_compact` folds them.
    """

    status = models.CharField(max_length=16, choices=BackfillStatus.choices)
    months = models.BigIntegerField()
    books_generated = models.BigIntegerField()
    isbns_resolved = models.BigIntegerField()
    gemini_calls = models.BigIntegerField()
    xai_calls = models.BigIntegerField()
    isbndb_calls = models.BigIntegerField()

    class Meta:
        db_table = "backfill_stats_delta"

    def __str__(self) -> str:
        return f"{self.status} {self.months:+d}"
