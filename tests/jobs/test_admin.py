"""Jobs admin: read-only records, status filters, confirmed actions, no full COUNT(*)."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from controlplane.models import AuditLog
from jobs.models import Job, JobStatus
from jobs.services import JobSpec, enqueue_job, enqueue_jobs_bulk
from jobs.worker import execute_job
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = reverse("admin:jobs_job_changelist")


@pytest.fixture
def root_client(client: Client) -> Client:
    client.force_login(factories.user(username="root", is_staff=True, is_superuser=True))
    return client


def failed_jobs(n: int) -> list[Job]:
    jobs = [enqueue_job(type="test.permanent", payload={})[0] for _ in range(n)]
    for job in jobs:
        execute_job(str(job.pk))
    return jobs


def test_changelist__query_count_does_not_grow_with_rows(root_client: Client, project: Any) -> None:
    enqueue_jobs_bulk(jobs=[JobSpec(type="test.echo", payload={"value": 1}, project=project)] * 3)
    with CaptureQueriesContext(connection) as few:
        assert root_client.get(CHANGELIST).status_code == 200
    enqueue_jobs_bulk(jobs=[JobSpec(type="test.echo", payload={"value": 1}, project=project)] * 40)
    with CaptureQueriesContext(connection) as many:
        page = root_client.get(CHANGELIST)
    assert page.status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)
    counts = [
        q["sql"] for q in many.captured_queries if "COUNT(" in q["sql"] and "jobs_job" in q["sql"]
    ]
    assert counts and all("LIMIT" in sql for sql in counts), counts


def test_changelist__filters_and_search(root_client: Client, project: Any) -> None:
    failed = failed_jobs(1)[0]
    enqueue_job(type="test.echo", payload={"value": 1}, project=project)[0]
    by_status = root_client.get(CHANGELIST + "?status__exact=failed")
    assert str(failed.pk)[:8] in by_status.content.decode()
    assert by_status.content.decode().count('class="job-status"') == 1
    by_type = root_client.get(CHANGELIST + "?type=test.echo")
    assert by_type.content.decode().count('class="job-status"') == 1
    by_slug = root_client.get(CHANGELIST + f"?q={project.slug}")
    assert by_slug.content.decode().count('class="job-status"') == 1
    by_id = root_client.get(CHANGELIST + f"?q={failed.pk}")
    assert str(failed.pk)[:8] in by_id.content.decode()


def test_detail__pretty_json_and_attempts_read_only(root_client: Client) -> None:
    job = enqueue_job(type="test.flaky", payload={"succeed_on": 5})[0]
    execute_job(str(job.pk))
    page = root_client.get(reverse("admin:jobs_job_change", args=[job.pk])).content.decode()
    assert "&quot;succeed_on&quot;: 5" in page
    assert "transient failure on attempt 1" in page
    assert 'name="_save"' not in page
    assert root_client.post(reverse("admin:jobs_job_change", args=[job.pk]), {}).status_code == 403


def test_retry_action__confirmation_then_audited(root_client: Client) -> None:
    jobs = failed_jobs(2)
    data = {"action": "retry", "_selected_action": [j.pk for j in jobs], "index": 0}
    page = root_client.post(CHANGELIST, data)
    assert "<strong>2</strong> job(s)" in page.content.decode()
    assert Job.objects.filter(status=JobStatus.FAILED).count() == 2
    done = root_client.post(
        CHANGELIST, {**data, "confirm": "yes", "reason": "upstream fixed"}, follow=True
    )
    assert "Queued 2 job(s) for another attempt." in done.content.decode()
    assert Job.objects.filter(status=JobStatus.PENDING).count() == 2
    assert AuditLog.objects.filter(action="job.retry", reason="upstream fixed").count() == 2


def test_cancel_action__everything_matching_the_filter(root_client: Client) -> None:
    pending = [enqueue_job(type="test.echo", payload={"value": i})[0] for i in range(5)]
    failed_jobs(1)
    url = CHANGELIST + "?status__exact=pending"
    data = {
        "action": "cancel",
        "_selected_action": [pending[0].pk],
        "select_across": "1",
        "index": 0,
    }
    page = root_client.post(url, data)
    assert "<strong>5</strong> job(s)" in page.content.decode()
    assert "everything matching the current filter" in page.content.decode()
    root_client.post(url, {**data, "confirm": "yes", "reason": ""}, follow=True)
    assert Job.objects.filter(status=JobStatus.CANCELLED).count() == 5
    assert Job.objects.filter(status=JobStatus.FAILED).count() == 1
    assert AuditLog.objects.filter(action="job.cancel").count() == 5


def test_actions__hidden_without_the_operate_permission(client: Client) -> None:
    viewer = factories.user(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(viewer)
    failed = failed_jobs(1)[0]
    page = client.get(CHANGELIST).content.decode()
    assert 'value="retry"' not in page
    client.post(CHANGELIST, {"action": "retry", "_selected_action": [failed.pk], "confirm": "yes"})
    failed.refresh_from_db()
    assert failed.status == JobStatus.FAILED


def test_jobs_status_command__counts_and_running(project: Any) -> None:
    failed_jobs(2)
    enqueue_job(type="test.echo", payload={"value": 1})[0]
    out = StringIO()
    call_command("jobs_status", stdout=out)
    text = out.getvalue()
    assert "failed=2" in text and "pending=1" in text
    assert "test.permanent" in text
    assert (
        "Oldest due pending job:" in text
        and "none" not in text.split("Oldest due pending job:")[1].split("\n")[0]
    )
