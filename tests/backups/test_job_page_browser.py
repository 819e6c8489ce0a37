"""Cancel a running export from its job page, in a real browser with a real qcluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backups.services import backup_request
from jobs.models import Job, JobAttempt, JobStatus
from tests import factories
from tests.jobs.conftest import qcluster, wait_until  # noqa: F401 (the fixture)
from tests.jobs.test_job_page_browser import PASSWORD, shot, wide  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_job_page_browser__cancel_a_running_export(
    live_server: Any,
    wide: Any,  # noqa: F811
    qcluster: Any,  # noqa: F811
    locked_tenant: Any,
    backup_store: Path,
) -> None:
    page = wide
    qcluster(workers=1, BACKUPS_ROOT=str(backup_store))
    job = backup_request(project_slug="acme-shop", format="tar")  # pg_dump waits on the lock
    wait_until(lambda: Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).exists())
    factories.staff(username="op", password=PASSWORD, perms=["jobs.view_job", "jobs.operate_job"])
    page.goto(f"{live_server.url}/admin/login/?next=/admin/jobs/job/{job.pk}/change/")
    page.fill("#id_username", "op")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#job-live .job-status:has-text('Running')")
    page.wait_for_selector("#job-live .console-bar")  # the live progress bar
    shot(page, "export-running")
    page.click("#job-cancel-button")
    page.fill("input[name=reason]", "wrong project")
    page.click("input[name=_confirm]")
    assert "Asked 1 running job(s) to stop." in page.inner_text(".messagelist")
    page.wait_for_selector(".field-status_live .job-status:has-text('Cancelled')", timeout=30_000)
    assert JobAttempt.objects.get(job=job).outcome == "cancelled"
    shot(page, "export-cancelled")
