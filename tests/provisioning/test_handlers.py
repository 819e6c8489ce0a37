"""Job handlers in-process: provision_project (resume, compensation) and rotate_key (grace)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from controlplane.models import AuditLog, Project, ProjectStatus
from controlplane.services import project_create
from jobs import engine, execution
from jobs.models import Job, JobAttempt, JobStatus
from jobs.registry import housekeeping_types, retry_delay
from jobs.scheduling import schedule_fire, schedules_sync
from jobs.services import enqueue_job, job_cancel
from jobs.worker import execute_job
from provisioning.models import ApiKey, ServiceRegistration
from provisioning.schedules import ORPHANS_JOB, REVEAL_PURGE_JOB
from provisioning.services import (
    ApiKeyExpired,
    api_key_authenticate,
    api_key_issue,
    api_key_reveal_consume,
    api_key_rotation_request,
    project_provision_request,
    provisioning_orphans_compensate,
)
from provisioning.services.requests import provision_payload
from tests.provisioning.conftest import (
    ALL_SERVICES,
    FakeService,
    make_due,
    provision_request,
    provisioning_steps,
    role_exists,
    schema_exists,
    unique_slug,
)
from tests.provisioning.conftest import run_job as run

pytestmark = pytest.mark.django_db(transaction=True)


def enqueue_with_attempts(tenants: list[str], max_attempts: int) -> tuple[Project, Job]:
    project = project_create(slug=unique_slug(), name="Shop")
    tenants.append(project.schema_name)
    payload = provision_payload(
        project=project, services=ALL_SERVICES, api_key_count=1, api_key_prefix=None
    )
    job = enqueue_job(
        type="provision_project", payload=payload, project=project, max_attempts=max_attempts
    )[0]
    return project, job


def test_provision_project__success_result_shape(
    committed_tenants: list[str], fake_services: dict[str, FakeService]
) -> None:
    project, job = provision_request(
        committed_tenants, region="eu-west", owner_id="u-1", api_key_count=2, api_key_prefix="sk"
    )
    assert job.status == JobStatus.PENDING and job.project_id == project.pk
    assert job.payload == {
        "project_id": project.slug,
        "region": "eu-west",
        "owner_id": "u-1",
        "organization_id": "",
        "services": ALL_SERVICES,
        "api_keys": {"count": 2, "prefix": "sk"},
    }
    job = run(job)
    assert job.status == JobStatus.COMPLETED, job.last_error
    result = job.result
    assert set(result) == {
        "schema_name",
        "database",
        "services",
        "api_keys",
        "region",
        "owner_id",
        "organization_id",
        "provisioned_at",
    }
    assert set(result["database"]) == {"host", "port", "dbname", "user"}
    assert result["database"]["user"] == result["schema_name"] == project.schema_name
    assert (result["region"], result["owner_id"], result["organization_id"]) == (
        "eu-west",
        "u-1",
        None,
    )
    assert {s["status"] for s in result["services"].values()} == {"registered"}
    assert [k["prefix"] for k in result["api_keys"]] == ["sk", "sk"]
    project.refresh_from_db()
    assert project.status == ProjectStatus.ACTIVE
    assert schema_exists(project.schema_name) and role_exists(project.schema_name)
    revealed = api_key_reveal_consume(project=project, actor=None)
    assert sorted(k.pk for k, _ in revealed) == [k["id"] for k in result["api_keys"]]
    audit = AuditLog.objects.get(action="project.provision_request", target_id=project.slug)
    assert audit.details["job_id"] == str(job.pk)


def test_provision_project__injected_failure_then_retry_resumes(
    committed_tenants: list[str], fake_services: dict[str, FakeService]
) -> None:
    project, job = provision_request(committed_tenants)
    fake_services["storage"].mode = "fail"
    job = run(job)
    assert job.status == JobStatus.PENDING and job.attempts == 1
    assert "storage service POST /admin/tenants failed" in job.last_error
    assert provisioning_steps(project) == {"database": ("done", 1), "services": ("failed", 1)}
    assert Project.objects.get(pk=project.pk).status == ProjectStatus.PROVISIONING

    fake_services["storage"].mode = "ok"
    make_due(job)
    job = run(job)
    assert job.status == JobStatus.COMPLETED and job.attempts == 2
    # Resumed at the services step: the schema step did not run again, auth was called once.
    assert provisioning_steps(project) == {
        "database": ("done", 1),
        "services": ("done", 2),
        "api_keys": ("done", 1),
        "activate": ("done", 1),
    }
    posts = [r for r in fake_services["auth"].requests if r["method"] == "POST"]
    assert len(posts) == 1
    assert list(JobAttempt.objects.filter(job=job).values_list("outcome", flat=True)) == [
        "error",
        "completed",
    ]


def test_provision_project__final_failure_compensates(
    committed_tenants: list[str], fake_services: dict[str, FakeService]
) -> None:
    project, job = enqueue_with_attempts(committed_tenants, max_attempts=2)
    fake_services["realtime"].mode = "fail"
    job = run(job)
    assert job.status == JobStatus.PENDING
    # Not the last attempt: nothing is undone yet, the schema waits for the retry.
    assert schema_exists(project.schema_name) and project.slug in fake_services["auth"].tenants
    make_due(job)
    job = run(job)
    assert job.status == JobStatus.FAILED and job.attempts == 2
    assert "realtime service" in job.last_error and "Compensated" in job.last_error
    project.refresh_from_db()
    assert project.status == ProjectStatus.PROVISION_FAILED
    assert not schema_exists(project.schema_name) and not role_exists(project.schema_name)
    assert all(not f.tenants for f in fake_services.values())
    assert not ServiceRegistration.objects.filter(project=project, status="registered").exists()
    audit = AuditLog.objects.get(action="project.provision_failed", target_id=project.slug)
    assert "realtime service" in audit.reason


def test_provision_project__permanent_error_compensates_at_once(
    committed_tenants: list[str], fake_services: dict[str, FakeService]
) -> None:
    project, job = provision_request(committed_tenants)
    fake_services["storage"].mode = "refuse"
    job = run(job)
    assert job.status == JobStatus.FAILED and job.attempts == 1 < job.max_attempts
    assert "refused the registration" in job.last_error and "Compensated" in job.last_error
    assert Project.objects.get(pk=project.pk).status == ProjectStatus.PROVISION_FAILED
    assert not schema_exists(project.schema_name) and not role_exists(project.schema_name)
    assert not fake_services["auth"].tenants and not fake_services["realtime"].tenants


def test_provision_project__too_many_keys_fails_permanently(
    committed_tenants: list[str], no_services: None
) -> None:
    project, job = provision_request(committed_tenants, services={})
    for i in range(10):
        api_key_issue(project=project, name=f"early{i}")
    job = run(job)
    assert job.status == JobStatus.FAILED and job.attempts == 1
    assert "the limit is 10" in job.last_error
    assert Project.objects.get(pk=project.pk).status == ProjectStatus.PROVISION_FAILED
    assert not schema_exists(project.schema_name)


def test_provision_project__leaves_a_project_not_provisioning_alone(
    committed_tenants: list[str], no_services: None
) -> None:
    project = project_create(slug=unique_slug(), name="Live", status=ProjectStatus.ACTIVE)
    key, _ = api_key_issue(project=project, name="prod")
    payload = provision_payload(project=project, services={}, api_key_count=1, api_key_prefix=None)
    job = run(enqueue_job(type="provision_project", payload=payload, project=project)[0])
    assert job.status == JobStatus.FAILED and "only PROVISIONING" in job.last_error
    assert "Nothing compensated" in job.last_error
    assert Project.objects.get(pk=project.pk).status == ProjectStatus.ACTIVE
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_provision_project__payload_validated(committed_tenants: list[str]) -> None:
    project = project_create(slug=unique_slug(), name="Shop")
    good = provision_payload(
        project=project, services=ALL_SERVICES, api_key_count=1, api_key_prefix=None
    )
    bad_payloads = [
        {**good, "api_keys": {"count": 11}},
        {**good, "api_keys": {"count": 0}},
        {**good, "api_keys": {"count": 1, "prefix": "Bad_Prefix"}},
        {**good, "services": {"auth": True, "email": True}},
        {**good, "project_id": "Not A Slug"},
        {key: value for key, value in good.items() if key != "region"},
    ]
    for payload in bad_payloads:
        with pytest.raises(ValidationError):
            enqueue_job(type="provision_project", payload=payload, project=project)[0]
    assert not Job.objects.exists()


def test_project_provision_request__atomic_with_its_job(
    committed_tenants: list[str],
) -> None:
    with pytest.raises(ValidationError) as caught:
        project_provision_request(
            slug=unique_slug(), name="Shop", services=ALL_SERVICES, api_key_count=11, actor=None
        )
    assert "At most 10 API keys" in str(caught.value)
    # The project row went with the refused job: nothing half-done remains.
    assert not Project.objects.exists() and not Job.objects.exists()
    assert not AuditLog.objects.exists()
    with pytest.raises(ValidationError, match="not a valid project slug"):
        project_provision_request(slug="Bad Slug", name="Shop", services=ALL_SERVICES, actor=None)
    with pytest.raises(ValidationError, match="name"):
        project_provision_request(slug=unique_slug(), name=" ", services=ALL_SERVICES, actor=None)
    assert not Project.objects.exists() and not Job.objects.exists()


def rotatable_project(keys: int) -> tuple[Project, list[tuple[ApiKey, str]]]:
    project = project_create(slug=unique_slug(), name="Live", status=ProjectStatus.ACTIVE)
    return project, [api_key_issue(project=project, name=f"k{i}") for i in range(keys)]


def test_rotate_key__grace_period_then_old_keys_expire(committed_tenants: list[str]) -> None:
    project, issued = rotatable_project(2)
    job, created = api_key_rotation_request(project=project, grace_period_seconds=3600, actor=None)
    assert created and job.payload == {"project_id": project.slug, "grace_period_seconds": 3600}
    before = timezone.now()
    job = run(job)
    assert job.status == JobStatus.COMPLETED, job.last_error
    result = job.result
    assert [r["id"] for r in result["rotated"]] == [k.pk for k, _ in issued]
    assert [r["replaces"] for r in result["replacements"]] == [k.pk for k, _ in issued]
    assert result["awaiting_reveal"] == 2 and result["grace_period_seconds"] == 3600
    # Within the grace period the old keys still work, and expire an hour on.
    for key, plaintext in issued:
        assert api_key_authenticate(plaintext=plaintext).pk == key.pk
        expires_at = ApiKey.objects.get(pk=key.pk).expires_at
        assert expires_at is not None
        assert before + timedelta(seconds=3600) <= expires_at
        assert expires_at <= timezone.now() + timedelta(seconds=3600)
    # The replacements wait, encrypted, for their one reveal, and then work.
    revealed = api_key_reveal_consume(project=project, actor=None)
    assert sorted(k.pk for k, _ in revealed) == [r["id"] for r in result["replacements"]]
    assert all(api_key_authenticate(plaintext=p).pk == k.pk for k, p in revealed)

    # One key, no grace: it stops working at once.
    replacement, replacement_plaintext = revealed[0]
    job, _ = api_key_rotation_request(
        project=project, key_id=replacement.pk, grace_period_seconds=0, actor=None
    )
    job = run(job)
    assert [r["id"] for r in job.result["rotated"]] == [replacement.pk]
    with pytest.raises(ApiKeyExpired):
        api_key_authenticate(plaintext=replacement_plaintext)
    assert api_key_authenticate(plaintext=revealed[1][1]).pk == revealed[1][0].pk


def test_rotate_key__rerun_of_the_same_job_rotates_nothing_more(
    committed_tenants: list[str],
) -> None:
    project, _ = rotatable_project(1)
    job, _ = api_key_rotation_request(project=project, grace_period_seconds=60, actor=None)
    first = run(job).result
    # As if the worker died after committing the rotation but before recording success.
    Job.objects.filter(pk=job.pk).update(status=JobStatus.PENDING, scheduled_at=timezone.now())
    job = run(job)
    assert job.status == JobStatus.COMPLETED and job.attempts == 2
    assert job.result["replacements"] == first["replacements"]
    assert ApiKey.objects.filter(project=project).count() == 2


def test_rotate_key__one_rotation_per_project_and_only_when_live(
    committed_tenants: list[str],
) -> None:
    project, _ = rotatable_project(1)
    first, created = api_key_rotation_request(project=project, actor=None)
    again, created_again = api_key_rotation_request(project=project, actor=None)
    assert created and not created_again and again.pk == first.pk
    assert AuditLog.objects.filter(action="api_key.rotation_request").count() == 1
    provisioning = project_create(slug=unique_slug(), name="New")
    with pytest.raises(ValidationError, match="cannot rotate"):
        api_key_rotation_request(project=provisioning, actor=None)
    unknown_key = run(
        enqueue_job(
            type="rotate_key",
            payload={"project_id": project.slug, "key_id": 999_999},
            project=project,
        )[0]
    )
    assert unknown_key.status == JobStatus.FAILED and "not an active key" in unknown_key.last_error


def test_provisioning_orphans_compensate__cancelled_or_lost_jobs(
    committed_tenants: list[str], fake_services: dict[str, FakeService]
) -> None:
    cancelled, cancelled_job = provision_request(committed_tenants)
    job_cancel(job_ids=[cancelled_job.pk], actor=None)
    # A last attempt whose worker died: the rescuer fails the job, the handler never knows.
    lost, lost_job = enqueue_with_attempts(committed_tenants, max_attempts=2)
    fake_services["realtime"].mode = "fail"
    assert run(lost_job).status == JobStatus.PENDING
    assert schema_exists(lost.schema_name)
    make_due(lost_job)
    assert execution.job_claim(job_id=lost_job.pk, worker="dead-worker") is not None
    Job.objects.filter(pk=lost_job.pk).update(lease_expires_at=timezone.now() - timedelta(1))
    assert execution.jobs_rescue_lost(retry_delay=retry_delay) == 1
    assert Job.objects.get(pk=lost_job.pk).status == JobStatus.FAILED
    waiting, _ = provision_request(committed_tenants)

    assert provisioning_orphans_compensate() == 2
    statuses = dict(Project.objects.values_list("pk", "status"))
    assert statuses[cancelled.pk] == statuses[lost.pk] == ProjectStatus.PROVISION_FAILED
    assert statuses[waiting.pk] == ProjectStatus.PROVISIONING
    assert not schema_exists(lost.schema_name) and not role_exists(lost.schema_name)
    assert not fake_services["auth"].tenants
    assert provisioning_orphans_compensate() == 0


@pytest.mark.django_db(transaction=True)
def test_schedules__synced_and_each_run_is_a_housekeeping_job() -> None:
    schedules_sync()
    schedules_sync()
    rows = engine.schedule_rows()
    assert rows[REVEAL_PURGE_JOB][2] == 60 and rows[ORPHANS_JOB][2] == 5
    for name in (REVEAL_PURGE_JOB, ORPHANS_JOB):
        assert name in housekeeping_types()
        job_id = schedule_fire(name)
        assert job_id is not None
        execute_job(str(job_id))
        job = Job.objects.get(pk=job_id)
        assert (job.type, job.status, job.attempts) == (name, JobStatus.COMPLETED, 1)
        assert job.result in ({"deleted": 0}, {"compensated": 0})
