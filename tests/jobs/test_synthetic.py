"""`manage.py seed_synthetic`: every status, honest timing, and nothing that a cluster would run."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Max, Min
from django.utils import timezone

from backfill.models import BackfillLog
from backups.models import Backup
from controlplane.models import Project
from jobs.execution import jobs_rescue_lost, jobs_take_due
from jobs.models import AttemptOutcome, Job, JobAttempt, JobStatus
from jobs.registry import retry_delay

pytestmark = pytest.mark.django_db


def seed(jobs: int = 3000, projects: int = 30) -> str:
    out = StringIO()
    call_command("seed_synthetic", jobs=jobs, projects=projects, stdout=out)
    return out.getvalue()


def test_seed_synthetic__every_status_over_thirty_days_dense_last_day() -> None:
    output = seed()

    assert Job.objects.count() == 3000
    assert Project.objects.filter(slug__startswith="synth-").count() == 30
    by_status = dict(Job.objects.values_list("status").annotate(n=Count("id")))
    assert set(by_status) == set(JobStatus.values)
    assert by_status[JobStatus.COMPLETED] > by_status[JobStatus.FAILED] > 0
    now = timezone.now()
    span = Job.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    assert now - timedelta(days=31) < span["first"] < now - timedelta(days=28)
    finished = Job.objects.filter(completed_at__isnull=False)
    last_day = finished.filter(completed_at__gte=now - timedelta(days=1)).count()
    assert last_day > finished.count() * 0.3  # the last 24 h are dense (a tenth of the span)
    assert finished.filter(completed_at__gte=now - timedelta(hours=1)).count() > 10
    assert not Job.objects.filter(completed_at__gt=now).exists()
    assert not Job.objects.filter(completed_at__lt=F("created_at")).exists()
    assert not Job.objects.filter(started_at__lt=F("created_at")).exists()
    assert "Job with 25 attempts" in output


def test_seed_synthetic__failed_jobs_have_every_attempt_and_one_has_25() -> None:
    seed()

    failed = Job.objects.filter(status=JobStatus.FAILED)
    assert not failed.exclude(attempts=F("max_attempts")).exists()
    assert not failed.filter(last_error="").exists()
    counted = failed.annotate(n=Count("attempt_set")).exclude(n=F("attempts"))
    assert not counted.exists()
    assert not JobAttempt.objects.filter(
        job__status=JobStatus.FAILED, outcome=AttemptOutcome.COMPLETED
    ).exists()
    # What a job says matches what it is: finished jobs keep no worker, successes no error.
    assert not Job.objects.filter(status=JobStatus.COMPLETED).exclude(last_error="").exists()
    assert not Job.objects.exclude(status=JobStatus.RUNNING).exclude(worker="").exists()
    assert not failed.filter(type="backfill_month", last_error__contains="pg_dump").exists()
    many = Job.objects.get(attempts=25)
    assert many.status == JobStatus.FAILED
    assert list(many.attempt_set.values_list("number", flat=True)) == list(range(1, 26))
    # Attempts run in order and inside the job's life.
    assert not JobAttempt.objects.filter(finished_at__lt=F("started_at")).exists()
    assert not JobAttempt.objects.filter(started_at__lt=F("job__created_at")).exists()


def test_seed_synthetic__a_cluster_never_runs_or_rescues_seeded_jobs() -> None:
    seed()

    assert Job.objects.filter(status=JobStatus.PENDING).exists()
    assert Job.objects.filter(status=JobStatus.RUNNING).exists()
    assert jobs_take_due() == []
    assert jobs_rescue_lost(retry_delay=retry_delay) == 0
    assert Job.objects.filter(status=JobStatus.RUNNING).count() >= 1


def test_seed_synthetic__backups_backfill_and_a_second_run_adds_jobs_only() -> None:
    seed(jobs=1000, projects=10)

    exports = Job.objects.filter(type="export_backup", status=JobStatus.COMPLETED)
    assert Backup.objects.count() == exports.exclude(project=None).count() > 0
    assert BackfillLog.objects.count() == 300
    assert BackfillLog.objects.filter(status="completed").count() > 100

    seed(jobs=500, projects=10)

    assert Job.objects.count() == 1500
    assert Project.objects.filter(slug__startswith="synth-").count() == 10
    assert Backup.objects.count() == exports.exclude(project=None).count()
    assert BackfillLog.objects.count() == 300


def test_seed_synthetic__rejects_zero_jobs() -> None:
    with pytest.raises(CommandError, match="at least 1"):
        seed(jobs=0)
