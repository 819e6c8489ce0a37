"""Backup admin: the list's columns, signed links, and actions that go through services."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from backups.models import Backup, ExportRequest
from backups.services import backup_request
from controlplane.models import AuditLog
from jobs.execution import job_claim, job_progress_record
from jobs.models import Job
from tests import factories
from tests.backups import factories as backup_factories

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:backups_backup_changelist")


@pytest.fixture
def root_client(client: Client) -> Client:
    client.force_login(factories.user(username="root", is_staff=True, is_superuser=True))
    return client


def post_action(client: Client, action: str, backups: list[Backup]) -> Any:
    data = {"action": action, "_selected_action": [str(b.pk) for b in backups]}
    return client.post(CHANGELIST, data, follow=True)


def test_changelist__columns_and_no_links_minted_in_bulk(root_client: Client) -> None:
    project = factories.project(slug="acme-shop")
    backup = backup_factories.backup(project=project, content=b"x" * 3000)

    page = root_client.get(CHANGELIST)

    assert page.status_code == 200
    html = page.content.decode()
    assert "acme-shop" in html and "2.9\xa0KB" in html
    assert backup.sha256[:12] in html
    # Links are minted one at a time, on request, and audited (tests/backups/test_backup_page.py).
    assert "/api/backups/files/" not in html


def test_changelist__is_read_only(root_client: Client) -> None:
    backup = backup_factories.backup(project=factories.project(slug="acme-shop"))
    change = reverse("admin:backups_backup_change", args=[backup.pk])
    response = root_client.post(change, {"legal_hold": "on"})
    assert response.status_code == 403
    assert reverse("admin:backups_backup_add") not in root_client.get(CHANGELIST).content.decode()


def test_actions__legal_hold_then_delete_keeps_held(root_client: Client) -> None:
    project = factories.project(slug="acme-shop")
    keep, drop = backup_factories.backup(project=project), backup_factories.backup(project=project)

    held = post_action(root_client, "place_legal_hold", [keep])
    assert b"Placed legal hold on 1 backup(s)." in held.content
    deleted = post_action(root_client, "delete_backups", [keep, drop])
    assert b"Deleted 1 backup(s)." in deleted.content
    assert b"Kept 1 backup(s) on legal hold." in deleted.content
    assert list(Backup.objects.values_list("pk", flat=True)) == [keep.pk]
    released = post_action(root_client, "release_legal_hold", [keep])
    assert b"Released legal hold on 1 backup(s)." in released.content
    assert AuditLog.objects.get(action="backup.delete").actor_label == "root"


def test_actions__need_the_manage_permission(client: Client) -> None:
    user = factories.user(username="viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_backup"))
    client.force_login(user)
    backup = backup_factories.backup(project=factories.project(slug="acme-shop"))
    page = client.get(CHANGELIST).content.decode()
    assert "place_legal_hold" not in page
    post_action(client, "place_legal_hold", [backup])
    assert not Backup.objects.get(pk=backup.pk).legal_hold


def test_verify_action__queues_one_job_per_backup(root_client: Client) -> None:
    project = factories.project(slug="acme-shop")
    a, b = backup_factories.backup(project=project), backup_factories.backup(project=project)

    page = post_action(root_client, "verify", [a, b])

    assert b"Queued verification of 2 backup(s)" in page.content
    jobs = Job.objects.filter(type="verify_backup")
    assert sorted(j.payload["backup_id"] for j in jobs) == sorted([str(a.pk), str(b.pk)])
    assert {j.payload["requested_by"] for j in jobs} == {User.objects.get(username="root").pk}
    again = post_action(root_client, "verify", [a])
    assert b"Queued verification of 0 backup(s)" in again.content
    assert AuditLog.objects.filter(action="backup.verify_requested").count() == 2


@pytest.mark.django_db(transaction=True)
def test_changelist__running_export_progress_and_links(root_client: Client) -> None:
    project = factories.project(slug="acme-shop")
    job = backup_request(project_slug="acme-shop")
    claim = job_claim(job_id=job.pk, worker="test-worker")
    assert claim is not None
    progress = {"phase": "dumping", "bytes": 5 * 1024 * 1024, "percent": 42.5}
    job_progress_record(job_id=job.pk, attempt=claim.attempt, progress=progress)
    backup_factories.backup(project=project, job=job)

    html = root_client.get(CHANGELIST).content.decode()

    assert "Exports in progress" in html
    section = html.split('id="running-exports"', 1)[1].split("</table>", 1)[0]
    assert "dumping" in section and "5.0\xa0MB" in section and "42.5" in section
    job_url = reverse("admin:jobs_job_change", args=[job.pk])
    assert job_url in section
    assert f"?project__id__exact={project.pk}" in html
    filtered = root_client.get(CHANGELIST, {"project__id__exact": project.pk})
    assert filtered.status_code == 200
    detail = root_client.get(reverse("admin:backups_backup_change", args=[Backup.objects.get().pk]))
    assert job_url in detail.content.decode()


def test_changelist__no_running_section_when_idle(root_client: Client) -> None:
    assert "Exports in progress" not in root_client.get(CHANGELIST).content.decode()


def test_export_requests__listed_read_only_with_job_link(root_client: Client) -> None:
    factories.project(slug="acme-shop")
    job = backup_request(project_slug="acme-shop", idempotency_key="retry-me")
    changelist = reverse("admin:backups_exportrequest_changelist")

    html = root_client.get(changelist, {"q": "retry-me"}).content.decode()

    assert "retry-me" in html and "acme-shop" in html
    assert reverse("admin:jobs_job_change", args=[job.pk]) in html
    assert reverse("admin:backups_exportrequest_add") not in html
    record = ExportRequest.objects.get()
    change = reverse("admin:backups_exportrequest_change", args=[record.pk])
    assert root_client.post(change, {"idempotency_key": "other"}).status_code == 403
    assert ExportRequest.objects.get().idempotency_key == "retry-me"


def test_export_requests__named_as_idempotency_key_records(root_client: Client) -> None:
    index = root_client.get(reverse("admin:app_list", args=["backups"]))
    assert index.status_code == 200
    assert "Idempotency-Key records" in index.text and "Export requests" not in index.text


def test_restore_into_new_project__asks_then_provisions_and_queues(root_client: Client) -> None:
    source = factories.project(slug="acme-shop")
    backup = backup_factories.backup(project=source, table_count=3)
    data = {"action": "restore_into_new_project", "_selected_action": [str(backup.pk)]}

    page = root_client.post(CHANGELIST, data)

    assert page.status_code == 200
    html = page.content.decode()
    assert "Restore into a new project" in html and backup.storage_path in html
    assert not Job.objects.exists()

    taken = root_client.post(CHANGELIST, {**data, "confirm": "yes", "slug": "acme-shop"})
    assert taken.status_code == 200 and "already exists" in taken.content.decode()

    done = root_client.post(
        CHANGELIST, {**data, "confirm": "yes", "slug": "acme-copy", "name": "Copy"}, follow=True
    )

    assert "Provisioning acme-copy" in done.content.decode()
    job = Job.objects.get(type="restore_backup")
    assert job.project.slug == "acme-copy" and job.project.name == "Copy"
    assert job.payload["backup_id"] == str(backup.pk)
    assert Job.objects.filter(type="provision_project", project=job.project).exists()
    assert AuditLog.objects.filter(action="backup.restore_requested").get().actor_label == "root"


def test_restore_into_new_project__needs_manage_and_add_project(client: Client) -> None:
    backup = backup_factories.backup(project=factories.project(slug="acme-shop"))
    user = factories.user(username="viewer", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(codename="view_backup"),
        Permission.objects.get(codename="manage_backup"),
    )
    client.force_login(user)
    data = {"action": "restore_into_new_project", "_selected_action": [str(backup.pk)]}
    data |= {"confirm": "yes", "slug": "acme-copy"}
    client.post(CHANGELIST, data)
    assert not Job.objects.exists()
    user.user_permissions.add(Permission.objects.get(codename="add_project"))
    user = User.objects.get(pk=user.pk)  # drop the cached permissions
    client.force_login(user)
    client.post(CHANGELIST, data)
    assert Job.objects.filter(type="restore_backup").count() == 1
