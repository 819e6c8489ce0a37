"""The project's page: Suspend / Reactivate buttons, the suspended banner, latest jobs and
backups, key counts, and the self-refresh while provisioning."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from controlplane.models import AuditLog, Project, ProjectStatus
from controlplane.services import project_suspend
from jobs.services import enqueue_job
from provisioning.services import api_key_issue, api_key_revoke
from tests import factories
from tests.backups import factories as backup_factories
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db
BUTTONS = ("suspend", "reactivate", "rotate_keys", "retry_provisioning")


def change_url(project: Project) -> str:
    return reverse("admin:controlplane_project_change", args=[project.pk])


def action_url(project: Project, action: str) -> str:
    return reverse(f"admin:controlplane_project_{action}", args=[project.pk])


def test_project_page__suspend_button_asks_for_a_reason_then_suspends(client: Client) -> None:
    project = factories.project(slug="acme-shop")
    root = logged_in(client, superuser=True)
    page = root.get(change_url(project)).content.decode()
    assert f'action="{action_url(project, "suspend")}"' in page
    assert 'id="reactivate-form"' not in page and 'id="suspended-banner"' not in page

    confirm = root.post(action_url(project, "suspend"))
    assert confirm.status_code == 200
    assert "Suspend these 1 project(s)?" in confirm.content.decode()
    assert 'name="reason"' in confirm.content.decode()
    assert f'href="{change_url(project)}" class="button cancel-link"' in confirm.content.decode()
    no_reason = root.post(action_url(project, "suspend"), {"confirm": "yes", "reason": ""})
    assert no_reason.status_code == 200 and "This field is required" in no_reason.content.decode()
    assert Project.objects.get(pk=project.pk).status == ProjectStatus.ACTIVE

    done = root.post(action_url(project, "suspend"), {"confirm": "yes", "reason": "Unpaid"})

    assert done.status_code == 302 and done["Location"] == change_url(project)
    project.refresh_from_db()
    assert (project.status, project.suspended_reason) == (ProjectStatus.SUSPENDED, "Unpaid")
    audit = AuditLog.objects.get(action="project.suspend", target_id="acme-shop")
    assert (audit.actor_label, audit.reason) == ("root", "Unpaid")
    page = root.get(change_url(project)).content.decode()
    assert 'id="suspended-banner"' in page and ">Unpaid</span>" in page
    assert "Suspended 1 project(s)." in page
    assert 'id="suspend-form"' not in page and 'id="reactivate-form"' in page


def test_project_page__reactivate_button_through_the_same_action(client: Client) -> None:
    project = factories.project(slug="acme-shop")
    project_suspend(project_ids=[project.pk], actor=None, reason="Abuse report")
    root = logged_in(client, superuser=True)

    done = root.post(action_url(project, "reactivate"), {"confirm": "yes", "reason": "Resolved"})

    assert done.status_code == 302
    assert Project.objects.get(pk=project.pk).status == ProjectStatus.ACTIVE
    assert AuditLog.objects.get(action="project.reactivate").reason == "Resolved"
    assert 'id="suspended-banner"' not in root.get(change_url(project)).content.decode()


def test_project_page__button_on_a_project_in_another_status_changes_nothing(
    client: Client,
) -> None:
    project = factories.project(slug="acme-shop", status=ProjectStatus.PROVISIONING)
    root = logged_in(client, superuser=True)
    page = root.get(change_url(project)).content.decode()
    assert 'id="suspend-form"' not in page and 'id="reactivate-form"' not in page

    response = root.post(action_url(project, "suspend"), {"confirm": "yes", "reason": "x"})

    assert Project.objects.get(pk=project.pk).status == ProjectStatus.PROVISIONING
    assert not AuditLog.objects.filter(action="project.suspend").exists()
    assert response.status_code == 302


@pytest.mark.parametrize("action", BUTTONS)
def test_project_page__viewer_sees_no_button_and_gets_403(client: Client, action: str) -> None:
    project = factories.project(slug="acme-shop")
    if action == "reactivate":
        project_suspend(project_ids=[project.pk], actor=None, reason="Unpaid")
    viewer = logged_in(client, "controlplane.view_project", "jobs.view_job")
    audited = AuditLog.objects.count()
    page = viewer.get(change_url(project)).content.decode()
    assert page and f'action="{action_url(project, action)}"' not in page
    assert 'id="project-actions"' not in page

    for response in (
        viewer.get(action_url(project, action)),
        viewer.post(action_url(project, action)),
        viewer.post(action_url(project, action), {"confirm": "yes", "reason": "x"}),
    ):
        assert response.status_code == 403
    assert AuditLog.objects.count() == audited


def test_project_page__suspend_permission_alone_shows_only_its_button(client: Client) -> None:
    project = factories.project(slug="acme-shop")
    operator = logged_in(client, "controlplane.view_project", "controlplane.suspend_project")
    page = operator.get(change_url(project)).content.decode()
    assert 'id="suspend-form"' in page and 'id="rotate-keys-form"' not in page
    assert operator.post(action_url(project, "rotate_keys")).status_code == 403
    # A GET of a button's URL runs nothing: it goes back to the page.
    assert operator.get(action_url(project, "suspend"))["Location"] == change_url(project)
    assert Project.objects.get(pk=project.pk).status == ProjectStatus.ACTIVE


def test_project_page__latest_jobs_backups_and_key_counts(client: Client) -> None:
    project = factories.project(slug="acme-shop")
    other = factories.project(slug="other-shop")
    job, _ = enqueue_job(type="export_backup", payload={"project_id": "acme-shop"}, project=project)
    foreign, _ = enqueue_job(
        type="export_backup", payload={"project_id": "other-shop"}, project=other
    )
    backup = backup_factories.backup(project=project, content=b"x" * 5000)
    keys = [api_key_issue(project=project, name=f"k{i}")[0] for i in range(3)]
    api_key_revoke(key_ids=[keys[0].pk], actor=None)
    root = logged_in(client, superuser=True)

    page = root.get(change_url(project)).content.decode()

    assert reverse("admin:jobs_job_change", args=[job.pk]) in page
    assert reverse("admin:jobs_job_change", args=[foreign.pk]) not in page
    jobs = page.split('id="project-latest-jobs"', 1)[1].split("</table>", 1)[0]
    assert 'class="status-badge"' in jobs and ">Pending</span>" in jobs
    assert reverse("admin:backups_backup_change", args=[backup.pk]) in page
    assert "4.9\xa0KB" in page and "Never verified" in page
    assert "<strong>2</strong> active · <strong>1</strong> revoked" in page
    backups = reverse("admin:backups_backup_changelist") + f"?project__id__exact={project.pk}"
    assert f'href="{backups}"' in page


def test_project_page__without_job_and_backup_views_no_such_sections(client: Client) -> None:
    project = factories.project(slug="acme-shop")
    viewer = logged_in(client, "controlplane.view_project")
    page = viewer.get(change_url(project)).content.decode()
    assert 'id="project-latest-jobs"' not in page and 'id="project-latest-backups"' not in page
    assert 'id="project-api-keys"' in page


@pytest.mark.parametrize(
    ("status", "refreshes"),
    [
        (ProjectStatus.PROVISIONING, True),
        (ProjectStatus.ACTIVE, False),
        (ProjectStatus.PROVISION_FAILED, False),
    ],
)
def test_project_page__refreshes_itself_only_while_provisioning(
    client: Client, status: ProjectStatus, refreshes: bool
) -> None:
    project = factories.project(slug="acme-shop", status=status)
    page = logged_in(client, superuser=True).get(change_url(project)).content.decode()
    assert ('http-equiv="refresh"' in page) is refreshes
    assert ('id="provisioning-live"' in page) is refreshes


@pytest.mark.parametrize("action", BUTTONS)
def test_project_list_action__posted_without_its_permission_is_403(
    client: Client, action: str
) -> None:
    project = factories.project(slug="acme-shop")
    viewer = logged_in(client, "controlplane.view_project")
    changelist = reverse("admin:controlplane_project_changelist")
    data = {
        "action": action,
        "_selected_action": [str(project.pk)],
        "confirm": "yes",
        "reason": "x",
    }
    assert viewer.post(changelist, data).status_code == 403
    assert Project.objects.get(pk=project.pk).status == ProjectStatus.ACTIVE
