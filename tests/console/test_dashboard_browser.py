"""The dashboard in a real browser, against a live server and a real qcluster."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.utils import timezone

from console.services import metrics_rollup
from jobs.models import JobStatus
from jobs.services import enqueue_job
from jobs.worker import execute_job
from tests import factories
from tests.console.conftest import HANDLERS_MODULES, ended_job, viewer
from tests.jobs.conftest import qcluster, wait_until  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "browser-pass-123"


def log_in(page: Any, live_server: Any, username: str) -> None:
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#content-main")


def watch(page: Any, live_server: Any) -> dict[str, list[str]]:
    """Record console errors, page errors and every request leaving the live server's host."""
    seen: dict[str, list[str]] = {"errors": [], "foreign": []}
    host = urlsplit(live_server.url).hostname

    def on_console(message: Any) -> None:
        if message.type == "error":
            seen["errors"].append(message.text)

    def on_request(request: Any) -> None:
        if urlsplit(request.url).hostname not in {host, "localhost", "127.0.0.1"}:
            seen["foreign"].append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.on("request", on_request)
    return seen


def test_dashboard_browser__charts_render_offline_without_errors(
    live_server: Any, shot_on_failure: Any
) -> None:
    page = shot_on_failure
    factories.user(username="root", password=PASSWORD, is_staff=True, is_superuser=True)
    now = timezone.now()
    for i in range(30):
        ended_job(type="test.echo", completed_at=now - timedelta(minutes=i % 50, hours=i % 3))
    ended_job(type="test.doomed", status=JobStatus.FAILED, completed_at=now - timedelta(minutes=3))
    metrics_rollup()
    log_in(page, live_server, "root")
    seen = watch(page, live_server)  # the dashboard's own load, not the login page's
    page.reload()

    assert page.locator("#panel-charts svg.chart").count() == 7
    assert page.locator("#panel-charts svg.chart rect").count() > 10
    assert page.evaluate("typeof window.htmx") == "object"  # served from our static files
    page.wait_for_timeout(2500)  # a round of live refreshes
    assert page.locator("#panel-charts svg.chart").count() == 7
    assert seen["errors"] == [] and seen["foreign"] == []
    # A session that ends mid-poll sends the page to the login form (not into a panel).
    page.context.clear_cookies()
    page.wait_for_url("**/admin/login/**", timeout=15_000)
    assert page.locator("#panel-now").count() == 0


def test_dashboard_browser__progress_advances_and_failure_appears_without_reload(
    live_server: Any,
    shot_on_failure: Any,
    qcluster: Any,  # noqa: F811
) -> None:
    page = shot_on_failure
    viewer(username="watcher", password=PASSWORD)
    # The cluster writes its status into this test's cache namespace, where the server reads.
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    qcluster(workers=2, JOBS_EXTRA_HANDLER_MODULES=HANDLERS_MODULES, CACHE_KEY_PREFIX=prefix)
    log_in(page, live_server, "watcher")
    seen = watch(page, live_server)
    page.evaluate("window.__notReloaded = true")

    job, _ = enqueue_job(type="test.progress", payload={"steps": 40, "step_seconds": 0.4})
    bar = page.locator(f"#panel-running tr[data-job-id='{job.pk}'] .bar")
    bar.wait_for(timeout=20_000)
    first = int(bar.get_attribute("aria-valuenow") or 0)
    wait_until(lambda: int(bar.get_attribute("aria-valuenow") or 0) > first, timeout=15)
    assert page.evaluate("window.__notReloaded") is True

    doomed, _ = enqueue_job(type="test.doomed", payload={})
    page.locator(f"#recent-failures tr[data-job-id='{doomed.pk}']").wait_for(timeout=15_000)
    assert "the provider said no" in page.inner_text("#recent-failures")
    # The cluster shows up too (its status reaches the cache within a few seconds).
    page.locator("#panel-clusters #clusters li").first.wait_for(timeout=25_000)
    assert "2 workers" in page.inner_text("#panel-clusters")
    assert page.evaluate("window.__notReloaded") is True
    assert seen["errors"] == [] and seen["foreign"] == []


def test_dashboard_browser__internals_for_superusers_only(
    live_server: Any, browser: Any, shot_on_failure: Any
) -> None:
    factories.user(username="root", password=PASSWORD, is_staff=True, is_superuser=True)
    viewer(username="watcher", password=PASSWORD)
    page = shot_on_failure
    log_in(page, live_server, "root")
    assert "task queue internals" in page.inner_text(".console-apps").lower()
    assert page.locator(".console-apps a[href='/admin/django_q/']").count() == 1

    staff_context = browser.new_context()
    staff_page = staff_context.new_page()
    try:
        log_in(staff_page, live_server, "watcher")
        assert "task queue" not in staff_page.inner_text("#content").lower()
        assert staff_page.locator("a[href^='/admin/django_q/']").count() == 0
        assert staff_page.locator("#panel-now").count() == 1
    finally:
        staff_context.close()


def test_job_list_browser__running_row_updates_without_reload(
    live_server: Any,
    shot_on_failure: Any,
    qcluster: Any,  # noqa: F811
) -> None:
    page = shot_on_failure
    viewer(username="watcher", password=PASSWORD)
    qcluster(workers=1, JOBS_EXTRA_HANDLER_MODULES=HANDLERS_MODULES)
    job, _ = enqueue_job(type="test.progress", payload={"steps": 12, "step_seconds": 0.5})
    log_in(page, live_server, "watcher")
    page.goto(f"{live_server.url}/admin/jobs/job/")
    page.evaluate("window.__notReloaded = true")
    row = page.locator(f"#result_list tr:has(a[href*='{job.pk}'])")

    bar = row.locator(".console-bar")
    bar.wait_for(timeout=20_000)
    first = int(bar.get_attribute("aria-valuenow") or 0)
    wait_until(lambda: int(bar.get_attribute("aria-valuenow") or 0) > first, timeout=15)
    assert "copying" in row.locator(".job-status").inner_text()
    # When it completes, the badge says so and the bar goes, still without a reload.
    wait_until(lambda: row.locator(".job-status").inner_text() == "Completed", timeout=20)
    assert row.locator(".console-bar").count() == 0
    assert page.evaluate("window.__notReloaded") is True


def test_dashboard_browser__hide_housekeeping_with_one_click(
    live_server: Any, shot_on_failure: Any
) -> None:
    page = shot_on_failure
    viewer(username="watcher", password=PASSWORD)
    upkeep, _ = enqueue_job(type="test.upkeep", payload={})
    execute_job(str(upkeep.pk))
    doomed, _ = enqueue_job(type="test.doomed", payload={})
    execute_job(str(doomed.pk))
    log_in(page, live_server, "watcher")
    page.evaluate("window.__notReloaded = true")
    upkeep_row = page.locator(f"#recent-failures tr[data-job-id='{upkeep.pk}']")
    assert upkeep_row.count() == 1 and "housekeeping" in upkeep_row.inner_text()

    page.click("#housekeeping-toggle")
    page.locator("#housekeeping-toggle", has_text="Show housekeeping").wait_for()
    assert upkeep_row.count() == 0
    assert page.locator(f"#recent-failures tr[data-job-id='{doomed.pk}']").count() == 1
    assert page.evaluate("window.__notReloaded") is True  # swapped in place by htmx
    page.reload()
    assert upkeep_row.count() == 0  # remembered
