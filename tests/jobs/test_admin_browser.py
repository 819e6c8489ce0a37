"""Staff retry every failed job matching a filter, in a real browser."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.models import AuditLog
from jobs.models import Job, JobStatus
from jobs.services import enqueue_job
from jobs.worker import execute_job
from tests import factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin__retry_all_failed_jobs_in_browser(live_server: Any, page: Any) -> None:
    factories.user(username="root", password="browser-pass-123", is_staff=True, is_superuser=True)
    for _ in range(3):
        job = enqueue_job(type="test.permanent", payload={})[0]
        execute_job(str(job.pk))
    enqueue_job(type="test.echo", payload={"value": 1})[0]  # pending: not retryable

    page.goto(f"{live_server.url}/admin/login/?next=/admin/jobs/job/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "browser-pass-123")
    page.click("input[type=submit]")
    page.click("#changelist-filter a[href='?status__exact=failed']")
    page.wait_for_url("**/admin/jobs/job/?status__exact=failed")
    assert page.locator("span.job-status").count() == 3
    page.check("#action-toggle")
    page.select_option("select[name=action]", "retry")
    page.click("button[name=index]")

    page.wait_for_selector("#affected-count")
    assert "3 job(s)" in page.inner_text("#affected-count")
    page.fill("input[name=reason]", "provider recovered")
    page.click("input[name=_confirm]")
    page.wait_for_selector(".messagelist")
    assert "Queued 3 job(s) for another attempt." in page.inner_text(".messagelist")
    assert Job.objects.filter(status=JobStatus.PENDING).count() == 4
    assert AuditLog.objects.filter(action="job.retry", reason="provider recovered").count() == 3
