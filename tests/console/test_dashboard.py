"""The admin index is the dashboard: panels, permissions, internals hidden, query count."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from console.services import metrics_rollup
from controlplane.models import ProjectStatus
from controlplane.services import audit_log_record
from jobs.models import Job, JobStatus
from jobs.services import enqueue_job
from jobs.worker import execute_job
from tests import factories
from tests.console.conftest import ended_job, running_job

pytestmark = pytest.mark.django_db(transaction=True)


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def failed_job(type: str = "test.doomed", **kw: Any) -> Any:
    job, _ = enqueue_job(type=type, payload={}, **kw)
    execute_job(str(job.pk))
    return job


def test_index__shows_dashboard_panels(viewer_user: Any) -> None:
    project = factories.project(slug="acme-shop")
    factories.project(slug="initech", status=ProjectStatus.SUSPENDED)
    enqueue_job(type="test.echo", payload={"value": 1})
    enqueue_job(
        type="test.echo", payload={"value": 2}, scheduled_at=timezone.now() + timedelta(hours=1)
    )
    flaky, _ = enqueue_job(type="test.flaky", payload={"succeed_on": 3})
    execute_job(str(flaky.pk))  # attempt 1 fails: pending again, due after a backoff...
    later = timezone.now() + timedelta(hours=1)
    Job.objects.filter(pk=flaky.pk).update(scheduled_at=later)  # ...kept long for the test
    doomed = failed_job(project=project)
    running_job(progress={"phase": "dumping", "bytes": 5 * 1_048_576, "percent": 42.0})
    audit_log_record(actor=None, action="project.suspend", target_type="project", target_id="7")

    response = login(viewer_user).get(reverse("admin:index"))

    assert response.status_code == 200
    body = response.content.decode()
    assert response.context["counts"]["totals"]["pending"] == 3
    assert response.context["counts"]["totals"]["due"] == 1
    assert response.context["counts"]["totals"]["retrying"] == 1  # the flaky one, backing off
    assert 'id="panel-running"' in body and "dumping · 42%" in body and "5.0\xa0MB" in body
    assert 'aria-valuenow="42"' in body
    assert str(doomed.pk)[:8] in body and "the provider said no" in body
    assert reverse("admin:jobs_job_change", args=[doomed.pk]) in body
    assert "project.suspend" in body  # recent actions come from the AuditLog
    assert response.context["projects"]["counts"][ProjectStatus.SUSPENDED] == 1
    assert "No live qcluster" in body
    assert 'src="/static/console/htmx-2.0.7.min.js"' in body
    assert "View site" not in body  # nothing is served at "/"


def test_index__staff_without_job_view_sees_only_the_app_list(db: None) -> None:
    response = login(factories.staff(username="plain")).get(reverse("admin:index"))
    assert response.status_code == 200
    assert response.context["dashboard"] is False
    assert 'id="panel-now"' not in response.content.decode()


def test_app_list__hides_django_q_from_staff(viewer_user: Any) -> None:
    response = login(viewer_user).get(reverse("admin:index"))
    labels = [app["app_label"] for app in response.context["app_list"]]
    assert "jobs" in labels and "django_q" not in labels
    # The app page is gone too, though the permission to view its tasks is held.
    assert login(viewer_user).get("/admin/django_q/").status_code == 404


def test_app_list__shows_django_q_to_superusers_as_internals(db: None) -> None:
    root = factories.user(username="root", is_staff=True, is_superuser=True)
    response = login(root).get(reverse("admin:index"))
    apps = response.context["app_list"]
    assert apps[-1]["app_label"] == "django_q"
    assert "internals" in apps[-1]["name"]
    assert "Task queue internals" in response.content.decode()


def test_panel__renders_one_fragment(viewer_user: Any) -> None:
    failed_job()
    response = login(viewer_user).get(reverse("admin:console_panel", args=["failures"]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "the provider said no" in body and "<html" not in body


def test_panel__needs_the_job_view_permission(db: None) -> None:
    client = login(factories.staff(username="plain"))
    assert client.get(reverse("admin:console_panel", args=["now"])).status_code == 403
    assert Client().get(reverse("admin:console_panel", args=["now"])).status_code == 302


def test_panel__unknown_name_is_404(viewer_user: Any) -> None:
    assert login(viewer_user).get("/admin/console/panel/nope/").status_code == 404


def test_housekeeping_toggle__hides_housekeeping_failures(viewer_user: Any) -> None:
    failed_job("test.upkeep")
    failed_job("test.doomed")
    client = login(viewer_user)
    url = reverse("admin:console_panel", args=["failures"])
    shown = client.get(url).content.decode()
    assert "upkeep broke" in shown and "housekeeping</span>" in shown

    response = client.post(reverse("admin:console_housekeeping"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    hidden = response.content.decode()
    assert "upkeep broke" not in hidden and "the provider said no" in hidden
    assert "Show housekeeping" in hidden
    assert "upkeep broke" not in client.get(url).content.decode()  # kept in the session

    client.post(reverse("admin:console_housekeeping"))
    assert "upkeep broke" in client.get(url).content.decode()


def test_housekeeping_toggle__rejects_get(viewer_user: Any) -> None:
    assert login(viewer_user).get(reverse("admin:console_housekeeping")).status_code == 405


def test_charts_panel__draws_rolled_up_jobs(viewer_user: Any) -> None:
    # All in the previous minute, so one minute bar and one hour bar hold all three.
    anchor = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=1)
    for i in range(3):
        ended_job(type="test.echo", completed_at=anchor + timedelta(seconds=i + 1), seconds=0.3)
    ended_job(type="test.doomed", status=JobStatus.FAILED, completed_at=anchor - timedelta(hours=3))
    metrics_rollup()
    response = login(viewer_user).get(reverse("admin:console_panel", args=["charts"]))
    body = response.content.decode()
    assert body.count("<svg") == 7
    assert body.count("test.echo: 3</title>") == 2  # the minute's bar and the hour's bar
    assert body.count("test.doomed: 1</title>") == 1  # its hour's bar (not in the last hour)
    assert "test.echo p50:" in body and "test.doomed p50" not in body


def test_index__query_count_is_pinned(viewer_user: Any, django_assert_num_queries: Any) -> None:
    project = factories.project(slug="acme-shop")
    for _ in range(3):
        failed_job(project=project)
        running_job(progress={"phase": "x", "bytes": 1, "percent": 10})
    metrics_rollup()
    client = login(viewer_user)
    client.get(reverse("admin:index"))  # warm: sessions, content types
    # Session, user, 2 permission reads, 16 panel reads (one more per live cluster).
    with django_assert_num_queries(20):
        assert client.get(reverse("admin:index")).status_code == 200


@pytest.mark.parametrize(
    ("panel", "queries"),
    # Each: session, user, 2 permission reads, then the panel's own reads.
    [("now", 9), ("running", 5), ("failures", 5), ("clusters", 5), ("activity", 5), ("charts", 11)],
)
def test_panel__query_count_is_pinned(
    viewer_user: Any, django_assert_num_queries: Any, panel: str, queries: int
) -> None:
    failed_job()
    running_job(progress={"phase": "x", "bytes": 1, "percent": 10})
    metrics_rollup()
    client = login(viewer_user)
    url = reverse("admin:console_panel", args=[panel])
    client.get(url)
    with django_assert_num_queries(queries):
        assert client.get(url).status_code == 200
