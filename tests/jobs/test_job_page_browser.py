"""A job's page and the paused types in a real browser, with a real qcluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane.models import AuditLog
from jobs.models import Job, JobStatus
from jobs.services import enqueue_job
from tests import factories
from tests.jobs.conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "browser-pass-123"
SHOTS = Path(__file__).resolve().parents[2] / ".embedded" / "screenshots"
OPERATOR = [
    "jobs.view_job",
    "jobs.operate_job",
    "jobs.view_pausedjobtype",
    "jobs.pause_jobtype",
]


@pytest.fixture
def wide(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Yield a 1400 px wide page; keep a screenshot of it if the test fails."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is None or report.failed:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{request.node.name[:80]}.png"), full_page=True)
    context.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"i12a-{name}.png"), full_page=True)


def log_in(page: Any, live_server: Any, next_url: str) -> None:
    factories.staff(username="operator", password=PASSWORD, perms=OPERATOR)
    page.goto(f"{live_server.url}/admin/login/?next={next_url}")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#content-main")


def status(job: Job) -> str:
    return Job.objects.values_list("status", flat=True).get(pk=job.pk)


def test_job_page_browser__read_the_traceback_retry_and_see_it_complete(
    live_server: Any, wide: Any, qcluster: Any
) -> None:
    page = wide
    qcluster(workers=1)
    job = enqueue_job(type="test.flaky", payload={"succeed_on": 2}, max_attempts=1)[0]
    wait_until(lambda: status(job) == JobStatus.FAILED)

    log_in(page, live_server, f"/admin/jobs/job/{job.pk}/change/")
    traceback = page.locator("#job-attempts details pre")
    assert not traceback.is_visible()  # folded by default
    page.click("#job-attempts details summary")
    assert "Traceback (most recent call last)" in traceback.inner_text()
    assert "transient failure on attempt 1" in traceback.inner_text()
    shot(page, "job-failed")

    page.click("#job-retry-button")
    page.wait_for_selector("#affected-count")
    assert "1 job(s)" in page.inner_text("#affected-count")
    shot(page, "job-retry-confirm")
    page.fill("input[name=reason]", "fixed the provider")
    page.click("input[name=_confirm]")
    page.wait_for_url(f"**/admin/jobs/job/{job.pk}/change/")
    # (The "Queued 1 job(s)…" message is pinned by test_admin_page: here the job can finish,
    # and the page reload on its end, before the message could be read.)
    # The page follows the job live and reloads once it is done.
    page.wait_for_selector(".field-status_live .job-status:has-text('Completed')", timeout=30_000)
    assert status(job) == JobStatus.COMPLETED
    assert page.locator("#job-attempts tbody tr").count() == 2
    assert not page.locator("#job-retry-button").count()
    shot(page, "job-completed")
    assert AuditLog.objects.filter(action="job.retry", reason="fixed the provider").exists()


def test_paused_types_browser__pause_see_jobs_wait_resume(
    live_server: Any, wide: Any, qcluster: Any
) -> None:
    page = wide
    qcluster(workers=2)
    log_in(page, live_server, "/admin/jobs/job/")
    page.click("#paused-types-link")
    page.click("#pause-type-button")
    page.select_option("select[name=type]", "test.echo")
    page.fill("input[name=reason]", "provider outage")
    shot(page, "pause-form")
    page.click("input[name=_pause]")
    assert "Paused test.echo" in page.inner_text(".messagelist")

    jobs = [enqueue_job(type="test.echo", payload={"value": i})[0] for i in range(3)]
    other = enqueue_job(type="test.noop", payload={})[0]
    wait_until(lambda: status(other) == JobStatus.COMPLETED)
    assert {status(j) for j in jobs} == {JobStatus.PENDING}
    page.goto(f"{live_server.url}/admin/jobs/job/?type=test.echo")
    assert "test.echo" in page.inner_text("#paused-types")
    assert page.locator("span.job-status:has-text('Pending')").count() == 3
    shot(page, "job-list-paused")
    page.goto(f"{live_server.url}/admin/jobs/job/{jobs[0].pk}/change/")
    assert "is paused" in page.inner_text("#job-type-paused")
    page.goto(f"{live_server.url}/admin/")
    page.wait_for_selector("#paused-types")
    shot(page, "dashboard-paused")

    page.goto(f"{live_server.url}/admin/jobs/pausedjobtype/")
    shot(page, "paused-types")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "resume")
    page.click("button[name=index]")
    assert "3 pending job(s) will run" in page.inner_text("#affected-types")
    page.click("input[name=_confirm]")
    assert "Resumed 1 job type(s)" in page.inner_text(".messagelist")
    wait_until(lambda: {status(j) for j in jobs} == {JobStatus.COMPLETED})
