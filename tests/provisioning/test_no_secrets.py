"""No plaintext API key, tenant password or service token in any table, log line or query."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from psycopg import sql
from rest_framework.test import APIClient

from controlplane.models import Project
from controlplane.services import project_create
from jobs.models import JobStatus
from jobs.services import enqueue_job
from provisioning.selectors import tenant_password
from provisioning.service_client import ServiceCallError
from provisioning.services import (
    api_key_issue,
    api_key_reveal_consume,
    api_key_rotate,
    api_key_rotation_request,
    project_provision_request,
    provision_project_compensate,
    provision_project_run,
)
from provisioning.services.requests import provision_payload
from tests import factories
from tests.provisioning.conftest import FakeService, make_due, unique_slug
from tests.provisioning.conftest import run_job as run

pytestmark = pytest.mark.django_db
ALL = {"auth": True, "realtime": True, "storage": True}


def tables_containing(needle: str) -> list[str]:
    """Return every table (any schema) with a row whose text form contains `needle`."""
    hexed = needle.encode().hex()  # bytea columns render as hex
    found = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        tables = cursor.fetchall()
        assert len(tables) > 10  # the search really covers the control plane's tables
        for schema, table in tables:
            query = sql.SQL(
                "SELECT count(*) FROM {}.{} AS t WHERE strpos(t::text, %s) > 0 "
                "OR strpos(t::text, %s) > 0"
            ).format(sql.Identifier(schema), sql.Identifier(table))
            cursor.execute(query.as_string(), [needle, hexed])
            if cursor.fetchone()[0]:
                found.append(f"{schema}.{table}")
        cursor.execute("SELECT count(*) FROM pg_authid WHERE strpos(rolpassword, %s) > 0", [needle])
        if cursor.fetchone()[0]:
            found.append("pg_authid")
    return found


def test_tables_containing__finds_what_is_there(project: Any) -> None:
    # Guards the search itself: a value we know is stored must be found.
    assert "public.controlplane_project" in tables_containing(project.slug)


def test_no_secret__anywhere_after_provisioning_rotation_and_failures(
    fake_services: dict[str, FakeService], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    project = factories.project(slug=unique_slug(), status="PROVISIONING")
    failed = factories.project(slug=unique_slug(), status="PROVISIONING")
    with CaptureQueriesContext(connection) as queries:
        fake_services["realtime"].mode = "fail"
        with pytest.raises(ServiceCallError):
            provision_project_run(project_id=project.pk, services=ALL, api_key_count=3)
        fake_services["realtime"].mode = "ok"
        result = provision_project_run(project_id=project.pk, services=ALL, api_key_count=3)
        api_key_rotate(project=project, grace_period_seconds=60)
        _, direct = api_key_issue(project=project, name="direct")
        password = tenant_password(project=project)
        keys = [p for _, p in api_key_reveal_consume(project=project, actor=None)] + [direct]
        token = APIClient().post("/api/auth/token", {"api_key": direct}, format="json")
        assert token.status_code == 200
        fake_services["storage"].mode = "refuse"
        with pytest.raises(ServiceCallError):
            provision_project_run(project_id=failed.pk, services=ALL)
        failed_password = tenant_password(project=failed)
        provision_project_compensate(project_id=failed.pk, reason="storage refused")
    assert len(keys) == 3 + 3 + 1
    secrets = keys + [password, failed_password] + [f.token for f in fake_services.values()]
    logged = caplog.text + "\n".join(q["sql"] for q in queries.captured_queries)
    assert "provisioning_apikey" in logged  # the capture saw our queries
    for secret in secrets:
        assert tables_containing(secret) == [], secret[:8]
        assert secret not in logged
        assert secret not in json.dumps(result)
    # The lookup part is public and stored: the search does see API key material.
    assert "public.provisioning_apikey" in tables_containing(keys[0].split("_")[1])
    assert Project.objects.get(pk=failed.pk).status == "PROVISION_FAILED"


@pytest.mark.django_db(transaction=True)
def test_no_secret__anywhere_after_the_job_paths(
    committed_tenants: list[str],
    fake_services: dict[str, FakeService],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with CaptureQueriesContext(connection) as queries:
        # provision_project: a retryable failure, then success.
        project, job = project_provision_request(
            slug=unique_slug(), name="Shop", services=ALL, api_key_count=2, actor=None
        )
        committed_tenants.append(project.schema_name)
        fake_services["realtime"].mode = "fail"
        assert run(job).status == JobStatus.PENDING
        fake_services["realtime"].mode = "ok"
        make_due(job)
        assert run(job).status == JobStatus.COMPLETED
        # rotate_key with its replacements.
        rotation, _ = api_key_rotation_request(project=project, actor=None)
        assert run(rotation).status == JobStatus.COMPLETED
        password = tenant_password(project=project)
        keys = [p for _, p in api_key_reveal_consume(project=project, actor=None)]
        # provision_project failing on its last attempt, compensated.
        failed = project_create(slug=unique_slug(), name="Doomed")
        committed_tenants.append(failed.schema_name)
        payload = provision_payload(
            project=failed, services=ALL, api_key_count=1, api_key_prefix=None
        )
        doomed = enqueue_job(
            type="provision_project", payload=payload, project=failed, max_attempts=2
        )[0]
        fake_services["storage"].mode = "fail"
        assert run(doomed).status == JobStatus.PENDING
        failed_password = tenant_password(project=failed)
        make_due(doomed)
        assert run(doomed).status == JobStatus.FAILED
    assert Project.objects.get(pk=failed.pk).status == "PROVISION_FAILED"
    assert len(keys) == 2 + 2
    secrets = keys + [password, failed_password] + [f.token for f in fake_services.values()]
    logged = caplog.text + "\n".join(q["sql"] for q in queries.captured_queries)
    assert "jobs_job" in logged and "Provisioning" in caplog.text
    # The search covers the job tables and django-q2's own.
    assert "public.jobs_jobattempt" in tables_containing(str(doomed.pk))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'django_q_%%'")
        assert cursor.fetchone()[0] >= 3
    for secret in secrets:
        assert tables_containing(secret) == [], secret[:8]
        assert secret not in logged


def test_step_error__known_secrets_scrubbed(settings: Any) -> None:
    from provisioning.services.provision import _describe

    settings.AUTH_SERVICE_TOKEN = "auth-service-token-0123456789"
    error = _describe(
        RuntimeError(f"echoed {settings.AUTH_SERVICE_TOKEN} and {settings.SECRET_KEY}")
    )
    assert error == "RuntimeError: echoed [redacted] and [redacted]"
