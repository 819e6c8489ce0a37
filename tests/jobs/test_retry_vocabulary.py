"""One 'don't retry': every app's permanent error is a PermanentJobError; the rest retry."""

from __future__ import annotations

import pytest

from backups.errors import BackupError
from jobs.errors import PermanentJobError
from jobs.models import Job, JobStatus
from jobs.services import enqueue_job
from jobs.worker import execute_job
from provisioning.service_client import ServiceCallError, ServiceRefused

pytestmark = pytest.mark.django_db(transaction=True)

PERMANENT = [
    "jobs.errors.PermanentJobError",
    "backups.errors.BackupPermanentError",
    "backups.errors.ProjectNotActive",
    "provisioning.service_client.ServiceRefused",
    "provisioning.services.ProvisioningPermanentError",
    "backfill.errors.PermanentProcessorError",
    "backfill.errors.ProviderNotConfigured",
]
TRANSIENT = [
    "backups.errors.BackupError",
    "backups.errors.PgToolFailed",
    "provisioning.service_client.ServiceCallError",
    "backfill.errors.ProcessorError",
    "builtins.RuntimeError",
]


def attempt_once(error: str) -> Job:
    job, _ = enqueue_job(type="test.raise", payload={"error": error})
    execute_job(str(job.pk))
    job.refresh_from_db()
    return job


@pytest.mark.parametrize("error", PERMANENT)
def test_permanent_error__fails_the_job_without_a_retry(error: str) -> None:
    job = attempt_once(error)
    assert (job.status, job.attempts, job.max_attempts) == (JobStatus.FAILED, 1, 3)
    assert "raised by test.raise" in job.last_error


@pytest.mark.parametrize("error", TRANSIENT)
def test_transient_error__is_retried_by_policy(error: str) -> None:
    job = attempt_once(error)
    assert (job.status, job.attempts) == (JobStatus.PENDING, 1)
    assert job.scheduled_at > job.created_at  # backoff before the next attempt


def test_service_call_error__retryable_follows_the_class() -> None:
    assert ServiceCallError("down").retryable and not ServiceRefused("no").retryable


def _subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


def test_backup_errors__permanent_means_a_permanent_job_error() -> None:
    # A new backup error marked permanent must also be one for the worker (and vice versa).
    for cls in _subclasses(BackupError):
        assert cls.permanent == issubclass(cls, PermanentJobError), cls
