"""Staff restore a backup into a new project from the admin, in a real browser."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from jobs.models import Job
from tests import factories
from tests.backups import factories as backup_factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin__restore_into_new_project_in_browser(
    live_server: Any, page: Any, tmp_path: Path
) -> None:
    shots = Path(os.environ.get("BACKUPS_SCREENSHOT_DIR") or tmp_path)
    factories.user(username="root", password="browser-pass-123", is_staff=True, is_superuser=True)
    project = factories.project(slug="acme-shop", name="Acme Shop")
    backup = backup_factories.backup(project=project, table_count=3, compression="none")

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "browser-pass-123")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/backups/backup/")
    page.screenshot(path=str(shots / "backups_changelist.png"), full_page=True)
    page.check(f"input[name=_selected_action][value='{backup.pk}']")
    page.select_option("select[name=action]", "restore_into_new_project")
    page.click("button[name=index]")

    page.wait_for_selector("#restore-source")
    assert backup.storage_path in page.inner_text("#restore-source")
    page.fill("input[name=slug]", "acme-copy")
    page.screenshot(path=str(shots / "backups_restore_confirm.png"), full_page=True)
    page.click("input[name=_confirm]")

    page.wait_for_selector(".messagelist")
    assert "Provisioning acme-copy" in page.inner_text(".messagelist")
    page.screenshot(path=str(shots / "backups_restore_done.png"), full_page=True)
    assert Job.objects.filter(type="restore_backup", project__slug="acme-copy").exists()
