"""The schedules page: declared recurring jobs and backup schedules, last/next run, Run now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backups.models import BackupSchedule
from backups.schedules import (
    SCHEDULE_KEY_PREFIX,
    backup_schedule_next_run,
    backup_schedule_set,
    schedule_idempotency_key,
)
from backups.services import EXPORT_JOB
from controlplane.models import AuditLog, ProjectStatus
from controlplane.services import project_suspend
from jobs.models import Job, JobStatus
from jobs.scheduling import declared_schedules, schedules_next_run, schedules_sync
from tests import factories
from tests.console.conftest import ended_job

pytestmark = pytest.mark.django_db

PAGE = reverse("admin:console_schedules")
VIEW = ("jobs.view_job", "backups.view_backupschedule")
PRUNE = "jobs.prune"


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def run_url(name: str) -> str:
    return reverse("admin:console_schedule_run", args=[name])


def backup_run_url(schedule: BackupSchedule) -> str:
    return reverse("admin:console_backup_schedule_run", args=[schedule.pk])


def test_schedules_page__lists_every_declared_schedule_with_last_and_next_run() -> None:
    schedules_sync()  # what a starting qcluster does: the engine's rows get a next_run
    last = ended_job(
        type=PRUNE,
        status=JobStatus.FAILED,
        completed_at=datetime.now(UTC) - timedelta(hours=2),
        exclusive_key=PRUNE,
        last_error="disk full",
    )
    ended_job(type=PRUNE, completed_at=datetime.now(UTC) - timedelta(days=3), exclusive_key=PRUNE)
    response = login(factories.staff(perms=VIEW)).get(PAGE)

    assert response.status_code == 200
    body = response.content.decode()
    for name in declared_schedules():
        assert f'data-schedule="{name}"' in body
    row = body.split(f'data-schedule="{PRUNE}"')[1].split("</tr>")[0]
    assert reverse("admin:jobs_job_change", args=[last.pk]) in row
    assert "Failed" in row and "disk full" in row
    next_run = schedules_next_run()[PRUNE]
    assert next_run is not None and next_run.isoformat() in row.split('class="next-run')[1]
    assert "run-now" not in body  # a viewer sees no buttons


def test_schedules_page__unsynced_schedule_says_when_it_starts() -> None:
    body = login(factories.staff(perms=VIEW)).get(PAGE).content.decode()
    row = body.split(f'data-schedule="{PRUNE}"')[1].split("</tr>")[0]
    assert "never" in row and "when a qcluster starts" in row


def test_schedules_page__needs_view_job() -> None:
    assert (
        login(factories.staff(perms=["backups.view_backupschedule"])).get(PAGE).status_code == 403
    )


def test_schedule_run__creates_a_job_with_the_exclusive_key_and_audits() -> None:
    operator = factories.staff(perms=[*VIEW, "jobs.operate_job"])
    client = login(operator)
    assert "run-now" in client.get(PAGE).content.decode()

    response = client.post(run_url(PRUNE), follow=True)

    job = Job.objects.get(type=PRUNE)
    assert job.exclusive_key == PRUNE and job.status == JobStatus.PENDING
    assert "started job" in response.content.decode()
    audit = AuditLog.objects.get(action="schedule.run_now")
    assert (audit.actor_id, audit.target_type, audit.target_id) == (operator.pk, "schedule", PRUNE)
    assert audit.details == {"job_id": str(job.pk), "created": True}


def test_schedule_run__an_active_run_is_not_doubled() -> None:
    client = login(factories.staff(perms=[*VIEW, "jobs.operate_job"]))
    client.post(run_url(PRUNE))
    response = client.post(run_url(PRUNE), follow=True)
    assert Job.objects.filter(type=PRUNE).count() == 1
    assert "already active" in response.content.decode()
    assert AuditLog.objects.filter(action="schedule.run_now").first().details["created"] is False


def test_schedule_run__unknown_schedule_is_refused() -> None:
    client = login(factories.staff(perms=[*VIEW, "jobs.operate_job"]))
    response = client.post(run_url("no.such"), follow=True)
    assert "No declared schedule" in response.content.decode()
    assert not Job.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_schedule_run__viewer_gets_403(method: str) -> None:
    client = login(factories.staff(perms=VIEW))
    assert getattr(client, method)(run_url(PRUNE)).status_code == 403
    assert not Job.objects.exists()


def test_schedule_run__get_is_not_allowed_for_an_operator() -> None:
    client = login(factories.staff(perms=[*VIEW, "jobs.operate_job"]))
    assert client.get(run_url(PRUNE)).status_code == 405
    assert not Job.objects.exists()


def _backup_schedule(slug: str, *, hour: int = 3) -> BackupSchedule:
    project = factories.project(slug=slug)
    return backup_schedule_set(project=project, hour=hour, actor=None)


def test_backup_schedules__show_last_scheduled_run_and_warn_when_suspended() -> None:
    shop = _backup_schedule("acme-shop")
    idle = _backup_schedule("initech")
    project_suspend(project_ids=[idle.project_id], actor=None, reason="unpaid")
    scheduled = ended_job(
        type=EXPORT_JOB,
        completed_at=datetime.now(UTC) - timedelta(hours=1),
        project=shop.project,
        idempotency_key=schedule_idempotency_key(datetime.now(UTC) - timedelta(days=1)),
    )
    # An export asked for through the API is not the schedule's run.
    ended_job(type=EXPORT_JOB, completed_at=datetime.now(UTC), project=shop.project)
    client = login(factories.staff(perms=[*VIEW, "backups.request_export"]))

    body = client.get(PAGE).content.decode()

    shop_row = body.split('data-project="acme-shop"')[1].split("</tr>")[0]
    assert reverse("admin:jobs_job_change", args=[scheduled.pk]) in shop_row
    assert "Completed" in shop_row and "run-now" in shop_row and "suspended" not in shop_row
    idle_row = body.split('data-project="initech"')[1].split("</tr>")[0]
    assert "project suspended" in idle_row and "run-now" not in idle_row
    assert "never" in idle_row


def test_backup_schedules__hidden_without_their_view_permission() -> None:
    _backup_schedule("acme-shop")
    body = login(factories.staff(perms=["jobs.view_job"])).get(PAGE).content.decode()
    assert 'id="backup-schedules"' not in body and "acme-shop" not in body


def test_backup_schedule_run__enqueues_the_scheduled_export_and_audits() -> None:
    schedule = _backup_schedule("acme-shop")
    operator = factories.staff(perms=[*VIEW, "backups.request_export"])
    response = login(operator).post(backup_run_url(schedule), follow=True)

    job = Job.objects.get(type=EXPORT_JOB)
    assert job.project_id == schedule.project_id
    assert job.payload["project_id"] == "acme-shop" and job.payload["format"] == schedule.format
    assert job.idempotency_key.startswith(SCHEDULE_KEY_PREFIX)
    assert job.exclusive_key is not None
    assert "started job" in response.content.decode()
    audit = AuditLog.objects.get(action="backup_schedule.run_now")
    assert audit.actor_id == operator.pk and audit.details["job_id"] == str(job.pk)
    # It is the schedule's last run now.
    body = response.content.decode().split('data-project="acme-shop"')[1].split("</tr>")[0]
    assert reverse("admin:jobs_job_change", args=[job.pk]) in body


def test_backup_schedule_run__suspended_project_is_refused() -> None:
    schedule = _backup_schedule("acme-shop")
    project_suspend(project_ids=[schedule.project_id], actor=None, reason="unpaid")
    client = login(factories.staff(perms=[*VIEW, "backups.request_export"]))
    response = client.post(backup_run_url(schedule), follow=True)
    assert "Not run" in response.content.decode() and "suspended" in response.content.decode()
    assert not Job.objects.exists()
    assert not AuditLog.objects.filter(action="backup_schedule.run_now").exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_backup_schedule_run__viewer_gets_403(method: str) -> None:
    schedule = _backup_schedule("acme-shop")
    client = login(factories.staff(perms=[*VIEW, "jobs.operate_job"]))
    assert getattr(client, method)(backup_run_url(schedule)).status_code == 403
    assert not Job.objects.exists()


def _schedule(hour: int, *, enabled: bool = True, status: str = ProjectStatus.ACTIVE) -> Any:
    project = factories.project(status=ProjectStatus(status))
    return BackupSchedule(project=project, hour=hour, enabled=enabled)


def test_backup_schedule_next_run__later_today_tomorrow_or_now() -> None:
    now = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
    later = backup_schedule_next_run(_schedule(14), last_key=None, now=now)
    assert later == datetime(2026, 5, 4, 14, tzinfo=UTC)
    earlier = backup_schedule_next_run(_schedule(9), last_key=None, now=now)
    assert earlier == datetime(2026, 5, 5, 9, tzinfo=UTC)
    # Its hour, not yet run: due now; already run this hour: tomorrow.
    due = _schedule(10)
    assert backup_schedule_next_run(due, last_key=None, now=now) == datetime(
        2026, 5, 4, 10, tzinfo=UTC
    )
    ran = schedule_idempotency_key(now)
    assert backup_schedule_next_run(due, last_key=ran, now=now) == datetime(
        2026, 5, 5, 10, tzinfo=UTC
    )


def test_backup_schedule_next_run__none_when_disabled_or_project_suspended() -> None:
    now = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
    assert backup_schedule_next_run(_schedule(14, enabled=False), last_key=None, now=now) is None
    suspended = _schedule(14, status=ProjectStatus.SUSPENDED)
    assert backup_schedule_next_run(suspended, last_key=None, now=now) is None


def test_app_list__links_the_console_pages_by_permission() -> None:
    viewer_body = login(factories.staff(perms=VIEW)).get(reverse("admin:index")).content.decode()
    assert PAGE in viewer_body and reverse("admin:console_run_job") not in viewer_body
    runner = factories.staff(perms=[*VIEW, "jobs.run_job"])
    body = login(runner).get(reverse("admin:index")).content.decode()
    assert PAGE in body and reverse("admin:console_run_job") in body


def test_schedules_page__queries_do_not_grow_with_backup_schedules() -> None:
    client = login(factories.staff(perms=[*VIEW, "backups.request_export"]))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(PAGE).status_code == 200
        return len(captured)

    _backup_schedule("acme-shop")
    few = queries()
    for slug in ("bravo-co", "charlie-co", "delta-co", "echo-co"):
        _backup_schedule(slug)
    assert queries() == few
