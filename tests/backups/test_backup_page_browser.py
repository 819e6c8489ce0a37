"""Staff open a backup from the list, download it and verify it, in a real browser; the
check runs on a real qcluster."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backups.models import Backup
from backups.services import backup_export_run
from controlplane.models import AuditLog
from jobs.models import Job, JobStatus
from tests import factories
from tests.jobs.conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_backup_page__open_from_list_download_and_verify_in_browser(
    live_server: Any,
    page: Any,
    tenant: Any,
    backup_store: Path,
    qcluster: Callable[..., Any],
    tmp_path: Path,
) -> None:
    shots = Path(os.environ.get("BACKUPS_SCREENSHOT_DIR") or tmp_path)
    project = tenant("acme-shop")
    backup = backup_export_run(project=project, format="sql", compress=True)
    cluster = qcluster(workers=1, BACKUPS_ROOT=str(backup_store))
    factories.user(username="root", password="browser-pass-123", is_staff=True, is_superuser=True)
    page.set_viewport_size({"width": 1400, "height": 900})

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "browser-pass-123")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/backups/backup/")
    page.screenshot(path=str(shots / "backup_list.png"), full_page=True)
    row_link = page.locator("th.field-created a")
    assert row_link.inner_text().strip() != ""
    row_link.click()

    page.wait_for_selector("#backup-actions")
    assert "never" in page.inner_text(".field-verification")
    page.screenshot(path=str(shots / "backup_page.png"), full_page=True)
    with page.expect_download() as download_info:
        page.click("#download-form input[type=submit]")
    downloaded = Path(download_info.value.path())
    assert downloaded.read_bytes() == (backup_store / backup.storage_path).read_bytes()
    wait_until(lambda: AuditLog.objects.filter(action="backup.download").exists(), timeout=10)
    assert AuditLog.objects.get(action="backup.download_link").actor_label == "root"

    page.click("#verify-form input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert "Queued verification of 1 backup(s)" in page.inner_text(".messagelist")

    def checked() -> bool:
        job = Job.objects.filter(type="verify_backup").first()
        return job is not None and job.status in (JobStatus.COMPLETED, JobStatus.FAILED)

    wait_until(checked, timeout=90, interval=0.3)
    job = Job.objects.get(type="verify_backup")
    assert job.status == JobStatus.COMPLETED, (job.last_error, cluster.output()[-3000:])
    assert Backup.objects.get(pk=backup.pk).verify_status == "passed"
    page.reload()
    assert "passed" in page.inner_text(".field-verification")
    page.screenshot(path=str(shots / "backup_page_verified.png"), full_page=True)
