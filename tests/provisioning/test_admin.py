"""Admin: keys shown by public part only, revoke audited, one-time reveal, read-only records."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from controlplane.models import AuditLog
from provisioning.models import ApiKey, ApiKeyReveal
from provisioning.services import api_key_authenticate, api_key_issue, provision_project_run
from tests import factories

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:provisioning_apikey_changelist")
ISSUE = reverse("admin:provisioning_apikey_issue")


@pytest.fixture
def root_client(client: Client) -> Client:
    client.force_login(factories.user(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def plain_staff_client(client: Client) -> Client:
    user = factories.staff(username="viewer")
    user.user_permissions.add(Permission.objects.get(codename="view_apikey"))
    client.force_login(user)
    return client


def reveal_url(project: Any) -> str:
    return reverse("admin:provisioning_apikey_reveal", args=[project.pk])


def test_changelist__public_part_only(root_client: Client, project: Any) -> None:
    key, plaintext = api_key_issue(project=project, name="ci")
    page = root_client.get(CHANGELIST)
    assert page.status_code == 200
    body = page.content.decode()
    assert key.public_part in body and "active" in body
    secret = plaintext.split("_")[2]
    assert secret not in body and key.digest not in body
    detail = root_client.get(reverse("admin:provisioning_apikey_change", args=[key.pk]))
    assert detail.status_code == 200 and secret not in detail.content.decode()
    assert key.digest not in detail.content.decode()


def test_revoke_action__confirm_then_audited(root_client: Client, project: Any) -> None:
    key, _ = api_key_issue(project=project, name="ci")
    data = {"action": "revoke", "_selected_action": [key.pk]}
    page = root_client.post(CHANGELIST, data)
    assert b"Revoke these 1 API key(s)?" in page.content
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None
    done = root_client.post(CHANGELIST, {**data, "confirm": "yes", "reason": "leak"}, follow=True)
    assert b"Revoked 1 API key(s)." in done.content
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    audit = AuditLog.objects.get(action="api_key.revoke")
    assert (audit.actor_label, audit.reason, audit.target_id) == ("root", "leak", str(key.pk))


def test_revoke_action__needs_permission(plain_staff_client: Client, project: Any) -> None:
    key, _ = api_key_issue(project=project, name="ci")
    data = {"action": "revoke", "_selected_action": [key.pk], "confirm": "yes"}
    plain_staff_client.post(CHANGELIST, data, follow=True)
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_issue_then_reveal_exactly_once(root_client: Client, project: Any) -> None:
    response = root_client.post(ISSUE, {"project": project.pk, "name": "deploy", "key_prefix": ""})
    assert response.status_code == 302 and response["Location"] == reveal_url(project)
    key = ApiKey.objects.get(project=project, name="deploy")
    # GET only offers the reveal; a prefetch or reload cannot spend it.
    offer = root_client.get(reveal_url(project))
    assert b"1 new API key(s)" in offer.content and ApiKeyReveal.objects.exists()
    shown = root_client.post(reveal_url(project))
    assert "no-store" in shown["Cache-Control"]
    body = shown.content.decode()
    start = body.index('<code class="api-key">') + len('<code class="api-key">')
    plaintext = body[start : body.index("</code>", start)]
    assert api_key_authenticate(plaintext=plaintext).pk == key.pk
    assert not ApiKeyReveal.objects.exists()
    again = root_client.post(reveal_url(project)).content.decode()
    assert plaintext not in again and "already shown or expired" in again
    assert plaintext not in root_client.get(CHANGELIST).content.decode()


def test_issue__limit_reported_on_the_form(root_client: Client, project: Any) -> None:
    for i in range(10):
        api_key_issue(project=project, name=f"k{i}")
    page = root_client.post(ISSUE, {"project": project.pk, "name": "more"})
    assert page.status_code == 200 and b"the limit is 10" in page.content


def test_issue_and_reveal__need_permission(plain_staff_client: Client, project: Any) -> None:
    assert plain_staff_client.get(ISSUE).status_code == 403
    assert plain_staff_client.post(reveal_url(project)).status_code == 403


def test_reveal__keys_from_provisioning(
    root_client: Client, no_services: None, new_project: Any
) -> None:
    provision_project_run(project_id=new_project.pk, services={}, api_key_count=2)
    page = root_client.post(reveal_url(new_project)).content.decode()
    assert page.count('<code class="api-key">') == 2


def test_step_and_registration_admin__read_only_lists(
    root_client: Client, no_services: None, new_project: Any
) -> None:
    provision_project_run(project_id=new_project.pk, services={"auth": True})
    steps = root_client.get(reverse("admin:provisioning_provisioningstep_changelist"))
    regs = root_client.get(reverse("admin:provisioning_serviceregistration_changelist"))
    assert steps.status_code == 200 and b"activate" in steps.content
    assert regs.status_code == 200 and b"Skipped" in regs.content
    assert root_client.get(reverse("admin:provisioning_apikey_add")).status_code == 403
