"""The "Paused types" page: pause with a reason, resume, shown on the job list and dashboard."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from controlplane.models import AuditLog
from jobs.models import PausedJobType
from jobs.services import enqueue_job, job_type_pause
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
PAUSED = reverse("admin:jobs_pausedjobtype_changelist")
PAUSE = reverse("admin:jobs_pausedjobtype_pause")
JOBS = reverse("admin:jobs_job_changelist")


def login(client: Client, *perms: str) -> Client:
    client.force_login(factories.staff(username="u", perms=list(perms)))
    return client


def test_pause_view__pauses_with_a_reason_and_audits(client: Client) -> None:
    login(client, "jobs.view_job", "jobs.view_pausedjobtype", "jobs.pause_jobtype")
    form = client.get(PAUSE).content.decode()
    assert '<option value="test.echo">' in form
    done = client.post(PAUSE, {"type": "test.echo", "reason": "provider outage"}, follow=True)
    assert "Paused test.echo" in done.content.decode()
    assert PausedJobType.objects.get().reason == "provider outage"
    assert AuditLog.objects.filter(
        action="jobtype.pause", target_id="test.echo", reason="provider outage", actor_label="u"
    ).exists()
    # A paused type is no longer offered; an unregistered one is refused.
    assert '<option value="test.echo">' not in client.get(PAUSE).content.decode()
    bad = client.post(PAUSE, {"type": "no.such", "reason": ""})
    assert bad.status_code == 200 and "Select a valid choice" in bad.content.decode()


def test_resume_action__confirms_then_resumes_and_audits(client: Client) -> None:
    login(client, "jobs.view_pausedjobtype", "jobs.pause_jobtype")
    job_type_pause(type="test.echo", actor=None)
    enqueue_job(type="test.echo", payload={"value": 1})
    listing = client.get(PAUSED).content.decode()
    assert "test.echo" in listing and 'id="pause-type-button"' in listing
    data = {"action": "resume", "_selected_action": ["test.echo"], "index": 0}
    confirm = client.post(PAUSED, data).content.decode()
    assert "test.echo — 1 pending job(s) will run" in confirm
    assert PausedJobType.objects.exists()
    client.post(PAUSED, {**data, "confirm": "yes", "reason": "back"})
    assert not PausedJobType.objects.exists()
    assert AuditLog.objects.filter(action="jobtype.resume", reason="back").count() == 1


def test_paused_types__viewer_can_look_but_not_act(client: Client) -> None:
    login(client, "jobs.view_job", "jobs.view_pausedjobtype")
    job_type_pause(type="test.echo", actor=None)
    listing = client.get(PAUSED).content.decode()
    assert "test.echo" in listing
    assert 'id="pause-type-button"' not in listing and 'value="resume"' not in listing
    assert client.get(PAUSE).status_code == 403
    assert client.post(PAUSE, {"type": "test.noop"}).status_code == 403
    posted = client.post(
        PAUSED,
        {"action": "resume", "_selected_action": ["test.echo"], "confirm": "yes", "index": 0},
    )
    assert posted.status_code == 403
    assert PausedJobType.objects.filter(type="test.echo").exists()
    assert not PausedJobType.objects.filter(type="test.noop").exists()


def test_job_list_and_dashboard__show_paused_types(client: Client) -> None:
    login(client, "jobs.view_job", "jobs.view_pausedjobtype")
    assert 'id="paused-types"' not in client.get(JOBS).content.decode()
    job_type_pause(type="test.echo", actor=None)
    listing = client.get(JOBS).content.decode()
    assert 'id="paused-types"' in listing and "test.echo" in listing
    assert "Paused types (1)" in listing
    panel = client.get(reverse("admin:console_panel", args=["now"])).content.decode()
    assert 'id="paused-types"' in panel and "test.echo" in panel
