"""The operator roles: groups set on every migrate, and a viewer who can act on nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import URLPattern, reverse

from controlplane import roles
from controlplane.models import AuditLog, ProjectStatus
from tests import factories

pytestmark = pytest.mark.django_db

VIEWER_CODENAMES = {
    "backfill.view_backfilllog",
    "backfill.view_backfillstatsdelta",
    "backfill.view_book",
    "backfill.view_providerquota",
    "backups.view_backup",
    "backups.view_backupschedule",
    "backups.view_exportrequest",
    "backups.view_telegramfile",
    "console.view_backuphour",
    "console.view_jobhour",
    "console.view_jobminute",
    "controlplane.view_auditlog",
    "controlplane.view_project",
    "jobs.view_job",
    "jobs.view_jobattempt",
    "jobs.view_pausedjobtype",
    "provisioning.view_apikey",
    "provisioning.view_provisioningstep",
    "provisioning.view_serviceregistration",
}
OPERATOR_ACTIONS = {
    "backfill.manage_backfill",
    "backups.change_backupschedule",
    "backups.download_backup",
    "backups.manage_backup",
    "backups.request_export",
    "controlplane.add_project",
    "controlplane.suspend_project",
    "jobs.operate_job",
    "provisioning.issue_apikey",
    "provisioning.revoke_apikey",
}
# jobs.pause_jobtype and jobs.run_job join the operators wherever the jobs app declares them.
OPTIONAL_ACTIONS = {"jobs.pause_jobtype", "jobs.run_job"}
# Custom admin pages that only show things: a viewer may open them.
READ_ONLY_VIEWS = {"backfill_backfilllog_grid"}
STANDARD_VIEWS = ("_changelist", "_add", "_history", "_delete", "_change", "_autocomplete")


def codenames(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {
        f"{app}.{code}"
        for app, code in group.permissions.values_list("content_type__app_label", "codename")
    }


def declared(names: set[str]) -> set[str]:
    return {
        n
        for n in names
        if Permission.objects.filter(
            content_type__app_label=n.split(".")[0], codename=n.split(".")[1]
        ).exists()
    }


@pytest.fixture
def viewer(client: Client) -> Client:
    user = factories.staff(username="watcher")
    user.groups.add(Group.objects.get(name=roles.VIEWER_GROUP))
    client.force_login(user)
    return client


def test_groups__exist_after_migrate_with_exactly_their_codenames() -> None:
    # Models the test database has that are not listed here fail this test: decide their role.
    ours = {m._meta.app_label for m in apps.get_models()} & set(roles.ROLE_APPS)
    assert ours == set(roles.ROLE_APPS)
    assert codenames(roles.VIEWER_GROUP) == VIEWER_CODENAMES
    expected = VIEWER_CODENAMES | OPERATOR_ACTIONS | declared(OPTIONAL_ACTIONS)
    assert codenames(roles.OPERATOR_GROUP) == expected


def test_groups__viewer_has_no_django_q_no_action_and_no_secret_store() -> None:
    viewer = codenames(roles.VIEWER_GROUP)
    assert not viewer & set(roles.WITHHELD_VIEWS)
    assert not codenames(roles.OPERATOR_GROUP) & set(roles.WITHHELD_VIEWS)
    assert not any(name.startswith(("django_q.", "axes.", "auth.")) for name in viewer)
    assert all(name.split(".")[1].startswith("view_") for name in viewer)
    assert "backups.download_backup" not in viewer


def test_sync__idempotent_and_repairs_drift() -> None:
    group = Group.objects.get(name=roles.OPERATOR_GROUP)
    group.permissions.remove(Permission.objects.get(codename="operate_job"))
    group.permissions.add(Permission.objects.get(codename="delete_project"))
    before = Group.objects.count()
    roles.sync_operator_groups()
    roles.sync_operator_groups()
    assert Group.objects.count() == before
    assert "jobs.operate_job" in codenames(roles.OPERATOR_GROUP)
    assert "controlplane.delete_project" not in codenames(roles.OPERATOR_GROUP)


def test_migrate__sets_the_groups_again() -> None:
    Group.objects.filter(name__in=[roles.VIEWER_GROUP, roles.OPERATOR_GROUP]).delete()
    call_command("migrate", verbosity=0)
    assert codenames(roles.VIEWER_GROUP) == VIEWER_CODENAMES


def _model_admins() -> list[Any]:
    """Return the admin of every registered model of our apps."""
    return [
        admin.site.get_model_admin(model)
        for model in apps.get_models()
        if admin.site.is_registered(model) and model._meta.app_label in roles.ROLE_APPS
    ]


def _changelist(model_admin: Any) -> str:
    return reverse(f"admin:{model_admin.opts.app_label}_{model_admin.opts.model_name}_changelist")


def _all_actions(model_admin: Any) -> list[str]:
    request = RequestFactory().get("/")
    superuser: Any = factories.user(username=f"su-{model_admin.opts.model_name}", is_superuser=True)
    request.user = superuser
    return list(model_admin.get_actions(request))


def test_viewer__403_on_every_changelist_action_posted_directly(viewer: Client) -> None:
    project = factories.project(slug="acme-shop")
    posted = 0
    for model_admin in _model_admins():
        if model_admin.opts.app_label == "django_q":
            continue
        url = reverse(
            f"admin:{model_admin.opts.app_label}_{model_admin.opts.model_name}_changelist"
        )
        for action in _all_actions(model_admin):
            for extra in ({"index": "0"}, {"confirm": "yes", "reason": "x"}):
                data = {"action": action, "_selected_action": ["1", str(project.pk)], **extra}
                response = viewer.post(url, data)
                assert response.status_code == 403, (url, action, extra)
                posted += 1
    assert posted > 20  # retry, cancel, suspend, verify, hold, revoke, ... were all tried
    assert Project_status(project) == ProjectStatus.ACTIVE
    assert not AuditLog.objects.exclude(action="project.create").exists()


def Project_status(project: Any) -> str:
    project.refresh_from_db()
    return str(project.status)


def _fill(pattern: URLPattern, project_pk: int) -> dict[str, Any]:
    return {name: project_pk for name in re.findall(r"<(?:\w+:)?(\w+)>", str(pattern.pattern))}


def test_viewer__403_on_every_custom_admin_url(viewer: Client) -> None:
    project = factories.project(slug="acme-shop")
    checked = []
    for model_admin in _model_admins():
        for pattern in model_admin.get_urls():
            name = getattr(pattern, "name", None) or ""
            if not name or name.endswith(STANDARD_VIEWS) or name in READ_ONLY_VIEWS:
                continue
            url = reverse(f"admin:{name}", kwargs=_fill(pattern, project.pk))
            assert viewer.get(url).status_code == 403, url
            assert viewer.post(url, {"confirm": "yes", "reason": "x"}).status_code == 403, url
            checked.append(name)
    assert "provisioning_apikey_issue" in checked and "provisioning_apikey_reveal" in checked


def test_viewer__sees_no_actions_and_no_add_buttons(viewer: Client) -> None:
    factories.project(slug="acme-shop")
    for model_admin in _model_admins():
        if model_admin.opts.app_label == "django_q":
            continue
        url = reverse(
            f"admin:{model_admin.opts.app_label}_{model_admin.opts.model_name}_changelist"
        )
        page = viewer.get(url)
        assert page.status_code == 200, url
        body = page.content.decode()
        assert 'name="action"' not in body, url
        assert 'class="addlink"' not in body, url
        assert "Issue an API key" not in body, url


def test_operator__may_run_the_actions(client: Client) -> None:
    user = factories.staff(username="op")
    user.groups.add(Group.objects.get(name=roles.OPERATOR_GROUP))
    client.force_login(user)
    project = factories.project(slug="acme-shop")
    url = reverse("admin:controlplane_project_changelist")
    data = {"action": "suspend", "_selected_action": [project.pk]}
    done = client.post(url, {**data, "confirm": "yes", "reason": "chargeback"})
    assert done.status_code == 302
    assert Project_status(project) == ProjectStatus.SUSPENDED
