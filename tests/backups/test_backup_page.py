"""A backup's page and row: a real row link, Download and Verify buttons, the verification
outcome, sizes in human units; each button checks its permission."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backups.models import Backup, VerifyStatus
from controlplane.models import AuditLog
from jobs.models import Job
from tests import factories
from tests.backups import factories as backup_factories
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:backups_backup_changelist")


def change_url(backup: Backup) -> str:
    return reverse("admin:backups_backup_change", args=[backup.pk])


def action_url(backup: Backup, action: str) -> str:
    return reverse(f"admin:backups_backup_{action}", args=[backup.pk])


@pytest.fixture
def backup() -> Backup:
    return backup_factories.backup(project=factories.project(slug="acme-shop"), content=b"x" * 3000)


def test_changelist__row_link_has_text_and_project_is_its_own_column(
    client: Client, backup: Backup
) -> None:
    html = logged_in(client, superuser=True).get(CHANGELIST).content.decode()

    row_link = re.search(
        rf'<th class="field-created"><a href="{change_url(backup)}">(.*?)</a></th>', html, re.S
    )
    assert row_link is not None
    text = re.sub(r"<[^>]+>", "", row_link.group(1)).strip()
    assert text == timezone.localtime(backup.created_at).strftime("%Y-%m-%d %H:%M:%S")
    assert "<a" not in row_link.group(1)
    project_cell = re.search(r'<td class="field-project_link">(.*?)</td>', html, re.S)
    assert project_cell is not None and ">acme-shop</a>" in project_cell.group(1)
    assert 'title="3000 bytes">2.9\xa0KB<' in html


def test_changelist__verification_outcome_and_filter(client: Client) -> None:
    project = factories.project(slug="acme-shop")
    never = backup_factories.backup(project=project)
    passed = backup_factories.backup(project=project, verify_status=VerifyStatus.PASSED)
    failed = backup_factories.backup(
        project=project, verify_status=VerifyStatus.FAILED, verify_error="Row counts differ"
    )
    root = logged_in(client, superuser=True)

    html = root.get(CHANGELIST).content.decode()

    assert ">never</span>" in html and ">passed</span>" in html
    assert '<span title="Row counts differ">' in html
    only_failed = root.get(CHANGELIST, {"verify_status__exact": "failed"}).content.decode()
    assert change_url(failed) in only_failed
    assert change_url(never) not in only_failed and change_url(passed) not in only_failed


def test_backup_page__human_size_outcome_and_why_it_failed(client: Client, backup: Backup) -> None:
    Backup.objects.filter(pk=backup.pk).update(
        verify_status=VerifyStatus.FAILED,
        verify_checked_at=timezone.now(),
        verify_error="The file is missing from storage.",
    )
    page = logged_in(client, superuser=True).get(change_url(backup)).content.decode()
    assert "2.9\xa0KB" in page
    assert 'id="verify-failed"' in page and "The file is missing from storage." in page
    assert ">failed</span>" in page
    project_page = reverse("admin:controlplane_project_change", args=[backup.project_id])
    assert f'href="{project_page}"' in page


def test_backup_page__download_mints_a_fresh_audited_link(client: Client, backup: Backup) -> None:
    root = logged_in(client, superuser=True)
    page = root.get(change_url(backup)).content.decode()
    assert f'action="{action_url(backup, "download")}"' in page

    response = root.post(action_url(backup, "download"))

    assert response.status_code == 302 and response["Location"].startswith("/api/backups/files/")
    minted = AuditLog.objects.get(action="backup.download_link", target_id=str(backup.pk))
    assert minted.actor_label == "root" and "expires_at" in minted.details
    download = Client().get(response["Location"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"x" * 3000
    assert AuditLog.objects.get(action="backup.download").actor_label == "root"
    assert root.post(action_url(backup, "download")).status_code == 302
    assert AuditLog.objects.filter(action="backup.download_link").count() == 2


def test_backup_page__verify_queues_the_check_through_the_request_service(
    client: Client, backup: Backup
) -> None:
    root = logged_in(client, superuser=True)
    assert (
        f'action="{action_url(backup, "verify")}"' in root.get(change_url(backup)).content.decode()
    )

    response = root.post(action_url(backup, "verify"), follow=True)

    assert response.redirect_chain == [(change_url(backup), 302)]
    job = Job.objects.get(type="verify_backup")
    assert job.payload["backup_id"] == str(backup.pk)
    assert AuditLog.objects.get(action="backup.verify_requested").details["job_id"] == str(job.pk)
    assert "Queued verification of 1 backup(s)" in response.content.decode()
    second = root.post(action_url(backup, "verify"), follow=True).content.decode()
    assert "1 backup(s) already had a check pending or running." in second
    assert Job.objects.filter(type="verify_backup").count() == 1


@pytest.mark.parametrize("action", ["download", "verify"])
def test_backup_page__viewer_sees_no_button_and_gets_403(
    client: Client, backup: Backup, action: str
) -> None:
    viewer = logged_in(client, "backups.view_backup")
    page = viewer.get(change_url(backup)).content.decode()
    assert 'id="backup-actions"' not in page and "/api/backups/files/" not in page

    assert viewer.get(action_url(backup, action)).status_code == 403
    assert viewer.post(action_url(backup, action)).status_code == 403
    assert not AuditLog.objects.filter(target_type="backup").exists()
    assert not Job.objects.exists()


def test_backup_page__each_button_needs_its_own_permission(client: Client, backup: Backup) -> None:
    manager = logged_in(client, "backups.view_backup", "backups.manage_backup")
    page = manager.get(change_url(backup)).content.decode()
    assert 'id="verify-form"' in page and 'id="download-form"' not in page
    assert manager.post(action_url(backup, "download")).status_code == 403

    downloader = logged_in(Client(), "backups.view_backup", "backups.download_backup")
    page = downloader.get(change_url(backup)).content.decode()
    assert 'id="download-form"' in page and 'id="verify-form"' not in page
    assert downloader.post(action_url(backup, "verify")).status_code == 403
    assert downloader.post(action_url(backup, "download")).status_code == 302


def test_download_action__from_the_list_needs_exactly_one_backup(client: Client) -> None:
    project = factories.project(slug="acme-shop")
    two = [backup_factories.backup(project=project) for _ in range(2)]
    root = logged_in(client, superuser=True)
    data = {"action": "download", "_selected_action": [str(b.pk) for b in two]}
    response = root.post(CHANGELIST, data, follow=True)
    assert "Select exactly one backup to download." in response.content.decode()
    assert not AuditLog.objects.filter(action="backup.download_link").exists()
    one = root.post(CHANGELIST, {"action": "download", "_selected_action": [str(two[0].pk)]})
    assert one.status_code == 302 and one["Location"].startswith("/api/backups/files/")


@pytest.mark.parametrize("action", ["download", "verify", "delete_backups", "place_legal_hold"])
def test_backup_list_action__posted_without_its_permission_is_403(
    client: Client, backup: Backup, action: str
) -> None:
    viewer = logged_in(client, "backups.view_backup")
    data = {"action": action, "_selected_action": [str(backup.pk)]}
    assert viewer.post(CHANGELIST, data).status_code == 403
    assert Backup.objects.filter(pk=backup.pk, legal_hold=False).exists()
    assert not AuditLog.objects.filter(target_type="backup").exists()
