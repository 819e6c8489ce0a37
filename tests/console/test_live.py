"""Live refresh pieces: the job-progress endpoint, the job list's include, housekeeping filter."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from jobs.models import JobStatus
from jobs.services import enqueue_job
from jobs.worker import execute_job
from tests import factories
from tests.console.conftest import running_job

pytestmark = pytest.mark.django_db(transaction=True)


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_job_progress__reports_status_and_progress_of_running_jobs(viewer_user: Any) -> None:
    running = running_job(progress={"phase": "dumping", "bytes": 10, "percent": 12.5})
    pending, _ = enqueue_job(type="test.echo", payload={"value": 1})
    url = reverse("admin:console_job_progress")
    response = login(viewer_user).get(
        url, {"id": [str(running.pk), str(pending.pk), str(uuid.uuid4())]}
    )
    assert response.status_code == 200
    jobs = response.json()["jobs"]
    assert jobs == {
        str(running.pk): {
            "status": "running",
            "label": "Running",
            "progress": {"phase": "dumping", "bytes": 10, "percent": 12.5},
            "cancelling": False,
        },
        str(pending.pk): {
            "status": "pending",
            "label": "Pending",
            "progress": None,
            "cancelling": False,
        },
    }


def test_job_progress__rejects_a_malformed_id(viewer_user: Any) -> None:
    response = login(viewer_user).get(reverse("admin:console_job_progress"), {"id": "nope"})
    assert response.status_code == 400 and "Not a job id" in response.json()["error"]


def test_job_progress__needs_the_job_view_permission(db: None) -> None:
    response = login(factories.staff(username="plain")).get(reverse("admin:console_job_progress"))
    assert response.status_code == 403


def test_job_list__includes_the_live_progress_script(viewer_user: Any) -> None:
    body = login(viewer_user).get(reverse("admin:jobs_job_changelist")).content.decode()
    assert 'src="/static/console/live-progress.js"' in body
    assert f'data-url="{reverse("admin:console_job_progress")}"' in body


def test_job_list__housekeeping_filter_hides_housekeeping_runs(viewer_user: Any) -> None:
    for type in ("test.upkeep", "test.doomed"):
        execute_job(str(enqueue_job(type=type, payload={})[0].pk))
    client = login(viewer_user)
    url = reverse("admin:jobs_job_changelist")
    hidden = client.get(url, {"status__exact": JobStatus.FAILED, "housekeeping": "hide"})
    assert [j.type for j in hidden.context["cl"].result_list] == ["test.doomed"]
    only = client.get(url, {"housekeeping": "only"})
    assert [j.type for j in only.context["cl"].result_list] == ["test.upkeep"]
    assert "Hide housekeeping" in client.get(url).content.decode()
