"""Daily retention and per-project scheduled exports through django-q2's scheduler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backups.models import BackupSchedule
from backups.schedules import backup_schedule_set, backup_schedules_run
from backups.services import backup_request
from controlplane.models import AuditLog
from controlplane.services import project_suspend
from jobs import engine
from jobs.models import Job, JobStatus
from jobs.registry import housekeeping_types
from jobs.scheduling import schedule_fire, schedules_sync
from jobs.worker import execute_job
from tests import factories

pytestmark = pytest.mark.django_db
TEN_PAST_TEN = datetime(2030, 3, 4, 10, 10, tzinfo=UTC)


def exports() -> list[Job]:
    return list(Job.objects.filter(type="export_backup").order_by("created_at"))


def finish_all() -> None:
    Job.objects.update(status=JobStatus.COMPLETED, completed_at=timezone.now())


@pytest.mark.django_db(transaction=True)
def test_schedules__synced_and_each_run_is_a_housekeeping_job() -> None:
    schedules_sync()
    schedules_sync()
    rows = engine.schedule_rows()
    assert rows["backups.retention"] == (engine.FIRE_FUNC, "'backups.retention'", 24 * 60)
    assert rows["backups.scheduled_exports"][2] == 10
    assert {"backups.retention", "backups.scheduled_exports"} <= set(housekeeping_types())
    for name in ("backups.retention", "backups.scheduled_exports"):
        job_id = schedule_fire(name)
        assert job_id is not None
        execute_job(str(job_id))
        job = Job.objects.get(pk=job_id)
        assert (job.type, job.status, job.exclusive_key) == (name, JobStatus.COMPLETED, name)
        assert job.attempts == 1 and job.result in ({"deleted": 0}, {"enqueued": 0})


def test_backup_schedules_run__enqueues_due_schedules_once_per_hour() -> None:
    due = factories.project(slug="due-co")
    tar = factories.project(slug="tar-co")
    later = factories.project(slug="later-co")
    off = factories.project(slug="off-co")
    for project, hour, fmt, enabled in [
        (due, 10, "sql", True),
        (tar, 10, "tar", True),
        (later, 11, "sql", True),
        (off, 10, "sql", False),
    ]:
        backup_schedule_set(project=project, hour=hour, format=fmt, enabled=enabled, actor=None)

    assert backup_schedules_run(now=TEN_PAST_TEN) == 2

    jobs = {j.project.slug: j for j in exports()}
    assert set(jobs) == {"due-co", "tar-co"}
    assert jobs["tar-co"].payload == {
        "project_id": "tar-co",
        "format": "tar",
        "compress": True,
        "compression": "gzip",
    }
    assert jobs["due-co"].idempotency_key == "schedule:2030-03-04T10"
    # Later in the same hour, before and after the exports finished: nothing doubles.
    assert backup_schedules_run(now=TEN_PAST_TEN + timedelta(minutes=20)) == 0
    finish_all()
    assert backup_schedules_run(now=TEN_PAST_TEN + timedelta(minutes=45)) == 0
    assert len(exports()) == 2
    # The next hour is another schedule's; the next day the same ones run again.
    assert backup_schedules_run(now=TEN_PAST_TEN + timedelta(hours=1)) == 1
    assert backup_schedules_run(now=TEN_PAST_TEN + timedelta(days=1)) == 2
    assert len(exports()) == 5


def test_backup_schedules_run__skips_suspended_projects() -> None:
    project = factories.project(slug="due-co")
    backup_schedule_set(project=project, hour=10, actor=None)
    project_suspend(project_ids=[project.pk], actor=None, reason="unpaid")
    assert backup_schedules_run(now=TEN_PAST_TEN) == 0
    assert exports() == []


def test_backup_schedules_run__waits_for_an_active_export() -> None:
    project = factories.project(slug="due-co")
    backup_schedule_set(project=project, hour=10, actor=None)
    manual = backup_request(project_slug="due-co")

    assert backup_schedules_run(now=TEN_PAST_TEN) == 0
    assert exports() == [manual]

    finish_all()
    assert backup_schedules_run(now=TEN_PAST_TEN + timedelta(minutes=10)) == 1
    assert len(exports()) == 2


def test_backup_schedule_set__one_per_project_and_audited() -> None:
    project = factories.project(slug="due-co")
    backup_schedule_set(project=project, hour=3, actor=None)
    backup_schedule_set(project=project, hour=4, format="tar", compress=False, actor=None)
    schedule = BackupSchedule.objects.get()
    assert (schedule.hour, schedule.format, schedule.compress) == (4, "tar", False)
    assert AuditLog.objects.filter(action="backup_schedule.set").count() == 2
    with pytest.raises(ValueError, match="hour"):
        backup_schedule_set(project=project, hour=24, actor=None)


@pytest.fixture
def root_client(client: Client) -> Client:
    client.force_login(factories.user(username="root", is_staff=True, is_superuser=True))
    return client


def test_schedule_admin__add_change_toggle_delete(root_client: Client) -> None:
    project = factories.project(slug="due-co")
    changelist = reverse("admin:backups_backupschedule_changelist")
    added = root_client.post(
        reverse("admin:backups_backupschedule_add"),
        {"project": project.pk, "hour": 5, "format": "tar", "compress": "on", "enabled": "on"},
    )
    assert added.status_code == 302
    schedule = BackupSchedule.objects.get()
    assert (schedule.hour, schedule.format, schedule.enabled) == (5, "tar", True)
    assert AuditLog.objects.get(action="backup_schedule.set").actor_label == "root"

    invalid = root_client.post(
        reverse("admin:backups_backupschedule_change", args=[schedule.pk]),
        {"hour": 25, "format": "sql"},
    )
    assert invalid.status_code == 200 and BackupSchedule.objects.get().hour == 5

    page = root_client.get(changelist).content.decode()
    assert "05:00" in page and f"?project__id__exact={project.pk}" in page
    data = {"action": "disable_schedules", "_selected_action": [schedule.pk]}
    assert b"Disabled 1 schedule(s)." in root_client.post(changelist, data, follow=True).content
    assert not BackupSchedule.objects.get().enabled
    data = {"action": "delete_schedules", "_selected_action": [schedule.pk]}
    assert b"Deleted 1 schedule(s)." in root_client.post(changelist, data, follow=True).content
    assert not BackupSchedule.objects.exists()
    assert AuditLog.objects.filter(action="backup_schedule.delete").exists()


def test_schedule_model__hour_checked_by_the_database() -> None:
    from django.db import IntegrityError, transaction

    project = factories.project(slug="due-co")
    with pytest.raises(IntegrityError), transaction.atomic():
        BackupSchedule.objects.create(project=project, hour=24)
    assert not BackupSchedule.objects.exists()


def test_schedule_admin__delete_view_goes_through_the_service(root_client: Client) -> None:
    schedule = backup_schedule_set(project=factories.project(slug="due-co"), hour=1, actor=None)
    url = reverse("admin:backups_backupschedule_delete", args=[schedule.pk])
    assert root_client.post(url, {"post": "yes"}).status_code == 302
    assert not BackupSchedule.objects.exists()
    assert AuditLog.objects.get(action="backup_schedule.delete").actor_label == "root"
