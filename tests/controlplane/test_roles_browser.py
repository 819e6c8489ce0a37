"""A viewer in a real browser: the job, project, backup and backfill pages offer no action."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group

from backfill.models import BackfillStatus
from controlplane import roles
from controlplane.services import project_suspend
from jobs.models import Job, JobStatus
from jobs.services import enqueue_job
from tests import factories
from tests.backfill import factories as backfill_factories
from tests.backups import factories as backup_factories
from tests.backups.conftest import backup_store  # noqa: F401  (autouse: a store per test)
from tests.jobs import sample_handlers  # noqa: F401  (registers test.noop)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "viewer-pass-123"
SHOTS = Path(__file__).resolve().parents[2] / ".embedded" / "screenshots"
# Verbs only: "Paused types" (a read-only page a viewer may open) is not "Pause".
ACTION_WORDS = re.compile(
    r"\b(retry|cancel|run now|suspend|reactivate|download|verify|legal hold|revoke|restore|"
    r"rotate|delete|pause|resume)\b",
    re.IGNORECASE,
)


def log_in(page: Any, live_server: Any, username: str) -> None:
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#content-main")


def assert_no_actions(page: Any, url: str, shot: str) -> None:
    page.goto(url)
    page.wait_for_selector("#content-main")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"viewer-{shot}.png"), full_page=True)
    assert page.locator("select[name=action]").count() == 0, url
    # Search and filter boxes have submit buttons too; the forms that act are these two.
    acting = page.locator("#changelist-form input[type=submit], .submit-row input[type=submit]")
    assert acting.count() == 0, url
    # Every link and button outside the sidebar, the filters and column headers (which
    # name statuses, types and columns: "Cancelled", "verify_backup", "legal hold").
    texts = page.evaluate(
        """() => [...document.querySelectorAll('#content a, #content button, #content input')]
            .filter(e => !e.closest('#changelist-filter, #nav-sidebar, .breadcrumbs, thead'))
            .map(e => (e.innerText || e.value || '').trim()).filter(Boolean)"""
    )
    acting = [t for t in texts if ACTION_WORDS.search(t)]
    assert acting == [], (url, acting)


def test_viewer_browser__no_action_buttons_on_job_project_backup_backfill_pages(
    live_server: Any, page: Any
) -> None:
    page.set_viewport_size({"width": 1400, "height": 900})
    user = factories.staff(username="watcher", password=PASSWORD)
    user.groups.add(Group.objects.get(name=roles.VIEWER_GROUP))
    project = factories.project(slug="acme-shop")
    job, _ = enqueue_job(type="test.noop", payload={}, project=project)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, last_error="boom")
    backup = backup_factories.backup(project=project)
    month = backfill_factories.month(2024, 3, status=BackfillStatus.FAILED)
    project_suspend(project_ids=[project.pk], actor=None, reason="chargeback")

    log_in(page, live_server, "watcher")
    base = f"{live_server.url}/admin"
    pages = {
        "jobs": f"{base}/jobs/job/",
        "job": f"{base}/jobs/job/{job.pk}/change/",
        "projects": f"{base}/controlplane/project/",
        "project": f"{base}/controlplane/project/{project.pk}/change/",
        "backups": f"{base}/backups/backup/",
        "backup": f"{base}/backups/backup/{backup.pk}/change/",
        "backfill": f"{base}/backfill/backfilllog/",
        "month": f"{base}/backfill/backfilllog/{month.pk}/change/",
    }
    for shot, url in pages.items():
        assert_no_actions(page, url, shot)
    # The viewer still reads the trail: History on the project lists the suspension.
    page.goto(f"{base}/controlplane/project/{project.pk}/history/")
    page.screenshot(path=str(SHOTS / "viewer-project-history.png"), full_page=True)
    assert page.locator("#audit-history tr.audit-row", has_text="project.suspend").count() == 1
    # ... and the audit list, filtered to the project, links the target to its page.
    page.goto(f"{base}/controlplane/auditlog/?project__id__exact={project.pk}")
    page.screenshot(path=str(SHOTS / "viewer-audit-list.png"), full_page=True)
    assert page.locator("#result_list a", has_text="project:acme-shop").count() >= 1
    assert page.locator("#project-filter").count() == 1
