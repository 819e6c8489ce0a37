"""Durable jobs: the `Job` row is the record; `JobAttempt` keeps each attempt's history."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from controlplane.models import Project


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (JobStatus.PENDING, JobStatus.RUNNING)
TERMINAL_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
RETRYABLE_STATUSES = (JobStatus.FAILED, JobStatus.CANCELLED)


class AttemptOutcome(models.TextChoices):
    COMPLETED = "completed", "Completed"
    ERROR = "error", "Error"
    TIMEOUT = "timeout", "Timed out"
    LOST = "lost", "Worker lost"
    CANCELLED = "cancelled", "Cancelled"


class Job(models.Model):
    """One unit of background work, executed by django-q2 workers, retried by policy."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    priority = models.SmallIntegerField(default=0, help_text="Higher runs first.")
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    # Indexed by job_project_created_idx (a second index would only slow every write).
    project = models.ForeignKey(
        Project,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
        db_index=False,
    )
    # NULL, not "", means "no key": the partial unique constraints only cover real keys.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    # At most one active (pending or running) job per type holds a given exclusive key.
    exclusive_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    scheduled_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True, default="")
    result = models.JSONField(null=True, blank=True)
    progress = models.JSONField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    # Lease of the worker running the current attempt; expired while running = worker lost.
    worker = models.CharField(max_length=200, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # When the job was last handed to django-q2; the dispatcher hands it again when due.
    handed_off_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("operate_job", "Can retry, cancel and run jobs now"),
            ("run_job", "Can run a job of any registered type from the admin"),
        ]
        indexes = [
            # The dispatcher's "next due pending jobs".
            models.Index(
                F("priority").desc(),
                "scheduled_at",
                name="job_due_pending_idx",
                condition=Q(status=JobStatus.PENDING),
            ),
            # The rescuer's "running with an expired lease".
            models.Index(
                fields=["lease_expires_at"],
                name="job_running_lease_idx",
                condition=Q(status=JobStatus.RUNNING),
            ),
            models.Index(fields=["status", "-created_at"], name="job_status_created_idx"),
            models.Index(fields=["type", "-created_at"], name="job_type_created_idx"),
            models.Index(fields=["project", "-created_at"], name="job_project_created_idx"),
            models.Index(fields=["-created_at"], name="job_created_idx"),
            # The job list's "failed jobs of a project / of a type": partial, so only a job
            # that fails writes them (a claim or a completion never does).
            models.Index(
                fields=["project", "-created_at"],
                name="job_failed_project_idx",
                condition=Q(status=JobStatus.FAILED),
            ),
            models.Index(
                fields=["type", "-created_at"],
                name="job_failed_type_idx",
                condition=Q(status=JobStatus.FAILED),
            ),
            # Pruning finished jobs; unfinished ones (no completed_at) stay out of it.
            models.Index(
                fields=["completed_at"],
                name="job_completed_idx",
                condition=Q(completed_at__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=JobStatus.values), name="job_status_valid"
            ),
            models.CheckConstraint(condition=Q(max_attempts__gte=1), name="job_max_attempts_min"),
            models.CheckConstraint(
                condition=Q(attempts__lte=F("max_attempts")), name="job_attempts_within_max"
            ),
            models.CheckConstraint(
                condition=~Q(status=JobStatus.RUNNING) | Q(lease_expires_at__isnull=False),
                name="job_running_has_lease",
            ),
            models.UniqueConstraint(
                fields=["type", "exclusive_key"],
                condition=Q(exclusive_key__isnull=False, status__in=ACTIVE_STATUSES),
                name="job_exclusive_key_active_unique",
            ),
            models.UniqueConstraint(
                fields=["type", "project", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                nulls_distinct=False,
                name="job_idempotency_key_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.completed_at:
            return self.completed_at - self.started_at
        return None


class JobAttempt(models.Model):
    """One execution attempt of a job: who ran it, when, and how it ended."""

    # Indexed by the (job, number) unique constraint.
    job = models.ForeignKey(
        Job, on_delete=models.CASCADE, related_name="attempt_set", db_index=False
    )
    number = models.PositiveSmallIntegerField()
    worker = models.CharField(max_length=200, blank=True, default="")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # NULL while the attempt runs; the fenced outcome UPDATEs rely on it.
    outcome = models.CharField(  # noqa: DJ001
        max_length=16, choices=AttemptOutcome.choices, null=True, blank=True
    )
    error = models.TextField(blank=True, default="")
    traceback = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["job", "number"]
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="jobattempt_job_number_unique"),
            models.CheckConstraint(
                condition=Q(outcome__isnull=True) | Q(outcome__in=AttemptOutcome.values),
                name="jobattempt_outcome_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} #{self.number}"

    @property
    def duration(self) -> timedelta | None:
        return self.finished_at - self.started_at if self.finished_at else None


class PausedJobType(models.Model):
    """A job type staff paused: its pending jobs wait, none is handed off or claimed.

    Read by every dispatcher pass and by the claim, so the pause holds on every qcluster host.
    """

    type = models.CharField(max_length=64, primary_key=True)
    paused_at = models.DateTimeField(default=timezone.now)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["type"]
        verbose_name = "paused job type"
        permissions = [("pause_jobtype", "Can pause and resume job types")]

    def __str__(self) -> str:
        return self.type
