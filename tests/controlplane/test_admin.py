"""Project admin: suspend and reactivate through a confirmation page asking for a reason."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from controlplane.models import AuditLog, Project, ProjectStatus
from tests import factories

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:controlplane_project_changelist")


@pytest.fixture
def admin_client_(client: Client) -> Client:
    user = factories.user(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def post_action(client: Client, action: str, projects: list[Project], **extra: str) -> Any:
    data = {"action": action, "_selected_action": [p.pk for p in projects], **extra}
    return client.post(CHANGELIST, data, follow=True)


def test_changelist__lists_projects_with_status(admin_client_: Client) -> None:
    factories.project(slug="acme-shop")
    response = admin_client_.get(CHANGELIST)
    assert response.status_code == 200
    assert b"acme-shop" in response.content and b"tenant_acme_shop" in response.content


def test_suspend__confirmation_page_then_audit(admin_client_: Client) -> None:
    active = factories.project(slug="acme-shop")
    pending = factories.project(slug="still-new", status=ProjectStatus.PROVISIONING)
    page = post_action(admin_client_, "suspend", [active, pending])
    assert page.status_code == 200
    assert b"Suspend these 1 project(s)?" in page.content
    assert b"1 selected project(s) are in another status" in page.content
    active.refresh_from_db()
    assert active.status == ProjectStatus.ACTIVE  # nothing happens before confirmation

    done = post_action(
        admin_client_, "suspend", [active, pending], confirm="yes", reason="chargeback"
    )
    assert b"Suspended 1 project(s)." in done.content
    active.refresh_from_db()
    assert active.status == ProjectStatus.SUSPENDED and active.suspended_reason == "chargeback"
    audit = AuditLog.objects.get(action="project.suspend")
    assert (audit.target_id, audit.actor_label, audit.reason) == ("acme-shop", "root", "chargeback")


def test_suspend__missing_reason_shows_the_form_again(admin_client_: Client) -> None:
    project = factories.project(slug="acme-shop")
    page = post_action(admin_client_, "suspend", [project], confirm="yes", reason="")
    assert b"This field is required." in page.content
    project.refresh_from_db()
    assert project.status == ProjectStatus.ACTIVE
    assert not AuditLog.objects.filter(action="project.suspend").exists()


def test_reactivate__through_confirmation(admin_client_: Client) -> None:
    project = factories.project(slug="acme-shop")
    post_action(admin_client_, "suspend", [project], confirm="yes", reason="r1")
    done = post_action(admin_client_, "reactivate", [project], confirm="yes", reason="paid")
    assert b"Reactivated 1 project(s)." in done.content
    project.refresh_from_db()
    assert project.status == ProjectStatus.ACTIVE
    assert list(
        AuditLog.objects.filter(target_id="acme-shop")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["project.create", "project.suspend", "project.reactivate"]


def test_actions__need_the_suspend_permission(client: Client) -> None:
    viewer = factories.user(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_project"))
    client.force_login(viewer)
    project = factories.project(slug="acme-shop")
    page = client.get(CHANGELIST)
    assert page.status_code == 200
    assert b'value="suspend"' not in page.content
    post_action(client, "suspend", [project], confirm="yes", reason="nope")
    project.refresh_from_db()
    assert project.status == ProjectStatus.ACTIVE


def test_records_are_read_only(admin_client_: Client) -> None:
    project = factories.project(slug="acme-shop")
    # (Adding a project is provisioning's form: tests/provisioning/test_project_admin.py.)
    change = admin_client_.post(
        reverse("admin:controlplane_project_change", args=[project.pk]), {"name": "hacked"}
    )
    assert change.status_code == 403
    audit_list = admin_client_.get(
        reverse("admin:controlplane_auditlog_changelist") + "?action=project.create"
    )
    assert audit_list.status_code == 200 and b"acme-shop" in audit_list.content
