"""The job's page: buttons legal for its state and role, each through the list action's flow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from controlplane.models import AuditLog
from jobs.models import Job, JobStatus
from jobs.services import enqueue_job, job_type_pause
from jobs.worker import execute_job
from tests import factories
from tests.backups import factories as backup_factories

pytestmark = pytest.mark.django_db(transaction=True)
OPERATOR_PERMS = ["jobs.view_job", "jobs.operate_job"]


def page_url(job: Job) -> str:
    return reverse("admin:jobs_job_change", args=[job.pk])


def act_url(job: Job, action: str) -> str:
    return reverse("admin:jobs_job_act", args=[job.pk, action])


@pytest.fixture
def operator(client: Client) -> Client:
    client.force_login(factories.staff(username="op", perms=OPERATOR_PERMS))
    return client


@pytest.fixture
def viewer(client: Client) -> Client:
    client.force_login(factories.staff(username="viewer", perms=["jobs.view_job"]))
    return client


def failed_job() -> Job:
    job = enqueue_job(type="test.flaky", payload={"succeed_on": 9}, max_attempts=1)[0]
    execute_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    return job


def test_job_page__failed_job_offers_retry_and_shows_its_traceback(operator: Client) -> None:
    job = failed_job()
    page = operator.get(page_url(job)).content.decode()
    assert 'id="job-retry-button"' in page and act_url(job, "retry") in page
    assert 'id="job-cancel-button"' not in page and 'id="job-run-now-button"' not in page
    assert "<details><summary>traceback</summary>" in page and "Traceback (most recent" in page
    assert 'data-live-job="' not in page  # a finished job is not polled


def test_job_page__delayed_pending_job_offers_cancel_and_run_now(operator: Client) -> None:
    job = enqueue_job(
        type="test.echo", payload={"value": 1}, scheduled_at=timezone.now() + timedelta(hours=1)
    )[0]
    page = operator.get(page_url(job)).content.decode()
    assert 'id="job-cancel-button"' in page and 'id="job-run-now-button"' in page
    assert 'id="job-retry-button"' not in page
    assert f'data-live-job="{job.pk}"' in page and "console/live-progress.js" in page


def test_job_page__completed_job_offers_nothing(operator: Client) -> None:
    job = enqueue_job(type="test.noop", payload={})[0]
    execute_job(str(job.pk))
    page = operator.get(page_url(job)).content.decode()
    for name in ("retry", "cancel", "run-now"):
        assert f'id="job-{name}-button"' not in page


def test_job_page_retry__confirms_then_audits_and_returns_to_the_page(operator: Client) -> None:
    job = failed_job()
    confirm = operator.get(act_url(job, "retry"))
    assert confirm.status_code == 200
    text = confirm.content.decode()
    assert "<strong>1</strong> job(s)" in text and str(job.pk) in text
    assert f'href="{page_url(job)}"' in text  # "back" leads to the job's page
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED  # nothing happens before the confirmation
    done = operator.post(act_url(job, "retry"), {"confirm": "yes", "reason": "fixed upstream"})
    assert done.status_code == 302 and done["Location"] == page_url(job)
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    assert AuditLog.objects.filter(
        action="job.retry", target_id=str(job.pk), reason="fixed upstream"
    ).exists()


def test_job_page_cancel__running_job_is_asked_to_stop(operator: Client) -> None:
    job = enqueue_job(type="test.echo", payload={"value": 1})[0]
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, attempts=1, lease_expires_at=timezone.now() + timedelta(minutes=1)
    )
    assert 'id="job-cancel-button"' in operator.get(page_url(job)).content.decode()
    operator.post(act_url(job, "cancel"), {"confirm": "yes", "reason": ""})
    job.refresh_from_db()
    assert job.cancel_requested_at is not None
    assert AuditLog.objects.filter(action="job.cancel_requested", target_id=str(job.pk)).exists()
    # Asked once: the button is gone while it stops.
    assert 'id="job-cancel-button"' not in operator.get(page_url(job)).content.decode()


def test_job_page_run_now__makes_a_delayed_job_due(operator: Client) -> None:
    job = enqueue_job(
        type="test.echo", payload={"value": 1}, scheduled_at=timezone.now() + timedelta(hours=1)
    )[0]
    operator.post(act_url(job, "run_now"), {"confirm": "yes", "reason": ""})
    job.refresh_from_db()
    assert job.scheduled_at <= timezone.now()
    assert AuditLog.objects.filter(action="job.run_now", target_id=str(job.pk)).exists()


def test_job_page_action__illegal_state_says_why_and_changes_nothing(operator: Client) -> None:
    job = enqueue_job(type="test.noop", payload={})[0]
    execute_job(str(job.pk))
    text = operator.get(act_url(job, "retry")).content.decode()
    assert "None of the selected jobs" in text
    assert "1 selected job(s) are neither failed nor cancelled" in text
    operator.post(act_url(job, "retry"), {"confirm": "yes", "reason": ""})
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert not AuditLog.objects.filter(action="job.retry").exists()


def test_job_page_action__unknown_action_is_404(operator: Client) -> None:
    job = failed_job()
    assert operator.get(act_url(job, "delete")).status_code == 404


def test_job_page__viewer_sees_no_buttons_and_gets_403(viewer: Client) -> None:
    job = failed_job()
    page = viewer.get(page_url(job)).content.decode()
    assert page.count("-button") == 0
    changelist = reverse("admin:jobs_job_changelist")
    for action in ("retry", "cancel", "run_now"):
        assert viewer.get(act_url(job, action)).status_code == 403
        assert viewer.post(act_url(job, action), {"confirm": "yes"}).status_code == 403
        listed = {"action": action, "_selected_action": [job.pk], "confirm": "yes", "index": 0}
        assert viewer.post(changelist, listed).status_code == 403
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED


def test_job_page__sensitive_payload_fields_masked_for_viewers(viewer: Client) -> None:
    job = enqueue_job(type="test.sensitive", payload={"token": "tok-3141", "name": "x"})[0]
    shown = viewer.get(page_url(job)).content.decode()
    assert (
        "tok-3141" not in shown
        and "hidden: needs jobs.operate_job" in shown
        and "&quot;x&quot;" in shown
    )
    operator = Client()
    operator.force_login(factories.staff(username="op2", perms=OPERATOR_PERMS))
    assert "tok-3141" in operator.get(page_url(job)).content.decode()


def test_job_page__shows_when_its_type_is_paused(operator: Client) -> None:
    job = enqueue_job(type="test.echo", payload={"value": 1})[0]
    job_type_pause(type="test.echo", actor=None)
    assert 'id="job-type-paused"' in operator.get(page_url(job)).content.decode()


def test_job_page__links_an_export_to_the_backup_it_made(operator: Client, project: Any) -> None:
    backup = backup_factories.backup(project=project)
    job = enqueue_job(
        type="export_backup",
        payload={"project_id": project.slug, "format": "sql", "compress": False},
        project=project,
    )[0]
    link = reverse("admin:backups_backup_change", args=[backup.pk])
    assert link not in operator.get(page_url(job)).content.decode()  # nothing made yet
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.COMPLETED, result={"backup_id": str(backup.pk), "format": "sql"}
    )
    page = operator.get(page_url(job)).content.decode()
    assert 'id="job-produced-link"' in page and link in page
    assert "/download" not in page  # no download link on a job's page


def test_job_page__links_a_verification_to_its_backup(operator: Client, project: Any) -> None:
    backup = backup_factories.backup(project=project)
    job = enqueue_job(type="verify_backup", payload={"backup_id": str(backup.pk)}, project=project)[
        0
    ]
    page = operator.get(page_url(job)).content.decode()
    assert reverse("admin:backups_backup_change", args=[backup.pk]) in page


def test_job_page__pause_this_type_only_with_the_pause_permission(operator: Client) -> None:
    job = enqueue_job(type="test.echo", payload={"value": 1})[0]
    assert 'id="job-pause-type-button"' not in operator.get(page_url(job)).content.decode()
    pauser = Client()
    pauser.force_login(
        factories.staff(username="pauser", perms=[*OPERATOR_PERMS, "jobs.pause_jobtype"])
    )
    page = pauser.get(page_url(job)).content.decode()
    assert 'id="job-pause-type-button"' in page and "pause/?type=test.echo" in page
    form = pauser.get(reverse("admin:jobs_pausedjobtype_pause") + "?type=test.echo")
    assert '<option value="test.echo" selected>' in form.content.decode()
    job_type_pause(type="test.echo", actor=None)
    assert 'id="job-pause-type-button"' not in pauser.get(page_url(job)).content.decode()
