"""POST /api/backup/export: validation, access, idempotency, one active export, rate limit."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import F
from django.utils import timezone
from rest_framework.test import APIClient

from backups.models import ExportRequest
from controlplane.models import ProjectStatus
from controlplane.services import project_suspend
from jobs.models import Job, JobStatus
from tests import factories
from tests.backups.conftest import fresh_rate_window
from tests.conftest import bearer

pytestmark = pytest.mark.django_db
URL = "/api/backup/export"


def post(client: APIClient, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(URL, body, format="json", **headers)


def error(response: Any) -> dict[str, Any]:
    return response.json()["error"]


def age(*, key: str, by: timedelta) -> None:
    """Make the record of an Idempotency-Key older by `by`."""
    ExportRequest.objects.filter(idempotency_key=key).update(created_at=F("created_at") - by)


def finish(job_id: str) -> None:
    """Mark the job completed, as a worker would have (a test shortcut)."""
    Job.objects.filter(pk=job_id).update(status=JobStatus.COMPLETED, completed_at=timezone.now())


def test_export__accepted_with_location_and_pending_job(
    project: Any, project_client: APIClient
) -> None:
    response = post(project_client, {"project_id": "acme-shop"})

    assert response.status_code == 202
    data = response.json()["data"]
    assert set(data) == {"job_id", "status", "project_id", "created_at"}
    assert data["status"] == "pending" and data["project_id"] == "acme-shop"
    assert response["Location"] == f"/api/jobs/{data['job_id']}"
    job = Job.objects.get(pk=data["job_id"])
    assert job.type == "export_backup" and job.project == project
    assert job.payload == {
        "project_id": "acme-shop",
        "format": "sql",
        "compress": True,
        "compression": "gzip",
    }
    polled = project_client.get(response["Location"])
    assert polled.status_code == 200 and polled.json()["data"]["status"] == "pending"


def test_export__body_fields_reach_the_payload(project: Any, project_client: APIClient) -> None:
    body = {
        "project_id": "acme-shop",
        "format": "tar",
        "compress": False,
        "notify_email": "ops@example.test",
        "storage_path": "backups/acme-shop/nightly/a.tar",
    }
    response = post(project_client, body)
    assert response.status_code == 202
    payload = Job.objects.get(pk=response.json()["data"]["job_id"]).payload
    assert payload == {**body, "compression": "none"}


@pytest.mark.parametrize(
    ("body", "codec"),
    [
        ({"compression": "zstd"}, "zstd"),
        ({"compress": True, "compression": "gzip"}, "gzip"),
        ({"compression": "none"}, "none"),
        ({"compress": False, "compression": "none"}, "none"),
        ({"compress": True}, "zstd"),  # the configured default
    ],
)
def test_export__compression_reaches_the_payload(
    project: Any, project_client: APIClient, settings: Any, body: dict[str, Any], codec: str
) -> None:
    settings.BACKUPS_DEFAULT_COMPRESSION = "zstd"
    response = post(project_client, {"project_id": "acme-shop", **body})
    assert response.status_code == 202, response.content
    payload = Job.objects.get(pk=response.json()["data"]["job_id"]).payload
    assert (payload["compression"], payload["compress"]) == (codec, codec != "none")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "project_id"),
        ({"project_id": "bad id!"}, "project_id"),
        ({"project_id": "a" * 65}, "project_id"),
        ({"project_id": "acme/shop"}, "project_id"),
        ({"project_id": "acme-shop", "format": "zip"}, "format"),
        ({"project_id": "acme-shop", "compress": "maybe"}, "compress"),
        ({"project_id": "acme-shop", "compression": "lz4"}, "compression"),
        ({"project_id": "acme-shop", "compress": False, "compression": "zstd"}, "compression"),
        ({"project_id": "acme-shop", "compress": False, "compression": "gzip"}, "compression"),
        ({"project_id": "acme-shop", "notify_email": "not-an-email"}, "notify_email"),
        ({"project_id": "acme-shop", "storage_path": "../x.sql"}, "storage_path"),
        ({"project_id": "acme-shop", "storage_path": "/etc/passwd"}, "storage_path"),
        ({"project_id": "acme-shop", "storage_path": "backups/other-co/x.sql"}, "storage_path"),
        ({"project_id": "acme-shop", "storage_path": "backups/acme-shop/../x.sql"}, "storage_path"),
        (
            {"project_id": "acme-shop", "storage_path": "backups/acme-shop/a\x00.sql"},
            "storage_path",
        ),
        ({"project_id": "acme-shop", "storage_path": "backups\\acme-shop\\a.sql"}, "storage_path"),
        ({"project_id": "acme-shop", "storage_path": "backups/acme-shop/"}, "storage_path"),
    ],
)
def test_export__field_errors(
    project: Any, project_client: APIClient, body: dict[str, Any], field: str
) -> None:
    response = post(project_client, body)
    assert response.status_code == 400
    assert error(response)["code"] == "validation_error"
    assert list(error(response)["details"]) == [field]
    assert not Job.objects.exists()


@pytest.mark.parametrize("key", ["", "k" * 129, "naïve", "two words"])
def test_export__bad_idempotency_key(project: Any, project_client: APIClient, key: str) -> None:
    response = post(project_client, {"project_id": "acme-shop"}, key=key)
    assert response.status_code == 400
    assert list(error(response)["details"]) == ["Idempotency-Key"]
    assert not Job.objects.exists()


def test_export__other_projects_id_is_forbidden(project: Any, project_client: APIClient) -> None:
    factories.project(slug="other-co")
    for slug in ("other-co", "no-such-project"):
        response = post(project_client, {"project_id": slug})
        assert response.status_code == 403 and error(response)["code"] == "forbidden"
    assert not Job.objects.exists()


def test_export__unknown_project_is_not_found(staff_client: APIClient, api_client: Any) -> None:
    response = post(staff_client, {"project_id": "ghost-co"})
    assert response.status_code == 404 and error(response)["code"] == "not_found"
    # A token for a project that was deleted meanwhile.
    ghost = bearer(APIClient(), project_id="ghost-co")
    assert post(ghost, {"project_id": "ghost-co"}).status_code == 404


def test_export__staff_may_export_any_project(project: Any, staff_client: APIClient) -> None:
    response = post(staff_client, {"project_id": "acme-shop"})
    assert response.status_code == 202
    assert response.json()["data"]["project_id"] == "acme-shop"


def test_export__suspended_project_conflicts(project: Any, project_client: APIClient) -> None:
    project_suspend(project_ids=[project.pk], actor=None, reason="unpaid")
    response = post(project_client, {"project_id": "acme-shop"})
    assert response.status_code == 409 and error(response)["code"] == "project_suspended"
    assert not Job.objects.exists()


def test_export__provisioning_project_conflicts(staff_client: APIClient) -> None:
    factories.project(slug="new-co", status=ProjectStatus.PROVISIONING)
    response = post(staff_client, {"project_id": "new-co"})
    assert response.status_code == 409 and error(response)["code"] == "conflict"


def test_export__needs_a_token(project: Any) -> None:
    response = post(APIClient(), {"project_id": "acme-shop"})
    assert response.status_code == 401 and error(response)["code"] == "not_authenticated"
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")
    assert post(forged, {"project_id": "acme-shop"}).status_code == 401
    assert not Job.objects.exists()


def test_export__same_key_same_body_returns_the_same_job(
    project: Any, project_client: APIClient
) -> None:
    first = post(project_client, {"project_id": "acme-shop", "format": "tar"}, key="k-1")
    job_id = first.json()["data"]["job_id"]
    finish(job_id)  # even once it is done, the key still answers with that job

    again = post(project_client, {"project_id": "acme-shop", "format": "tar"}, key="k-1")

    assert again.status_code == 202
    assert again.json()["data"]["job_id"] == job_id
    assert again["Location"] == f"/api/jobs/{job_id}"
    assert again.json()["data"]["status"] == "completed"
    assert Job.objects.count() == 1


def test_export__same_key_other_body_conflicts(project: Any, project_client: APIClient) -> None:
    post(project_client, {"project_id": "acme-shop", "format": "tar"}, key="k-1")
    for body in (
        {"project_id": "acme-shop", "format": "sql"},
        {"project_id": "acme-shop", "format": "tar", "compress": False},
        {"project_id": "acme-shop", "format": "tar", "compression": "zstd"},
        {"project_id": "acme-shop", "format": "tar", "notify_email": "a@example.test"},
    ):
        response = post(project_client, body, key="k-1")
        assert response.status_code == 409 and error(response)["code"] == "conflict"
    assert Job.objects.count() == 1


def test_export__defaults_count_as_the_same_body(project: Any, project_client: APIClient) -> None:
    first = post(project_client, {"project_id": "acme-shop"}, key="k-1")
    for explicit in (
        {"project_id": "acme-shop", "format": "sql", "compress": True},
        {"project_id": "acme-shop", "compression": "gzip"},
    ):
        second = post(project_client, explicit, key="k-1")
        assert second.json()["data"]["job_id"] == first.json()["data"]["job_id"]


def test_export__key_expires_after_24_hours(project: Any, project_client: APIClient) -> None:
    first = post(project_client, {"project_id": "acme-shop"}, key="k-1").json()["data"]["job_id"]
    finish(first)
    age(key="k-1", by=timedelta(hours=24, minutes=1))

    later = post(project_client, {"project_id": "acme-shop", "format": "tar"}, key="k-1")

    assert later.status_code == 202
    new = later.json()["data"]["job_id"]
    assert new != first
    assert Job.objects.count() == 2
    # The key now answers with the new export.
    assert ExportRequest.objects.get(idempotency_key="k-1").job_id == uuid.UUID(new)
    again = post(project_client, {"project_id": "acme-shop", "format": "tar"}, key="k-1")
    assert again.json()["data"]["job_id"] == new


def test_export__key_answered_by_an_active_export_keeps_that_job(
    project: Any, project_client: APIClient
) -> None:
    active = post(project_client, {"project_id": "acme-shop"}).json()["data"]["job_id"]
    answered = post(project_client, {"project_id": "acme-shop"}, key="k-1")
    assert answered.status_code == 202 and answered.json()["data"]["job_id"] == active
    finish(active)

    retried = post(project_client, {"project_id": "acme-shop"}, key="k-1")

    assert retried.status_code == 202
    assert retried.json()["data"]["job_id"] == active
    assert retried["Location"] == f"/api/jobs/{active}"
    assert retried.json()["data"]["status"] == "completed"
    assert Job.objects.count() == 1


def test_export__key_answered_by_another_keys_export_keeps_that_job(
    project: Any, project_client: APIClient
) -> None:
    active = post(project_client, {"project_id": "acme-shop"}, key="k-0").json()["data"]["job_id"]
    assert (
        post(project_client, {"project_id": "acme-shop"}, key="k-1").json()["data"]["job_id"]
        == active
    )
    finish(active)

    for key in ("k-0", "k-1"):
        retried = post(project_client, {"project_id": "acme-shop"}, key=key)
        assert retried.status_code == 202 and retried.json()["data"]["job_id"] == active
    assert Job.objects.count() == 1


def test_export__key_answered_by_an_active_export_other_body_conflicts(
    project: Any, project_client: APIClient
) -> None:
    active = post(project_client, {"project_id": "acme-shop"}).json()["data"]["job_id"]
    tar = {"project_id": "acme-shop", "format": "tar"}
    assert post(project_client, tar, key="k-1").json()["data"]["job_id"] == active

    # The export answering the key is the default (sql) one; the key still belongs to `tar`.
    while_active = post(project_client, {"project_id": "acme-shop"}, key="k-1")
    finish(active)
    after = post(project_client, {"project_id": "acme-shop"}, key="k-1")

    for response in (while_active, after):
        assert response.status_code == 409 and error(response)["code"] == "conflict"
    assert post(project_client, tar, key="k-1").json()["data"]["job_id"] == active
    assert Job.objects.count() == 1


def test_export__keys_are_per_project(project: Any, project_client: APIClient) -> None:
    factories.project(slug="other-co")
    other = bearer(APIClient(), project_id="other-co")
    mine = post(project_client, {"project_id": "acme-shop"}, key="shared")
    theirs = post(other, {"project_id": "other-co"}, key="shared")
    assert theirs.status_code == 202
    assert theirs.json()["data"]["job_id"] != mine.json()["data"]["job_id"]


def test_export__one_active_export_per_project(project: Any, project_client: APIClient) -> None:
    first = post(project_client, {"project_id": "acme-shop"}).json()["data"]["job_id"]
    while_active = [
        post(project_client, {"project_id": "acme-shop", "format": "tar"}),
        post(project_client, {"project_id": "acme-shop"}, key="fresh-key"),
    ]
    assert [r.status_code for r in while_active] == [202, 202]
    assert {r.json()["data"]["job_id"] for r in while_active} == {first}

    finish(first)
    after = post(project_client, {"project_id": "acme-shop"}).json()["data"]["job_id"]

    assert after != first
    assert Job.objects.filter(type="export_backup").count() == 2


def test_export__eleventh_call_in_a_minute_is_rate_limited(
    project: Any, project_client: APIClient
) -> None:
    fresh_rate_window("project:acme-shop")
    statuses = [post(project_client, {"project_id": "acme-shop"}).status_code for _ in range(10)]
    assert statuses == [202] * 10

    limited = post(project_client, {"project_id": "acme-shop"})

    assert limited.status_code == 429 and error(limited)["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    # Counted per project token: another project is not affected.
    factories.project(slug="other-co")
    other = bearer(APIClient(), project_id="other-co")
    assert post(other, {"project_id": "other-co"}).status_code == 202


def test_export__invalid_calls_count_too(project: Any, project_client: APIClient) -> None:
    fresh_rate_window("project:acme-shop")
    for _ in range(10):
        assert post(project_client, {"project_id": "bad id!"}).status_code == 400
    assert post(project_client, {"project_id": "acme-shop"}).status_code == 429


def test_export__unauthenticated_calls_limited_per_ip(project: Any, settings: Any) -> None:
    settings.BACKUPS_EXPORT_RATE_LIMIT = "3/m"
    fresh_rate_window("127.0.0.1")
    anonymous = APIClient(REMOTE_ADDR="127.0.0.1")
    assert [post(anonymous, {}).status_code for _ in range(3)] == [401] * 3
    limited = post(anonymous, {})
    assert limited.status_code == 429 and "Retry-After" in limited
    elsewhere = APIClient(REMOTE_ADDR="10.1.2.3")
    assert post(elsewhere, {}).status_code == 401


def test_export__documented_in_openapi(api_client: APIClient) -> None:
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/backup/export"]["post"]
    assert set(operation["responses"]) == {"202", "400", "401", "403", "404", "409", "429"}
    headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
    assert headers == ["Idempotency-Key"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][body.rsplit("/", 1)[1]]["properties"]
    assert set(fields) == {
        "project_id",
        "format",
        "compress",
        "compression",
        "notify_email",
        "storage_path",
    }


def test_export__idempotent_replay_not_counted_other_body_counts(
    project: Any, project_client: APIClient, settings: Any
) -> None:
    settings.BACKUPS_EXPORT_RATE_LIMIT = "3/m"
    fresh_rate_window("project:acme-shop")
    first = post(project_client, {"project_id": "acme-shop"}, key="once")
    assert first.status_code == 202
    for _ in range(5):  # replays answered by the same job: free
        replay = post(project_client, {"project_id": "acme-shop"}, key="once")
        assert replay.status_code == 202
        assert replay.json()["data"]["job_id"] == first.json()["data"]["job_id"]
    # The same key with another body (409) counts: 2 of 3.
    assert (
        post(project_client, {"project_id": "acme-shop", "format": "tar"}, key="once").status_code
        == 409
    )
    assert post(project_client, {"project_id": "acme-shop"}).status_code == 202  # 3 of 3
    limited = post(project_client, {"project_id": "acme-shop"}, key="fresh")
    assert limited.status_code == 429
