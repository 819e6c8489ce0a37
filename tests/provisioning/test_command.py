"""Real workers: provisioning end to end, and `manage.py provision_project [--wait]` for ops."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from controlplane.models import Project, ProjectStatus
from jobs.models import TERMINAL_STATUSES, Job, JobStatus
from provisioning.services import (
    api_key_authenticate,
    api_key_reveal_consume,
    project_provision_request,
)
from tests.conftest import PROJECT_ROOT
from tests.jobs import conftest as jobs_conftest
from tests.jobs.conftest import wait_until
from tests.provisioning.conftest import (
    FakeService,
    role_exists,
    schema_exists,
    service_env,
    unique_slug,
)


def provision(slug: str, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("provision_project", slug, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.e2e
def test_provision_project__end_to_end_with_a_real_qcluster(
    qcluster: Any, committed_tenants: list[str], fake_services: dict[str, FakeService]
) -> None:
    qcluster(workers=1, **service_env(fake_services))
    project, job = project_provision_request(
        slug=unique_slug(), name="Shop", services={"auth": True}, actor=None
    )
    committed_tenants.append(project.schema_name)
    wait_until(lambda: Job.objects.get(pk=job.pk).status in TERMINAL_STATUSES, timeout=60)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED, job.last_error
    project.refresh_from_db()
    assert project.status == ProjectStatus.ACTIVE
    assert schema_exists(project.schema_name) and role_exists(project.schema_name)
    assert job.result["schema_name"] == project.schema_name
    assert job.result["database"]["user"] == project.schema_name
    assert job.result["services"]["auth"]["status"] == "registered"
    assert (
        job.result["services"]["auth"]["external_id"] == fake_services["auth"].tenants[project.slug]
    )
    assert job.result["services"]["storage"]["status"] == "disabled"
    assert not fake_services["storage"].requests
    assert len(job.result["api_keys"]) == 1


@pytest.mark.e2e
def test_command__wait_prints_keys_once_then_result(
    qcluster: Any, committed_tenants: list[str], fake_services: dict[str, FakeService]
) -> None:
    qcluster(workers=1, **service_env(fake_services))
    slug = unique_slug()
    committed_tenants.append("tenant_" + slug.replace("-", "_"))
    out, err = provision(
        slug, "--services", "auth,storage", "--api-keys", "2", "--wait", "--timeout", "60"
    )
    lines = out.splitlines()
    keys, document = lines[:2], "\n".join(lines[2:])
    result = json.loads(document)
    project = Project.objects.get(slug=slug)
    assert project.status == ProjectStatus.ACTIVE
    assert sorted(api_key_authenticate(plaintext=k).pk for k in keys) == [
        k["id"] for k in result["api_keys"]
    ]
    assert result["services"]["auth"]["status"] == "registered"
    assert result["services"]["realtime"]["status"] == "disabled"
    assert "only reveal" in err
    # The command spent the reveal: nothing is left to show anyone again.
    assert api_key_reveal_consume(project=project, actor=None) == []


@pytest.mark.e2e
def test_command__failed_job_exits_non_zero_with_its_error(
    qcluster: Any, committed_tenants: list[str], fake_services: dict[str, FakeService]
) -> None:
    qcluster(workers=1, **service_env(fake_services))
    fake_services["auth"].mode = "refuse"
    slug = unique_slug()
    committed_tenants.append("tenant_" + slug.replace("-", "_"))
    env = {**os.environ, "DATABASE_URL": jobs_conftest.test_database_url(), "DEBUG": "1"}
    done = subprocess.run(
        [sys.executable, "manage.py", "provision_project", slug, "--services", "auth", "--wait"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "refused the registration" in done.stderr and "Compensated" in done.stderr
    assert done.stdout == ""
    assert Project.objects.get(slug=slug).status == ProjectStatus.PROVISION_FAILED


@pytest.mark.django_db
def test_command__without_wait_prints_the_job_id() -> None:
    out, _ = provision("shop-ops", "--name", "Ops", "--region", "eu", "--services", "none")
    job = Job.objects.get(pk=uuid.UUID(out.strip()))
    assert job.type == "provision_project" and job.status == JobStatus.PENDING
    assert job.payload["services"] == {"auth": False, "realtime": False, "storage": False}
    project = Project.objects.get(slug="shop-ops")
    assert (project.name, project.region, project.status) == ("Ops", "eu", "PROVISIONING")


@pytest.mark.django_db
def test_command__wait_times_out_clearly_without_workers() -> None:
    with pytest.raises(CommandError, match=r"Timed out after 0.3 s .*\(still pending"):
        provision("shop-ops", "--wait", "--timeout", "0.3", "--poll", "0.1")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad Slug"], "not a valid project slug"),
        (["shop-ops", "--services", "auth,email"], "Unknown service"),
        (["shop-ops", "--api-keys", "11"], "At most 10 API keys"),
        (["shop-ops", "--prefix", "Bad_Prefix"], "prefix"),
    ],
)
def test_command__bad_arguments_write_nothing(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        provision(*args)
    assert not Project.objects.exists() and not Job.objects.exists()
