"""A staff member suspends and reactivates a project in a real browser."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.models import AuditLog, ProjectStatus
from tests import factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin__suspend_project_with_reason_in_browser(live_server: Any, page: Any) -> None:
    factories.user(username="root", password="browser-pass-123", is_staff=True, is_superuser=True)
    project = factories.project(slug="acme-shop", name="Acme Shop")

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "browser-pass-123")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/controlplane/project/")
    page.check(f"input[name=_selected_action][value='{project.pk}']")
    page.select_option("select[name=action]", "suspend")
    page.click("button[name=index]")

    page.wait_for_selector("#affected-projects")
    assert "acme-shop" in page.inner_text("#affected-projects")
    page.fill("textarea[name=reason]", "abuse report #42")
    page.click("input[name=_confirm]")

    page.wait_for_selector(".messagelist")
    assert "Suspended 1 project(s)." in page.inner_text(".messagelist")
    assert "Suspended" in page.inner_text("#result_list")
    project.refresh_from_db()
    assert project.status == ProjectStatus.SUSPENDED
    assert AuditLog.objects.get(action="project.suspend").reason == "abuse report #42"
