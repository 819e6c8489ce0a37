"""Re-provisioning a PROVISION_FAILED project: status_reason, project_reprovision, its job."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from controlplane.models import AuditLog, Project, ProjectStatus
from jobs.models import Job, JobStatus
from jobs.services import job_retry
from provisioning.models import ApiKey, ProvisioningStep, ServiceRegistration
from provisioning.selectors import tenant_password
from provisioning.services import (
    api_key_reveal_consume,
    project_reprovision,
    provision_project_compensate,
)
from tests import factories
from tests.provisioning.conftest import (
    FakeService,
    connect_as,
    make_due,
    provision_request,
    provisioning_steps,
    role_exists,
    run_job,
    schema_exists,
    unique_slug,
)

pytestmark = pytest.mark.django_db(transaction=True)


def run_until_done(job: Job) -> Job:
    """Run `job` attempt after attempt (skipping the backoff) until it ends."""
    job = run_job(job)
    while job.status == JobStatus.PENDING:
        make_due(job)
        job = run_job(job)
    return job


def failed_project(tenants: list[str], fake: FakeService, **kw: Any) -> tuple[Project, Job]:
    """Return a project whose provisioning failed for good because `fake` answers HTTP 500."""
    project, job = provision_request(tenants, **kw)
    fake.mode = "fail"
    job = run_until_done(job)
    assert job.status == JobStatus.FAILED, job.status
    project.refresh_from_db()
    assert project.status == ProjectStatus.PROVISION_FAILED
    return project, job


def test_reprovision__failed_service_fixed_then_active(
    committed_tenants: list[str], fake_services: dict[str, FakeService]
) -> None:
    storage = fake_services["storage"]
    project, old = failed_project(
        committed_tenants, storage, region="eu-west", api_key_count=2, api_key_prefix="sk"
    )
    assert project.status_reason.startswith("Step services (Register with services) failed: ")
    assert "storage service POST /admin/tenants failed" in project.status_reason
    assert len(project.status_reason) <= 500
    assert all(f.token not in project.status_reason for f in fake_services.values())
    # Compensation undid the run: nothing registered, no schema, no role.
    assert not schema_exists(project.schema_name) and not role_exists(project.schema_name)
    assert not any(f.tenants for f in fake_services.values())
    # The failed job cannot bring it back by itself.
    job_retry(job_ids=[old.pk], actor=None)
    assert run_job(old).status == JobStatus.FAILED
    assert Project.objects.get(pk=project.pk).status == ProjectStatus.PROVISION_FAILED

    storage.mode = "ok"
    operator = factories.staff(username="operator")
    job = project_reprovision(project=project, actor=operator, reason="storage is back")
    assert job.pk != old.pk and job.status == JobStatus.PENDING
    assert job.type == "provision_project" and job.project_id == project.pk
    assert job.payload == old.payload
    assert job.payload["api_keys"] == {"count": 2, "prefix": "sk"}
    assert Project.objects.get(pk=project.pk).status == ProjectStatus.PROVISIONING
    assert {status for status, _ in provisioning_steps(project).values()} == {"pending"}
    audit = AuditLog.objects.get(action="project.reprovision", target_id=project.slug)
    assert (audit.actor_label, audit.reason) == ("operator", "storage is back")
    assert audit.details["job_id"] == str(job.pk)
    assert audit.details["previous_job_id"] == str(old.pk)
    assert audit.details["previous_status_reason"] == project.status_reason

    job = run_job(job)
    assert job.status == JobStatus.COMPLETED, job.last_error
    project.refresh_from_db()
    assert project.status == ProjectStatus.ACTIVE and project.status_reason == ""
    assert schema_exists(project.schema_name) and role_exists(project.schema_name)
    # Every step ran again, from the start (services after its three failed attempts).
    assert provisioning_steps(project) == {
        "database": ("done", 2),
        "services": ("done", 4),
        "api_keys": ("done", 1),
        "activate": ("done", 1),
    }
    for name, fake in fake_services.items():
        registration = ServiceRegistration.objects.get(project=project, service=name)
        assert registration.status == "registered"
        assert registration.external_id == fake.tenants[project.slug]
    assert job.result["region"] == "eu-west"
    keys = list(ApiKey.objects.filter(project=project, revoked_at__isnull=True))
    assert sorted(k.pk for k in keys) == sorted(k["id"] for k in job.result["api_keys"])
    assert [k.prefix for k in keys] == ["sk", "sk"]
    revealed = api_key_reveal_consume(project=project, actor=None)
    assert len(revealed) == 2 and all(p.startswith("sk_") for _, p in revealed)
    with connect_as(project.schema_name, tenant_password(project=project)) as conn:
        assert conn.execute("SELECT current_schema()").fetchone() == (project.schema_name,)


def test_reprovision__refuses_other_statuses_and_no_reason(
    committed_tenants: list[str], no_services: None
) -> None:
    active = factories.project(slug=unique_slug())
    provisioning, _ = provision_request(committed_tenants, services={})
    for project, status in ((active, "ACTIVE"), (provisioning, "PROVISIONING")):
        with pytest.raises(ValidationError, match=f"is {status}; only a project whose"):
            project_reprovision(project=project, actor=None, reason="try again")
    failed = factories.project(slug=unique_slug(), status=ProjectStatus.PROVISIONING)
    provision_project_compensate(project_id=failed.pk, reason="gave up")
    with pytest.raises(ValidationError, match="A reason is required"):
        project_reprovision(project=failed, actor=None, reason="  ")
    assert Job.objects.filter(project__in=[active, failed]).count() == 0
    assert Project.objects.get(pk=active.pk).status == ProjectStatus.ACTIVE
    assert Project.objects.get(pk=failed.pk).status == ProjectStatus.PROVISION_FAILED
    assert not AuditLog.objects.filter(action="project.reprovision").exists()


def test_reprovision__refuses_while_a_provision_job_is_active(
    committed_tenants: list[str], fake_services: dict[str, FakeService]
) -> None:
    project, old = failed_project(committed_tenants, fake_services["auth"])
    job_retry(job_ids=[old.pk], actor=None)  # pending again, not yet run
    with pytest.raises(ValidationError, match=f"still has provision_project job {old.pk}"):
        project_reprovision(project=project, actor=None, reason="auth fixed")
    assert Project.objects.get(pk=project.pk).status == ProjectStatus.PROVISION_FAILED
    assert Job.objects.filter(project=project).count() == 1


def test_reprovision__original_request_from_audit_once_the_job_is_pruned(
    committed_tenants: list[str], fake_services: dict[str, FakeService]
) -> None:
    services = {"auth": True, "realtime": False, "storage": True}
    project, old = failed_project(
        committed_tenants, fake_services["auth"], services=services, api_key_count=3
    )
    Job.objects.filter(pk=old.pk).delete()  # as retention does after JOBS_FAILED_RETENTION_DAYS
    fake_services["auth"].mode = "ok"
    job = project_reprovision(project=project, actor=None, reason="auth fixed")
    assert job.payload["services"] == services
    assert job.payload["api_keys"] == {"count": 3, "prefix": None}
    assert run_job(job).status == JobStatus.COMPLETED
    assert ApiKey.objects.filter(project=project, revoked_at__isnull=True).count() == 3
    assert "realtime" not in {
        r.service for r in ServiceRegistration.objects.filter(project=project)
    }
    audit = AuditLog.objects.get(action="project.reprovision", target_id=project.slug)
    assert audit.details["previous_job_id"] is None
    assert (audit.details["services"], audit.details["api_keys"]["count"]) == (services, 3)


def test_reprovision__fails_again_then_succeeds(
    committed_tenants: list[str], fake_services: dict[str, FakeService]
) -> None:
    realtime = fake_services["realtime"]
    project, _ = failed_project(committed_tenants, realtime)
    job = project_reprovision(project=project, actor=None, reason="maybe fixed")
    assert Project.objects.get(pk=project.pk).status_reason == project.status_reason
    assert run_until_done(job).status == JobStatus.FAILED
    project.refresh_from_db()
    assert project.status == ProjectStatus.PROVISION_FAILED
    assert project.status_reason.startswith("Step services ")
    assert "realtime service" in project.status_reason
    realtime.mode = "ok"
    job = project_reprovision(project=project, actor=None, reason="fixed now")
    assert run_job(job).status == JobStatus.COMPLETED
    project.refresh_from_db()
    assert (project.status, project.status_reason) == (ProjectStatus.ACTIVE, "")
    assert Job.objects.filter(project=project, type="provision_project").count() == 3


def test_status_reason__redacts_secrets_and_names_an_unfinished_step(
    committed_tenants: list[str], fake_services: dict[str, FakeService]
) -> None:
    project = factories.project(slug=unique_slug(), status=ProjectStatus.PROVISIONING)
    ProvisioningStep.objects.create(project=project, name="database", status="done")
    ProvisioningStep.objects.create(project=project, name="services", status="running")
    token = fake_services["storage"].token
    provision_project_compensate(project_id=project.pk, reason=f"lost worker\n{token} " + "x" * 600)
    project.refresh_from_db()
    assert project.status_reason.startswith(
        "Step services (Register with services) did not finish: lost worker [redacted] xxx"
    )
    assert token not in project.status_reason
    assert len(project.status_reason) == 500 and project.status_reason.endswith("…")


# --- the admin action ------------------------------------------------------------------------

CHANGELIST = reverse("admin:controlplane_project_changelist")


def staff_with(*codenames: str) -> Client:
    user = factories.staff()
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def test_retry_provisioning_action__confirm_requeue_audited(
    committed_tenants: list[str], fake_services: dict[str, FakeService]
) -> None:
    storage = fake_services["storage"]
    storage.mode = "refuse"  # HTTP 403: fails for good at the first attempt
    project, old = provision_request(committed_tenants)
    assert run_job(old).status == JobStatus.FAILED
    project.refresh_from_db()
    assert project.status == ProjectStatus.PROVISION_FAILED
    assert "storage service refused the registration" in project.status_reason
    live = factories.project(slug=unique_slug())
    root = Client()
    root.force_login(factories.user(username="root", is_staff=True, is_superuser=True))

    change = root.get(reverse("admin:controlplane_project_change", args=[project.pk]))
    assert "Status reason" in change.content.decode()
    assert project.status_reason in change.content.decode()
    assert 'id="retry-provisioning-form"' in change.content.decode()  # the same action
    live_page = root.get(reverse("admin:controlplane_project_change", args=[live.pk]))
    assert 'id="retry-provisioning-form"' not in live_page.content.decode()
    listing = root.get(CHANGELIST).content.decode()
    assert 'value="retry_provisioning"' in listing and "Retry provisioning…" in listing

    data = {"action": "retry_provisioning", "_selected_action": [project.pk, live.pk]}
    page = root.post(CHANGELIST, data).content.decode()
    assert "Retry the provisioning of these 1 project(s)?" in page
    assert project.status_reason in page and live.slug not in page
    assert "1 selected project(s) did not fail provisioning" in page
    refused = root.post(CHANGELIST, {**data, "confirm": "yes", "reason": ""})
    assert b"This field is required." in refused.content
    assert Job.objects.filter(project=project).count() == 1

    storage.mode = "ok"
    done = root.post(
        CHANGELIST, {**data, "confirm": "yes", "reason": "storage token fixed"}, follow=True
    )
    assert b"Re-queued provisioning of 1 project(s)." in done.content
    assert b"Skipped 1 project(s) whose provisioning has not failed." in done.content
    job = Job.objects.filter(project=project).exclude(pk=old.pk).get()
    assert (job.type, job.status, job.payload) == ("provision_project", "pending", old.payload)
    assert Project.objects.get(pk=project.pk).status == ProjectStatus.PROVISIONING
    assert not Job.objects.filter(project=live).exists()
    audit = AuditLog.objects.get(action="project.reprovision")
    assert (audit.actor_label, audit.reason, audit.target_id) == (
        "root",
        "storage token fixed",
        project.slug,
    )
    assert audit.details["job_id"] == str(job.pk)

    # Selected again while PROVISIONING: nothing to retry, nothing enqueued.
    again = root.post(CHANGELIST, {**data, "confirm": "yes", "reason": "twice"}, follow=True)
    assert b"Re-queued provisioning of 0 project(s)." in again.content
    assert Job.objects.filter(project=project).count() == 2

    assert run_job(job).status == JobStatus.COMPLETED
    project.refresh_from_db()
    assert (project.status, project.status_reason) == (ProjectStatus.ACTIVE, "")


def test_retry_provisioning_action__needs_add_project_permission(no_services: None) -> None:
    project = factories.project(slug=unique_slug(), status=ProjectStatus.PROVISIONING)
    provision_project_compensate(project_id=project.pk, reason="gave up")
    data = {
        "action": "retry_provisioning",
        "_selected_action": [project.pk],
        "confirm": "yes",
        "reason": "go",
    }
    viewer = staff_with("view_project", "change_project")
    assert 'value="retry_provisioning"' not in viewer.get(CHANGELIST).content.decode()
    viewer.post(CHANGELIST, data, follow=True)
    assert Project.objects.get(pk=project.pk).status == ProjectStatus.PROVISION_FAILED
    assert not AuditLog.objects.filter(action="project.reprovision").exists()

    operator = staff_with("view_project", "add_project")
    assert 'value="retry_provisioning"' in operator.get(CHANGELIST).content.decode()
    # This project has no provisioning request on record: refused with the reason, not a 500.
    page = operator.post(CHANGELIST, data, follow=True)
    assert b"original provisioning request" in page.content
    assert b"Re-queued provisioning of 0 project(s)." in page.content
