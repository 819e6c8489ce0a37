"""Backup files of one tenant schema: where they are stored and how to trust them."""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from controlplane.models import Project
from jobs.models import Job


class BackupFormat(models.TextChoices):
    SQL = "sql", "Plain SQL"
    TAR = "tar", "Tar archive"


class Compression(models.TextChoices):
    GZIP = "gzip", "gzip"
    ZSTD = "zstd", "zstd"
    NONE = "none", "Uncompressed"


class VerifyStatus(models.TextChoices):
    NEVER = "never", "Never verified"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


class Backup(models.Model):
    """One pg_dump of a tenant schema, stored in STORAGES["backups"]."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # PROTECT: a project's row must not vanish while files still refer to it.
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="backups")
    # SET_NULL: finished jobs are pruned after a while; their backups stay.
    job = models.ForeignKey(
        Job,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="backups",
        db_index=False,  # the partial unique constraint below indexes it
    )
    format = models.CharField(max_length=3, choices=BackupFormat.choices)
    # `compressed` stays for the API (a bool in every output); `compression` names the codec.
    compressed = models.BooleanField()
    compression = models.CharField(max_length=4, choices=Compression.choices)
    storage_path = models.CharField(max_length=500, unique=True)
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    table_count = models.IntegerField()
    # Row count per table as dumped: what a restore check compares against.
    table_rows = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    legal_hold = models.BooleanField(default=False)
    # When a restore check last passed (the API's field); the outcome of the latest check,
    # passed or failed, is in verify_status / verify_checked_at / verify_error.
    verified_at = models.DateTimeField(null=True, blank=True)
    # db_default: raw inserts (seed_synthetic) and code older than the columns keep working.
    verify_status = models.CharField(
        "verification",
        max_length=6,
        choices=VerifyStatus.choices,
        default=VerifyStatus.NEVER,
        db_default=VerifyStatus.NEVER,
    )
    verify_checked_at = models.DateTimeField(null=True, blank=True)
    # Why the latest check failed (an error message safe to show; never a secret).
    verify_error = models.TextField(blank=True, default="", db_default="")
    # Where the storage keeps the file's pieces (Telegram: file and message ids per part).
    storage_parts = models.JSONField(default=list, blank=True)
    # Set when storage refused or failed to delete the file; retention then stops trying
    # after BACKUPS_DELETE_MAX_ATTEMPTS, leaving the row for staff to see.
    delete_error = models.TextField(blank=True, default="")
    delete_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("manage_backup", "Can verify, delete and hold backups"),
            ("download_backup", "Can download backups and see their links"),
            ("request_export", "Can request an export of any project"),
        ]
        indexes = [
            models.Index(
                fields=["project", "-created_at", "-id"], name="backup_project_created_idx"
            ),
            models.Index(fields=["-created_at", "-id"], name="backup_created_idx"),
            models.Index(
                fields=["expires_at"], condition=Q(legal_hold=False), name="backup_expiry_idx"
            ),
            models.Index(
                fields=["-created_at"], condition=Q(legal_hold=True), name="backup_held_idx"
            ),
            models.Index(fields=["format", "-created_at"], name="backup_format_idx"),
            models.Index(fields=["verify_status", "-created_at"], name="backup_verify_idx"),
        ]
        constraints = [
            # One backup per export job: a retried job finds its backup instead of a second.
            models.UniqueConstraint(
                fields=["job"], condition=Q(job__isnull=False), name="backup_one_per_job"
            ),
            models.CheckConstraint(
                condition=Q(format__in=BackupFormat.values), name="backup_format_valid"
            ),
            models.CheckConstraint(
                condition=Q(compression__in=Compression.values), name="backup_compression_valid"
            ),
            models.CheckConstraint(
                condition=Q(compressed=True, compression__in=["gzip", "zstd"])
                | Q(compressed=False, compression="none"),
                name="backup_compressed_matches_codec",
            ),
            models.CheckConstraint(
                condition=Q(verify_status__in=VerifyStatus.values), name="backup_verify_valid"
            ),
            models.CheckConstraint(condition=Q(size_bytes__gte=0), name="backup_size_nonneg"),
            models.CheckConstraint(condition=Q(table_count__gte=0), name="backup_tables_nonneg"),
            models.CheckConstraint(
                condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="backup_sha256_hex"
            ),
            models.CheckConstraint(
                condition=Q(storage_path__startswith="backups/"), name="backup_path_prefix"
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="backup_expires_after_created"
            ),
        ]

    def __str__(self) -> str:
        return self.storage_path


class BackupSchedule(models.Model):
    """A project's daily backup: an export job enqueued once in the given UTC hour."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, related_name="backup_schedule"
    )
    hour = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(23)],
        help_text="Hour of the day (UTC, 0-23).",
    )
    format = models.CharField(max_length=3, choices=BackupFormat.choices, default=BackupFormat.SQL)
    compress = models.BooleanField(default=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["hour", "project__slug"]
        indexes = [
            # The scheduler's "enabled schedules due this hour".
            models.Index(fields=["hour"], condition=Q(enabled=True), name="backupsched_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(hour__gte=0, hour__lte=23), name="backupsched_hour_range"
            ),
            models.CheckConstraint(
                condition=Q(format__in=BackupFormat.values), name="backupsched_format_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} daily at {self.hour:02d}:00 UTC"


class ExportRequest(models.Model):
    """One Idempotency-Key of an export request: the body it came with and the job that answered.

    The only record of a client's key: the job may be someone else's (an export already
    active when the key was first used), so a job column could not hold it.
    """

    project = models.ForeignKey(
        Project,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # the unique (project, idempotency_key) constraint indexes it
    )
    idempotency_key = models.CharField(max_length=128)
    # SHA-256 of the canonical JSON of the export payload (the body with defaults applied).
    body_sha256 = models.CharField(max_length=64)
    # CASCADE: a key whose job is gone has nothing left to answer with.
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # What staff see in the admin: the rows are the keys, not the exports themselves.
        verbose_name = "Idempotency-Key record"
        verbose_name_plural = "Idempotency-Key records"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["created_at"], name="exportreq_created_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "idempotency_key"], name="exportreq_project_key_unique"
            ),
            models.CheckConstraint(
                condition=Q(body_sha256__regex=r"^[0-9a-f]{64}$"), name="exportreq_sha256_hex"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.idempotency_key} → {self.job_id}"


class TelegramFile(models.Model):
    """Where the Telegram storage keeps one stored file: its parts, found by storage name.

    Django's Storage API passes only the name, never the Backup, so the parts' file ids and
    message ids live here, written by the storage itself as each part is sent.
    """

    name = models.CharField(max_length=500, unique=True)
    chat_id = models.CharField(max_length=100)
    # [{"index", "file_id", "file_unique_id", "message_id", "size"}], in order.
    parts = models.JSONField(default=list, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    # False while parts are still being sent (or after an upload died half-way).
    complete = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(size_bytes__gte=0), name="telegramfile_size_nonneg"),
        ]

    def __str__(self) -> str:
        return self.name
