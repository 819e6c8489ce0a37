"""Projects: slug rules in code and in the database, suspend/reactivate with audit rows."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from controlplane.models import AuditLog, Project, ProjectStatus
from controlplane.services import project_create, project_reactivate, project_suspend
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "slug",
    ["ab", "a" * 41, "Acme", "1acme", "-acme", "acme_shop", "acme shop", "acmé", "acme;drop", ""],
)
def test_project_create__bad_slug_rejected_with_message(slug: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        project_create(slug=slug, name="x")
    assert "3-40 characters" in str(excinfo.value)
    assert not Project.objects.exists()


def test_project_create__schema_name_derived_by_the_database() -> None:
    project = project_create(slug="acme-shop-eu", name="Acme")
    project.refresh_from_db()
    assert project.schema_name == "tenant_acme_shop_eu"
    assert project.status == ProjectStatus.PROVISIONING
    assert AuditLog.objects.filter(action="project.create", target_id="acme-shop-eu").count() == 1


def test_project_create__duplicate_slug_rejected() -> None:
    project_create(slug="acme", name="A")
    with pytest.raises(ValidationError, match="already exists"):
        project_create(slug="acme", name="B")


def test_project__database_refuses_bad_slug_and_inconsistent_suspension() -> None:
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO controlplane_project (slug, name, status, region, owner_id,"
            " organization_id, created_at, suspended_reason)"
            " VALUES ('Bad_Slug', 'x', 'ACTIVE', 'r', '', '', now(), '')"
        )
    project = factories.project(slug="fine-slug")
    with pytest.raises(IntegrityError), transaction.atomic():
        Project.objects.filter(pk=project.pk).update(status=ProjectStatus.SUSPENDED)


def test_project_suspend__changes_active_only_and_audits(staff_user: Any) -> None:
    active = factories.project(slug="active-one")
    pending = factories.project(slug="pending-one", status=ProjectStatus.PROVISIONING)
    changed = project_suspend(
        project_ids=[active.pk, pending.pk], actor=staff_user, reason="  unpaid invoice "
    )
    assert changed == 1
    active.refresh_from_db()
    pending.refresh_from_db()
    assert active.status == ProjectStatus.SUSPENDED and active.suspended_at is not None
    assert active.suspended_reason == "unpaid invoice"
    assert pending.status == ProjectStatus.PROVISIONING
    rows = list(AuditLog.objects.filter(action="project.suspend"))
    assert [(r.target_id, r.actor_label, r.reason, r.actor_id) for r in rows] == [
        ("active-one", "operator", "unpaid invoice", staff_user.pk)
    ]


def test_project_suspend__twice_changes_nothing_the_second_time(staff_user: Any) -> None:
    project = factories.project(slug="twice")
    assert project_suspend(project_ids=[project.pk], actor=staff_user, reason="r") == 1
    assert project_suspend(project_ids=[project.pk], actor=staff_user, reason="r") == 0
    assert AuditLog.objects.filter(action="project.suspend").count() == 1


def test_project_suspend__reason_required(staff_user: Any) -> None:
    project = factories.project(slug="needs-reason")
    with pytest.raises(ValidationError, match="reason"):
        project_suspend(project_ids=[project.pk], actor=staff_user, reason="   ")
    project.refresh_from_db()
    assert project.status == ProjectStatus.ACTIVE


def test_project_reactivate__restores_active_and_audits(staff_user: Any) -> None:
    project = factories.project(slug="comeback")
    project_suspend(project_ids=[project.pk], actor=staff_user, reason="fraud check")
    assert project_reactivate(project_ids=[project.pk], actor=None, reason="cleared") == 1
    project.refresh_from_db()
    assert project.status == ProjectStatus.ACTIVE
    assert project.suspended_at is None and project.suspended_reason == ""
    row = AuditLog.objects.get(action="project.reactivate")
    assert (row.actor_label, row.actor_id, row.reason) == ("system", None, "cleared")
