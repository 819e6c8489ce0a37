"""Provisioning run: steps, resume after a failure at each step, compensation, slug rules."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from controlplane.models import AuditLog, Project, ProjectStatus
from controlplane.services import project_create, project_suspend
from provisioning.models import ApiKey, ProvisioningStep, ServiceRegistration
from provisioning.selectors import tenant_password
from provisioning.service_client import ServiceCallError
from provisioning.services import (
    ProvisioningPermanentError,
    TenantDatabaseConflict,
    api_key_authenticate,
    api_key_issue,
    api_key_reveal_consume,
    api_key_revoke,
    provision_project_compensate,
    provision_project_run,
)
from tests.provisioning.conftest import (
    FakeService,
    connect_as,
    ddl,
    role_exists,
    schema_exists,
    unique_slug,
)

ALL = {"auth": True, "realtime": True, "storage": True}


def run(project: Any, **kw: Any) -> dict[str, Any]:
    return provision_project_run(project_id=project.pk, services=kw.pop("services", ALL), **kw)


def steps(project: Any) -> dict[str, tuple[str, int]]:
    return {
        s.name: (s.status, s.attempts) for s in ProvisioningStep.objects.filter(project=project)
    }


@pytest.mark.django_db
def test_provision__full_run(new_project: Any, fake_services: dict[str, FakeService]) -> None:
    result = run(new_project, api_key_count=2)
    new_project.refresh_from_db()
    schema = new_project.schema_name
    assert new_project.status == ProjectStatus.ACTIVE
    assert schema_exists(schema) and role_exists(schema)
    assert result["schema_name"] == schema
    assert result["database"] == {
        "host": connection.settings_dict["HOST"],
        "port": int(connection.settings_dict["PORT"]),
        "dbname": connection.settings_dict["NAME"],
        "user": schema,
    }
    for name, fake in fake_services.items():
        assert result["services"][name]["status"] == "registered"
        assert result["services"][name]["external_id"] == fake.tenants[new_project.slug]
    assert [k["prefix"] for k in result["api_keys"]] == [new_project.slug] * 2
    assert set(result["api_keys"][0]) == {"id", "prefix", "name", "created_at"}
    assert result["provisioned_at"] is not None and result["region"] == "local"
    assert set(steps(new_project).values()) == {("done", 1)}
    # The new keys wait for their one reveal and work once revealed.
    revealed = api_key_reveal_consume(project=new_project, actor=None)
    assert sorted(k.pk for k, _ in revealed) == [k["id"] for k in result["api_keys"]]
    assert api_key_authenticate(plaintext=revealed[0][1]).project_id == new_project.pk


@pytest.mark.django_db
def test_provision__rerun_changes_nothing(
    new_project: Any, fake_services: dict[str, FakeService]
) -> None:
    first = run(new_project)
    calls = sum(len(f.requests) for f in fake_services.values())
    assert run(new_project) == first
    assert sum(len(f.requests) for f in fake_services.values()) == calls
    assert ApiKey.objects.filter(project=new_project).count() == 1


@pytest.mark.django_db
def test_provision__unconfigured_services_skipped(new_project: Any, no_services: None) -> None:
    result = run(new_project, services={"auth": True, "realtime": False, "storage": True})
    assert {k: v["status"] for k, v in result["services"].items()} == {
        "auth": "skipped",
        "realtime": "disabled",
        "storage": "skipped",
    }


@pytest.mark.django_db
def test_provision__step1_failure_then_resume(
    new_project: Any, fake_services: dict[str, FakeService]
) -> None:
    name = new_project.schema_name
    with connection.cursor() as cursor:
        cursor.execute(ddl("CREATE ROLE {} NOLOGIN", name))
    with pytest.raises(TenantDatabaseConflict):
        run(new_project)
    assert steps(new_project) == {"database": ("failed", 1)}
    assert "already exists" in ProvisioningStep.objects.get(project=new_project).error
    assert not schema_exists(name)  # the step's schema went with its failed transaction
    with connection.cursor() as cursor:
        cursor.execute(ddl("DROP ROLE {}", name))
    run(new_project)
    assert steps(new_project)["database"] == ("done", 2)
    assert Project.objects.get(pk=new_project.pk).status == ProjectStatus.ACTIVE


@pytest.mark.django_db
def test_provision__step2_failure_then_resume(
    new_project: Any, fake_services: dict[str, FakeService]
) -> None:
    fake_services["storage"].mode = "fail"
    with pytest.raises(ServiceCallError):
        run(new_project)
    assert steps(new_project) == {"database": ("done", 1), "services": ("failed", 1)}
    fake_services["storage"].mode = "ok"
    run(new_project)
    assert steps(new_project) == {
        "database": ("done", 1),
        "services": ("done", 2),
        "api_keys": ("done", 1),
        "activate": ("done", 1),
    }
    assert len([r for r in fake_services["auth"].requests if r["method"] == "POST"]) == 1


@pytest.mark.django_db
def test_provision__step2_hanging_service_then_resume(
    new_project: Any, fake_services: dict[str, FakeService], settings: Any
) -> None:
    settings.PROVISIONING_HTTP_TIMEOUT = 0.2
    fake_services["auth"].mode = "hang"
    with pytest.raises(ServiceCallError, match="Timeout"):
        run(new_project)
    fake_services["auth"].mode = "ok"
    run(new_project)
    assert steps(new_project)["services"] == ("done", 2)


@pytest.mark.django_db
def test_provision__step3_failure_then_resume(
    new_project: Any, fake_services: dict[str, FakeService]
) -> None:
    early = [api_key_issue(project=new_project, name=f"k{i}")[0].pk for i in range(10)]
    with pytest.raises(ValidationError, match="limit is 10"):
        run(new_project)
    assert steps(new_project)["api_keys"] == ("failed", 1)
    api_key_revoke(key_ids=early, actor=None)
    result = run(new_project)
    assert steps(new_project)["api_keys"] == ("done", 2)
    assert len(result["api_keys"]) == 1 and result["api_keys"][0]["id"] not in early


@pytest.mark.django_db
def test_provision__step4_failure_then_resume(
    new_project: Any, fake_services: dict[str, FakeService]
) -> None:
    # A real database failure at the UPDATE that activates the project.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION prov_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'activation refused by test'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER prov_test_refuse BEFORE UPDATE ON controlplane_project "
            "FOR EACH ROW WHEN (NEW.status = 'ACTIVE') EXECUTE FUNCTION prov_test_refuse()"
        )
    with pytest.raises(Exception, match="activation refused by test"):
        run(new_project)
    assert steps(new_project)["activate"] == ("failed", 1)
    assert Project.objects.get(pk=new_project.pk).status == ProjectStatus.PROVISIONING
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER prov_test_refuse ON controlplane_project")
    run(new_project)
    assert steps(new_project)["activate"] == ("done", 2)
    assert ApiKey.objects.filter(project=new_project).count() == 1


@pytest.mark.django_db
def test_compensate__leaves_no_schema_role_registration(
    new_project: Any, fake_services: dict[str, FakeService]
) -> None:
    early = [api_key_issue(project=new_project, name=f"k{i}")[0].pk for i in range(10)]
    with pytest.raises(ValidationError):
        run(new_project)
    name = new_project.schema_name
    assert schema_exists(name) and role_exists(name)
    assert all(new_project.slug in f.tenants for f in fake_services.values())

    assert provision_project_compensate(project_id=new_project.pk, reason="keys: limit") == []
    assert not schema_exists(name) and not role_exists(name)
    assert all(not f.tenants for f in fake_services.values())
    assert not ServiceRegistration.objects.filter(project=new_project, status="registered")
    assert not ApiKey.objects.filter(project=new_project, revoked_at__isnull=True).exists()
    assert len(early) == 10
    project = Project.objects.get(pk=new_project.pk)
    assert project.status == ProjectStatus.PROVISION_FAILED
    audit = AuditLog.objects.get(action="project.provision_failed", target_id=project.slug)
    assert audit.reason == "keys: limit"
    assert steps(new_project) == {
        "database": ("compensated", 1),
        "services": ("compensated", 1),
        "api_keys": ("failed", 1),
    }


@pytest.mark.django_db
def test_compensate__keeps_a_schema_it_did_not_create(
    new_project: Any, fake_services: dict[str, FakeService]
) -> None:
    name = new_project.schema_name
    with connection.cursor() as cursor:
        cursor.execute(ddl("CREATE SCHEMA {}", name))
    fake_services["auth"].mode = "refuse"
    with pytest.raises(ServiceCallError):
        run(new_project)
    provision_project_compensate(project_id=new_project.pk, reason="auth refused")
    assert schema_exists(name) and not role_exists(name)


@pytest.mark.django_db
def test_compensate__after_step1_failure_touches_nothing_else(
    new_project: Any, no_services: None
) -> None:
    other = project_create(slug=unique_slug(), name="Other")
    with connection.cursor() as cursor:
        cursor.execute(ddl("CREATE ROLE {} NOLOGIN", new_project.schema_name))
    with pytest.raises(TenantDatabaseConflict):
        run(new_project)
    provision_project_compensate(project_id=new_project.pk, reason="role conflict")
    # The conflicting role was not ours: it stays.
    assert role_exists(new_project.schema_name)
    assert Project.objects.get(pk=other.pk).status == ProjectStatus.PROVISIONING


@pytest.mark.django_db
def test_provision__refuses_wrong_state_and_arguments(new_project: Any, no_services: None) -> None:
    with pytest.raises(ProvisioningPermanentError, match="between 1 and 10"):
        run(new_project, api_key_count=11)
    with pytest.raises(ProvisioningPermanentError, match="Unknown services"):
        run(new_project, services={"email": True})
    with pytest.raises(ProvisioningPermanentError, match="does not exist"):
        provision_project_run(project_id=0, services=ALL)
    Project.objects.filter(pk=new_project.pk).update(status=ProjectStatus.ACTIVE)
    project_suspend(project_ids=[new_project.pk], actor=None, reason="x")
    with pytest.raises(ProvisioningPermanentError, match="SUSPENDED"):
        run(new_project)
    assert not ProvisioningStep.objects.filter(project=new_project).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "slug",
    [
        "a" * 41,
        "Acme",
        "ACME-SHOP",
        "acme_shop",
        "acme shop",
        "acme;drop",
        "ab",
        "9lives",
        "é-shop",
    ],
)
def test_project_slug__edge_cases_rejected_clearly(slug: str) -> None:
    with pytest.raises(ValidationError, match="not a valid project slug") as caught:
        project_create(slug=slug, name="X")
    assert "3-40 characters, lowercase letters, digits and hyphens" in caught.value.messages[0]
    assert not Project.objects.exists()


def test_provision__tenant_can_log_in_after_provisioning(
    committed_tenants: list[str], fake_services: dict[str, FakeService]
) -> None:
    project = project_create(slug=unique_slug(), name="Live")
    committed_tenants.append(project.schema_name)
    result = run(project)
    db = result["database"]
    with connect_as(db["user"], tenant_password(project=project)) as conn:
        conn.execute("CREATE TABLE t (v int)")
        assert conn.execute("SELECT current_schema()").fetchone() == (result["schema_name"],)
