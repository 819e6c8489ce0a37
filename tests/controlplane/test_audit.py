"""The audit trail: rows name their project, bulk actions share an id, History shows them."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.urls import reverse

from backups.services import backup_legal_hold_set, backup_verify_request
from controlplane.audit import audit_rows_for, audit_target_url
from controlplane.models import AuditLog, Project
from controlplane.services import audit_log_record, project_suspend
from jobs.models import Job
from jobs.services import enqueue_job, job_cancel
from provisioning.services import api_key_issue
from tests import factories
from tests.backups import factories as backup_factories
from tests.backups.conftest import backup_store  # noqa: F401  (autouse: a store per test)
from tests.jobs import sample_handlers  # noqa: F401  (registers test.noop)

pytestmark = pytest.mark.django_db
AUDIT_LIST = reverse("admin:controlplane_auditlog_changelist")


@pytest.fixture
def root(client: Client) -> Client:
    client.force_login(factories.user(username="root", is_staff=True, is_superuser=True))
    return client


def test_audit_log_record__project_by_instance_or_id_and_backward_compatible(
    project: Project,
) -> None:
    by_obj = audit_log_record(
        actor=None, action="x.a", target_type="thing", target_id="1", project=project
    )
    by_id = audit_log_record(
        actor=None, action="x.b", target_type="thing", target_id="2", project=project.pk
    )
    old_style = audit_log_record(actor=None, action="x.c", target_type="thing", target_id="3")
    assert (by_obj.project_id, by_id.project_id, old_style.project_id) == (
        project.pk,
        project.pk,
        None,
    )


def test_services__set_the_project_of_their_rows(project: Project) -> None:
    backup = backup_factories.backup(project=project)
    backup_legal_hold_set(backup_ids=[backup.pk], hold=True, actor=None)
    key, _ = api_key_issue(project=project, name="ci")
    job, _ = enqueue_job(type="test.noop", payload={}, project=project)
    job_cancel(job_ids=[job.pk], actor=None, reason="test")
    project_suspend(project_ids=[project.pk], actor=None, reason="chargeback")
    rows = AuditLog.objects.filter(
        action__in=["backup.hold", "api_key.issue", "job.cancel", "project.suspend"]
    )
    assert {r.action: r.project_id for r in rows} == {
        "backup.hold": project.pk,
        "api_key.issue": project.pk,
        "job.cancel": project.pk,
        "project.suspend": project.pk,
    }
    assert key.pk


def test_bulk_action__one_row_per_object_sharing_a_bulk_id(root: Client) -> None:
    first, second = factories.project(slug="acme-one"), factories.project(slug="acme-two")
    project_suspend(project_ids=[first.pk, second.pk], actor=None, reason="sweep")
    rows = list(AuditLog.objects.filter(action="project.suspend"))
    assert sorted(r.target_id for r in rows) == ["acme-one", "acme-two"]
    bulk_ids = {r.details.get("bulk_id") for r in rows}
    assert len(bulk_ids) == 1 and None not in bulk_ids
    # The audit list links the rows of one bulk action together.
    page = root.get(AUDIT_LIST, {"details__bulk_id": bulk_ids.pop()})
    assert page.status_code == 200
    assert page.content.count(b"(bulk)") == 2


def test_single_action__no_bulk_id(project: Project) -> None:
    project_suspend(project_ids=[project.pk], actor=None, reason="one")
    assert "bulk_id" not in AuditLog.objects.get(action="project.suspend").details


def test_job_bulk_cancel__rows_share_a_bulk_id(project: Project) -> None:
    jobs = [enqueue_job(type="test.noop", payload={}, project=project)[0] for _ in range(3)]
    job_cancel(job_ids=[j.pk for j in jobs], actor=None, reason="tidy")
    rows = AuditLog.objects.filter(action="job.cancel")
    assert rows.count() == 3
    assert len({r.details["bulk_id"] for r in rows}) == 1


def test_backup_bulk_verify_and_hold__rows_share_a_bulk_id(project: Project) -> None:
    backups = [backup_factories.backup(project=project) for _ in range(2)]
    ids = [b.pk for b in backups]
    backup_verify_request(backup_ids=ids, actor=None)
    backup_legal_hold_set(backup_ids=ids, hold=True, actor=None)
    for action in ("backup.verify_requested", "backup.hold"):
        rows = AuditLog.objects.filter(action=action)
        assert sorted(r.target_id for r in rows) == sorted(str(i) for i in ids)
        assert len({r.details["bulk_id"] for r in rows}) == 1
        assert {r.project_id for r in rows} == {project.pk}


def test_data_migration__fills_project_from_target_or_details() -> None:
    project = factories.project(slug="acme-shop")
    other = factories.project(slug="other-shop")
    backup = backup_factories.backup(project=project)
    job, _ = enqueue_job(type="test.noop", payload={}, project=project)
    key, _ = api_key_issue(project=project, name="ci")
    AuditLog.objects.update(project=None)  # as rows were before the column
    made = {
        "slug": audit_log_record(
            actor=None, action="a", target_type="project", target_id="acme-shop"
        ),
        "pk": audit_log_record(
            actor=None, action="b", target_type="project", target_id=str(other.pk)
        ),
        "backup": audit_log_record(
            actor=None, action="c", target_type="backup", target_id=str(backup.pk)
        ),
        "job": audit_log_record(actor=None, action="d", target_type="job", target_id=str(job.pk)),
        "key": audit_log_record(
            actor=None, action="e", target_type="api_key", target_id=str(key.pk)
        ),
        "details": audit_log_record(
            actor=None,
            action="f",
            target_type="login",
            target_id="x",
            details={"project": "other-shop"},
        ),
        "none": audit_log_record(actor=None, action="g", target_type="login", target_id="y"),
    }
    migration = importlib.import_module("controlplane.migrations.0005_auditlog_project_backfill")
    with connection.schema_editor() as editor:
        migration.forwards(apps, editor)
    filled = {name: AuditLog.objects.get(pk=row.pk).project_id for name, row in made.items()}
    assert filled == {
        "slug": project.pk,
        "pk": other.pk,
        "backup": project.pk,
        "job": project.pk,
        "key": project.pk,
        "details": other.pk,
        "none": None,
    }


def test_history__project_shows_its_audit_rows_and_its_records(
    root: Client, project: Project
) -> None:
    project_suspend(project_ids=[project.pk], actor=None, reason="chargeback 42")
    backup = backup_factories.backup(project=project)
    backup_legal_hold_set(backup_ids=[backup.pk], hold=True, actor=None)
    page = root.get(reverse("admin:controlplane_project_history", args=[project.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "project.suspend" in body and "chargeback 42" in body
    assert "backup.hold" in body  # one of the project's backups
    assert reverse("admin:backups_backup_change", args=[backup.pk]) in body
    assert "has no history" not in body and "change history" not in body


def test_history__any_object_shows_its_rows(root: Client, project: Project) -> None:
    job, _ = enqueue_job(type="test.noop", payload={}, project=project)
    job_cancel(job_ids=[job.pk], actor=None, reason="not needed")
    page = root.get(reverse("admin:jobs_job_history", args=[job.pk]))
    assert page.status_code == 200
    assert b"job.cancel" in page.content and b"not needed" in page.content
    other, _ = enqueue_job(type="test.noop", payload={}, project=project)
    quiet = root.get(reverse("admin:jobs_job_history", args=[other.pk]))
    assert b"No audited action concerns this object yet." in quiet.content


def test_history__needs_view_permission(client: Client, project: Project) -> None:
    client.force_login(factories.staff(username="nobody"))
    page = client.get(reverse("admin:controlplane_project_history", args=[project.pk]))
    assert page.status_code == 403


def test_audit_rows_for__backfill_month_by_year_month() -> None:
    log = apps.get_model("backfill", "BackfillLog").objects.create(year=2024, month=3)
    audit_log_record(actor=None, action="m", target_type="backfill_log", target_id="2024-03")
    audit_log_record(actor=None, action="n", target_type="backfill_log", target_id="2024-04")
    assert [r.action for r in audit_rows_for(log)] == ["m"]


def test_audit_target_url__links_each_target_type(project: Project) -> None:
    job, _ = enqueue_job(type="test.noop", payload={}, project=project)
    rows = {
        "project": AuditLog(target_type="project", target_id=project.slug, project=project),
        "job": AuditLog(target_type="job", target_id=str(job.pk)),
        "backfill": AuditLog(target_type="backfill_log", target_id="2024-03"),
        "login": AuditLog(target_type="login", target_id="root"),
    }
    urls = {name: audit_target_url(row) for name, row in rows.items()}
    assert urls["project"] == reverse("admin:controlplane_project_change", args=[project.pk])
    assert urls["job"] == reverse("admin:jobs_job_change", args=[job.pk])
    assert urls["backfill"] == (
        reverse("admin:backfill_backfilllog_changelist") + "?year=2024&month=3"
    )
    assert urls["login"] is None


def test_audit_admin__filters_by_project_with_autocomplete(root: Client) -> None:
    first, second = factories.project(slug="acme-one"), factories.project(slug="acme-two")
    page = root.get(AUDIT_LIST, {"project__id__exact": first.pk})
    assert page.status_code == 200
    rows = page.context["cl"].result_list
    assert {r.target_id for r in rows} == {"acme-one"}
    body = page.content.decode()
    assert 'id="project-filter"' in body and "admin-autocomplete" in body
    assert 'data-model-name="auditlog"' in body and "select2" in body
    # The filter searches: no project is listed as a link of its own.
    assert f"project__id__exact={second.pk}" not in body
    found = root.get(
        reverse("admin:autocomplete"),
        {
            "term": "acme-t",
            "app_label": "controlplane",
            "model_name": "auditlog",
            "field_name": "project",
        },
    )
    assert [r["id"] for r in found.json()["results"]] == [str(second.pk)]


def test_audit_admin__filters_by_actor_and_action(root: Client) -> None:
    factories.project(slug="acme-one")
    page = root.get(AUDIT_LIST, {"action": "project.create", "actor_label": "system"})
    assert page.status_code == 200
    assert [r.action for r in page.context["cl"].result_list] == ["project.create"]
    assert b'href="/admin/controlplane/project/' in page.content  # the target links


def test_job_rows__project_set_when_job_has_none() -> None:
    job, _ = enqueue_job(type="test.noop", payload={})
    job_cancel(job_ids=[job.pk], actor=None)
    assert AuditLog.objects.get(action="job.cancel", target_id=str(job.pk)).project_id is None
    assert Job.objects.filter(pk=job.pk).exists()
