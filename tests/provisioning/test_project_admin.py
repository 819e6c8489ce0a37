"""Project admin: add-and-provision form, provisioning panel, rotate keys, still read-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from controlplane.models import AuditLog, Project, ProjectStatus
from jobs.models import Job
from provisioning.models import ApiKey
from provisioning.services import (
    api_key_issue,
    api_key_reveal_consume,
    provision_project_run,
)
from tests import factories
from tests.provisioning.conftest import unique_slug

pytestmark = pytest.mark.django_db
ADD = reverse("admin:controlplane_project_add")
CHANGELIST = reverse("admin:controlplane_project_changelist")


def change_url(project: Any) -> str:
    return reverse("admin:controlplane_project_change", args=[project.pk])


@pytest.fixture
def root_client(client: Client) -> Client:
    client.force_login(factories.user(username="root", is_staff=True, is_superuser=True))
    return client


def staff_with(client: Client, *codenames: str) -> Client:
    user = factories.staff()
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def form_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "slug": "shop-eu",
        "name": "Shop EU",
        "region": "eu-west",
        "owner_id": "owner-7",
        "organization_id": "",
        "services": ["auth", "storage"],
        "api_key_count": "3",
        "api_key_prefix": "",
    }
    data.update(overrides)
    return data


def nothing_written() -> bool:
    return not (Project.objects.exists() or Job.objects.exists() or AuditLog.objects.exists())


def test_add__creates_provisioning_project_and_enqueues_job(root_client: Client) -> None:
    page = root_client.get(ADD)
    assert page.status_code == 200 and b'name="api_key_count"' in page.content
    assert b'value="realtime"' in page.content

    response = root_client.post(ADD, form_data())
    project = Project.objects.get(slug="shop-eu")
    assert response.status_code == 302 and response["Location"] == change_url(project)
    assert (project.status, project.region, project.owner_id) == (
        ProjectStatus.PROVISIONING,
        "eu-west",
        "owner-7",
    )
    job = Job.objects.get(project=project)
    assert job.type == "provision_project" and job.status == "pending"
    assert job.payload["services"] == {"auth": True, "realtime": False, "storage": True}
    assert job.payload["api_keys"] == {"count": 3, "prefix": None}
    audit = AuditLog.objects.get(action="project.provision_request")
    assert (audit.actor_label, audit.details["job_id"]) == ("root", str(job.pk))
    followed = root_client.get(response["Location"])
    assert b"provisioning job" in followed.content and str(job.pk).encode() in followed.content


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"slug": "Shop EU"}, "not a valid project slug"),
        ({"slug": "ab"}, "not a valid project slug"),
        ({"name": ""}, "This field is required"),
        ({"api_key_count": "11"}, "At most 10 API keys"),
        ({"api_key_count": "0"}, "greater than or equal to 1"),
        ({"api_key_prefix": "Bad_Prefix"}, "Lowercase letters, digits and hyphens"),
        ({"services": ["email"]}, "Select a valid choice"),
    ],
)
def test_add__invalid_form_writes_nothing(
    root_client: Client, overrides: dict[str, Any], message: str
) -> None:
    page = root_client.post(ADD, form_data(**overrides))
    assert page.status_code == 200
    assert message in page.content.decode()
    assert nothing_written()


def test_add__duplicate_slug_reported_on_the_field(root_client: Client) -> None:
    factories.project(slug="shop-eu")
    before = (Project.objects.count(), Job.objects.count(), AuditLog.objects.count())
    page = root_client.post(ADD, form_data())
    assert page.status_code == 200 and b"already exists" in page.content
    assert page.context["form"].errors["slug"]
    assert (Project.objects.count(), Job.objects.count(), AuditLog.objects.count()) == before


def test_add__needs_permission_and_change_stays_read_only(client: Client, project: Any) -> None:
    viewer = staff_with(client, "view_project")
    assert viewer.get(ADD).status_code == 403
    assert viewer.post(ADD, form_data()).status_code == 403
    assert viewer.get(change_url(project)).status_code == 200
    posted = viewer.post(change_url(project), {"name": "Renamed", "slug": project.slug})
    assert posted.status_code == 403
    assert Project.objects.get(pk=project.pk).name == project.name
    assert not Job.objects.exists()


def test_change_page__shows_steps_services_keys_jobs_and_reveal_banner(
    root_client: Client, no_services: None, new_project: Any
) -> None:
    provision_project_run(project_id=new_project.pk, services={"auth": True}, api_key_count=2)
    page = root_client.get(change_url(new_project)).content.decode()
    for text in ("Create schema and role", "Mark project active", "Skipped (service not"):
        assert text in page
    keys = list(ApiKey.objects.filter(project=new_project))
    assert all(k.public_part in page for k in keys)
    jobs_url = reverse("admin:jobs_job_changelist") + f"?project__id__exact={new_project.pk}"
    assert f'href="{jobs_url}"' in page
    reveal = reverse("admin:provisioning_apikey_reveal", args=[new_project.pk])
    assert 'id="keys-awaiting-reveal"' in page and f'href="{reveal}"' in page
    # The banner goes once the keys were revealed; no secret is ever on the page.
    plaintexts = [p for _, p in api_key_reveal_consume(project=new_project, actor=None)]
    page = root_client.get(change_url(new_project)).content.decode()
    assert 'id="keys-awaiting-reveal"' not in page
    assert all(p.split("_")[2] not in page for p in plaintexts)
    assert 'id="rotate-keys-form"' in page
    assert root_client.get(jobs_url).status_code == 200
    keys_list = reverse("admin:provisioning_apikey_changelist")
    assert root_client.get(f"{keys_list}?project__id__exact={new_project.pk}").status_code == 200


def test_rotate_keys_action__confirm_then_enqueue_audited(root_client: Client) -> None:
    live = factories.project(slug=unique_slug())
    api_key_issue(project=live, name="prod")
    pending = factories.project(slug=unique_slug(), status=ProjectStatus.PROVISIONING)
    data = {"action": "rotate_keys", "_selected_action": [live.pk, pending.pk]}
    page = root_client.post(CHANGELIST, data)
    assert b"Rotate the API keys of these 1 project(s)?" in page.content
    assert b"1 selected project(s) are neither active nor suspended" in page.content
    assert not Job.objects.exists()

    done = root_client.post(
        CHANGELIST,
        {**data, "confirm": "yes", "grace_period_seconds": "600", "reason": "leak"},
        follow=True,
    )
    assert b"Enqueued key rotation for 1 project(s)." in done.content
    assert b"Skipped 1 project(s)" in done.content
    job = Job.objects.get(type="rotate_key")
    assert job.project_id == live.pk
    assert job.payload == {"project_id": live.slug, "grace_period_seconds": 600}
    audit = AuditLog.objects.get(action="api_key.rotation_request")
    assert (audit.actor_label, audit.reason, audit.target_id) == ("root", "leak", live.slug)

    again = root_client.post(
        CHANGELIST, {**data, "confirm": "yes", "grace_period_seconds": "600"}, follow=True
    )
    assert b"already had a rotation pending" in again.content
    assert Job.objects.filter(type="rotate_key").count() == 1


def test_rotate_keys_action__bad_grace_and_permission(client: Client, project: Any) -> None:
    viewer = staff_with(client, "view_project", "change_project")
    data = {"action": "rotate_keys", "_selected_action": [project.pk], "confirm": "yes"}
    viewer.post(CHANGELIST, {**data, "grace_period_seconds": "60"}, follow=True)
    assert not Job.objects.exists()

    operator = staff_with(Client(), "view_project", "issue_apikey")
    page = operator.post(CHANGELIST, {**data, "grace_period_seconds": "-5"})
    assert b"greater than or equal to 0" in page.content
    assert not Job.objects.exists()
    operator.post(CHANGELIST, {**data, "grace_period_seconds": "5"})
    assert Job.objects.get(type="rotate_key").payload["grace_period_seconds"] == 5
