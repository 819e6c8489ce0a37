"""Staff suspend a project from its page with a reason and see the banner, in a real browser."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from controlplane.models import AuditLog, Project, ProjectStatus
from jobs.services import enqueue_job
from provisioning.services import api_key_issue
from tests import factories
from tests.backups import factories as backup_factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_project_page__suspend_with_a_reason_in_browser(
    live_server: Any, page: Any, tmp_path: Path, settings: Any
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "store")},
        },
    }
    shots = Path(os.environ.get("PROVISIONING_SCREENSHOT_DIR") or tmp_path)
    project = factories.project(slug="acme-shop", name="Acme Shop")
    enqueue_job(type="export_backup", payload={"project_id": "acme-shop"}, project=project)
    backup_factories.backup(project=project, content=b"x" * 123_456)
    api_key_issue(project=project, name="default")
    factories.user(username="root", password="browser-pass-123", is_staff=True, is_superuser=True)
    page.set_viewport_size({"width": 1400, "height": 900})

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "browser-pass-123")
    page.click("input[type=submit]")
    page.goto(live_server.url + reverse("admin:controlplane_project_change", args=[project.pk]))
    assert "120.6\xa0KB" in page.inner_text("#project-latest-backups")
    assert "export_backup" in page.inner_text("#project-latest-jobs")
    page.screenshot(path=str(shots / "project_page_active.png"), full_page=True)

    page.click("#suspend-form input[type=submit]")
    page.wait_for_selector("#affected-count")
    assert "acme-shop — Acme Shop" in page.inner_text("#affected-projects")
    page.fill("textarea[name=reason]", "Unpaid invoice #42")
    page.screenshot(path=str(shots / "project_suspend_confirm.png"), full_page=True)
    page.click("input[name=_confirm]")

    page.wait_for_selector("#suspended-banner")
    assert "Unpaid invoice #42" in page.inner_text("#suspended-banner")
    assert "Suspended 1 project(s)." in page.inner_text(".messagelist")
    assert page.locator("#reactivate-form").count() == 1
    assert page.locator("#suspend-form").count() == 0
    page.screenshot(path=str(shots / "project_page_suspended.png"), full_page=True)
    assert Project.objects.get(pk=project.pk).status == ProjectStatus.SUSPENDED
    audit = AuditLog.objects.get(action="project.suspend", target_id="acme-shop")
    assert (audit.actor_label, audit.reason) == ("root", "Unpaid invoice #42")
