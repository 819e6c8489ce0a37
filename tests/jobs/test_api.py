"""GET /api/jobs/<id>: the owning project's token or staff; others get 404."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from jobs.services import enqueue_job
from jobs.worker import execute_job
from tests import factories
from tests.conftest import bearer

pytestmark = pytest.mark.django_db(transaction=True)


def test_job_detail__owner_sees_the_contract_shape(project_client: APIClient, project: Any) -> None:
    job = enqueue_job(type="test.echo", payload={"value": 4}, project=project)[0]
    execute_job(str(job.pk))
    response = project_client.get(f"/api/jobs/{job.pk}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == {
        "id",
        "type",
        "status",
        "project_id",
        "attempts",
        "max_attempts",
        "priority",
        "created_at",
        "scheduled_at",
        "started_at",
        "completed_at",
        "last_error",
        "result",
        "progress",
    }
    assert data["id"] == str(job.pk) and data["status"] == "completed"
    assert data["project_id"] == project.slug and data["result"] == {"value": 4, "attempt": 1}
    assert data["last_error"] is None and data["progress"] is None
    assert data["created_at"].endswith("Z") or data["created_at"].endswith("+00:00")


def test_job_detail__another_projects_token_gets_404(api_client: APIClient, project: Any) -> None:
    other = factories.project(slug="other-co")
    job = enqueue_job(type="test.echo", payload={"value": 1}, project=project)[0]
    response = bearer(api_client, project_id=other.slug).get(f"/api/jobs/{job.pk}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_job_detail__staff_sees_any_job(staff_client: APIClient) -> None:
    job = enqueue_job(type="test.echo", payload={"value": 1})[0]
    assert staff_client.get(f"/api/jobs/{job.pk}").status_code == 200


@pytest.mark.parametrize("job_id", ["not-a-uuid", str(uuid.uuid4())])
def test_job_detail__unknown_or_malformed_id_404(staff_client: APIClient, job_id: str) -> None:
    assert staff_client.get(f"/api/jobs/{job_id}").status_code == 404


def test_job_detail__needs_a_token(api_client: APIClient) -> None:
    response = api_client.get(f"/api/jobs/{uuid.uuid4()}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
