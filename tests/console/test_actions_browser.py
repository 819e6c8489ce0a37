"""The schedules page and "Run a job…" in a real browser (Debian's chromium), at 1,400 px."""

from __future__ import annotations

from typing import Any

import pytest

from backups.schedules import backup_schedule_set
from controlplane.services import project_suspend
from jobs.models import Job
from tests import factories
from tests.console.conftest import SCREENSHOTS
from tests.console.test_dashboard_browser import PASSWORD, log_in, watch

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def shoot(page: Any, name: str) -> None:
    """Save the page as staff see it (for review; .embedded/ is not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_run_job_browser__fill_the_form_fix_an_error_and_land_on_the_job(
    live_server: Any, shot_on_failure: Any
) -> None:
    page = shot_on_failure
    page.set_viewport_size({"width": 1400, "height": 900})
    factories.user(username="root", password=PASSWORD, is_staff=True, is_superuser=True)
    log_in(page, live_server, "root")
    seen = watch(page, live_server)
    shoot(page, "dashboard-links")

    page.click("#console-links a:has-text('Run a job')")
    page.select_option("#id_type", "test.form")
    shoot(page, "run-job-pick")
    page.click("input[type=submit]")
    page.fill("#id_payload-name", "forbidden")
    page.select_option("#id_payload-colour", "red")
    page.fill("#id_payload-api_token", "tok-browser-secret")
    page.click("input[name=_run]")
    error = page.locator(".field-payload-name .errorlist")
    assert "This name is reserved." in error.inner_text()
    assert page.input_value("#id_payload-api_token") == ""  # a secret is not sent back
    shoot(page, "run-job-form-error")
    assert not Job.objects.exists()

    page.fill("#id_payload-name", "from-the-browser")
    page.fill("#id_payload-api_token", "tok-browser-secret")
    page.fill("#id_reason", "a manual run")
    page.click("input[name=_run]")

    job = Job.objects.get(type="test.form")
    page.wait_for_url(f"**/admin/jobs/job/{job.pk}/change/")
    assert "from-the-browser" in page.inner_text("#content")
    assert f"Enqueued test.form job {job.pk}" in page.inner_text(".messagelist")
    shoot(page, "run-job-landed")
    assert seen["errors"] == [] and seen["foreign"] == []


def test_schedules_browser__run_now_from_the_page_and_open_the_run(
    live_server: Any, shot_on_failure: Any
) -> None:
    page = shot_on_failure
    page.set_viewport_size({"width": 1400, "height": 900})
    factories.staff(
        username="operator",
        password=PASSWORD,
        perms=[
            "jobs.view_job",
            "jobs.operate_job",
            "backups.view_backupschedule",
            "backups.request_export",
        ],
    )
    backup_schedule_set(project=factories.project(slug="acme-shop"), hour=3, actor=None)
    idle = factories.project(slug="initech")
    backup_schedule_set(project=idle, hour=4, actor=None)
    project_suspend(project_ids=[idle.pk], actor=None, reason="unpaid")
    log_in(page, live_server, "operator")
    seen = watch(page, live_server)

    page.click(".console-apps a[href='/admin/console/schedules/']")
    assert "project suspended" in page.inner_text("tr[data-project='initech']")
    shoot(page, "schedules")
    page.click("tr[data-schedule='jobs.prune'] button.run-now")
    page.locator(".messagelist .success").wait_for()
    job = Job.objects.get(type="jobs.prune")
    page.click(f".messagelist a[href*='{job.pk}']")
    page.wait_for_url(f"**/admin/jobs/job/{job.pk}/change/")

    page.go_back()
    page.click("tr[data-project='acme-shop'] button.run-now")
    page.locator(".messagelist .success").wait_for()
    assert Job.objects.filter(type="export_backup", project__slug="acme-shop").count() == 1
    assert page.locator("tr[data-project='acme-shop'] .last-run a").count() == 1
    shoot(page, "schedules-after-run")
    assert seen["errors"] == [] and seen["foreign"] == []
