"""Who may call what: staff permissions per endpoint, revocation, suspension (issue 9)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from backups.services import backup_download_link
from controlplane.api.auth import issue_access_token
from controlplane.models import Project, ProjectStatus
from controlplane.services import project_suspend
from jobs.models import Job, JobStatus
from jobs.services import enqueue_job
from provisioning.models import ApiKey
from provisioning.services import api_key_issue, api_key_revoke, api_key_rotate
from tests import factories
from tests.backups import factories as backup_factories
from tests.conftest import bearer

pytestmark = pytest.mark.django_db


def error_code(response: Any) -> str:
    return response.json()["error"]["code"]


@pytest.fixture
def backup(project: Any) -> Any:
    return backup_factories.backup(project=project)


def completed_export(project: Any, backup: Any) -> Job:
    job, _ = enqueue_job(
        type="export_backup",
        payload={"project_id": project.slug, "format": "sql", "compress": False},
        project=project,
    )
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.COMPLETED, result={"backup_id": str(backup.pk), "format": "sql"}
    )
    return job


def staff_calls(project: Any, backup: Any, job: Job) -> dict[str, tuple[str, str, Any]]:
    """Return permission → (method, path, body) for every staff-capable endpoint."""
    return {
        "backups.view_backup": ("get", f"/api/backups?project_id={project.slug}", None),
        "backups.download_backup": ("get", f"/api/backups/{backup.pk}/download", None),
        "backups.request_export": ("post", "/api/backup/export", {"project_id": project.slug}),
        "jobs.view_job": ("get", f"/api/jobs/{job.pk}", None),
        "backfill.view_backfilllog": ("get", "/api/internal/backfill-stats", None),
        "backfill.manage_backfill": ("post", "/api/internal/seed-backfill-queue", None),
    }


def call(client: APIClient, method: str, path: str, body: Any) -> Any:
    return (
        getattr(client, method)(path, body, format="json")
        if body
        else getattr(client, method)(path)
    )


def test_staff_permissions__matrix_each_endpoint_needs_its_permission(
    project: Any, backup: Any
) -> None:
    job = completed_export(project, backup)
    calls = staff_calls(project, backup, job)
    assert set(calls) == set(factories.API_PERMISSIONS)
    for needed, (method, path, body) in calls.items():
        # Every permission but the one needed: refused.
        others = [p for p in factories.API_PERMISSIONS if p != needed]
        without = bearer(APIClient(), user=factories.staff(perms=others))
        response = call(without, method, path, body)
        assert response.status_code == 403, (needed, response.content)
        assert error_code(response) == "forbidden"
        assert needed in response.json()["error"]["message"]
        # Only the one needed: allowed.
        only = bearer(APIClient(), user=factories.staff(perms=[needed]))
        response = call(only, method, path, body)
        assert response.status_code in (200, 202, 302), (needed, response.content)


def test_staff_permissions__schedule_backfill_needs_manage(api_client: APIClient) -> None:
    viewer = bearer(api_client, user=factories.staff(perms=["backfill.view_backfilllog"]))
    response = viewer.post("/api/internal/schedule-backfill", {"dry_run": True}, format="json")
    assert response.status_code == 403


def test_job_result__link_minted_per_reader_never_stored(project: Any, backup: Any) -> None:
    job = completed_export(project, backup)
    viewer = bearer(APIClient(), user=factories.staff(perms=["jobs.view_job"]))
    result = viewer.get(f"/api/jobs/{job.pk}").json()["data"]["result"]
    assert result["backup_id"] == str(backup.pk)
    assert result["download_url"] is None and result["download_expires_at"] is None

    downloader = bearer(
        APIClient(), user=factories.staff(perms=["jobs.view_job", "backups.download_backup"])
    )
    result = downloader.get(f"/api/jobs/{job.pk}").json()["data"]["result"]
    assert "/api/backups/files/" in result["download_url"]
    response = downloader.get(result["download_url"])
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"-- dump")

    own = bearer(APIClient(), project_id=project.slug)
    assert own.get(f"/api/jobs/{job.pk}").json()["data"]["result"]["download_url"]
    job.refresh_from_db()
    assert job.result is not None and "download_url" not in job.result


def test_staff_token__non_staff_right_password_same_401_as_wrong(api_client: APIClient) -> None:
    factories.user(username="plain", password="pw-pw-pw-pw-1")
    right = api_client.post(
        "/api/auth/staff-token", {"username": "plain", "password": "pw-pw-pw-pw-1"}, format="json"
    )
    wrong = api_client.post(
        "/api/auth/staff-token", {"username": "plain", "password": "nope-nope"}, format="json"
    )
    assert right.status_code == wrong.status_code == 401
    assert right.json() == wrong.json()


def test_staff_token__dies_with_password_change(staff_client: APIClient, staff_user: Any) -> None:
    assert staff_client.get("/api/internal/backfill-stats").status_code == 200
    user = get_user_model().objects.get(pk=staff_user.pk)
    user.set_password("a brand new password 42")
    user.save()
    response = staff_client.get("/api/internal/backfill-stats")
    assert response.status_code == 401
    assert "password" in response.json()["error"]["message"]


def test_project_token__without_key_claim_refused(api_client: APIClient, project: Any) -> None:
    token = AccessToken()
    token["project_id"] = project.slug
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api_client.get("/api/backups")
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"


def _key_client(project: Any) -> tuple[ApiKey, APIClient]:
    key, _ = api_key_issue(project=project, name="ci")
    token = issue_access_token(project_id=project.slug, api_key_id=key.pk)["access_token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return key, client


def test_project_token__refused_after_key_revoked(project: Any) -> None:
    key, client = _key_client(project)
    assert client.get("/api/backups").status_code == 200
    api_key_revoke(key_ids=[key.pk], actor=None, reason="leaked")
    response = client.get("/api/backups")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_project_token__refused_after_rotation_grace(project: Any) -> None:
    key, client = _key_client(project)
    api_key_rotate(project=project, key_id=key.pk, grace_period_seconds=3600)
    assert client.get("/api/backups").status_code == 200  # within the grace
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/backups").status_code == 401


def test_project_token__recheck_cache_bounded_by_setting(project: Any, settings: Any) -> None:
    from django.core.cache import caches

    settings.AUTH_TOKEN_RECHECK_SECONDS = 5
    caches["local"].clear()
    key, client = _key_client(project)
    assert client.get("/api/backups").status_code == 200
    api_key_revoke(key_ids=[key.pk], actor=None, reason="leaked")
    # Within the freshness window the process may still trust its last look...
    assert client.get("/api/backups").status_code == 200
    # ...and once the entry expires (cleared here, instead of waiting 5 s) it looks again.
    caches["local"].clear()
    assert client.get("/api/backups").status_code == 401


def test_project_token__suspended_project_export_409_others_403(project: Any, backup: Any) -> None:
    job = completed_export(project, backup)
    _, client = _key_client(project)
    project_suspend(project_ids=[project.pk], actor=None, reason="unpaid")
    export = client.post("/api/backup/export", {"project_id": project.slug}, format="json")
    assert export.status_code == 409 and error_code(export) == "project_suspended"
    for path in ["/api/backups", f"/api/backups/{backup.pk}/download", f"/api/jobs/{job.pk}"]:
        response = client.get(path)
        assert response.status_code == 403, path
        assert error_code(response) == "project_suspended"


def test_signed_link__refused_after_suspension(
    api_client: APIClient, project: Any, backup: Any
) -> None:
    link = backup_download_link(backup=backup, issued_to="project:acme-shop")
    response = api_client.get(link.path)
    assert response.status_code == 200
    b"".join(response.streaming_content)
    project_suspend(project_ids=[project.pk], actor=None, reason="unpaid")
    response = api_client.get(link.path)
    assert response.status_code == 403
    assert error_code(response) == "project_suspended"


def test_project_token__deleted_project_keeps_404(project: Any) -> None:
    _, client = _key_client(project)
    Project.objects.filter(pk=project.pk).delete()
    response = client.post("/api/backup/export", {"project_id": "acme-shop"}, format="json")
    assert response.status_code == 404


def test_project_token__not_yet_active_project_403(project: Any) -> None:
    _, client = _key_client(project)
    Project.objects.filter(pk=project.pk).update(status=ProjectStatus.PROVISIONING)
    assert client.get("/api/backups").status_code == 403


# --- errors in the house's words (issue 14) ------------------------------------------------


def test_auth_errors__wrong_scheme_names_bearer(api_client: APIClient) -> None:
    api_client.credentials(HTTP_AUTHORIZATION="Token abc")
    response = api_client.get("/api/backups")
    assert response.status_code == 401
    assert "Bearer" in response.json()["error"]["message"]


def test_auth_errors__expired_says_expired(api_client: APIClient, project: Any) -> None:
    key, _ = api_key_issue(project=project, name="ci")
    token = AccessToken()
    token["project_id"], token["api_key_id"] = project.slug, key.pk
    token.set_exp(lifetime=timedelta(seconds=-10))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api_client.get("/api/backups")
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_auth_errors__tampered_says_not_valid(api_client: APIClient, project: Any) -> None:
    token = issue_access_token(project_id=project.slug, api_key_id=1)["access_token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token[:-3]}abc")
    response = api_client.get("/api/backups")
    assert response.status_code == 401
    message = response.json()["error"]["message"]
    assert "signature" in message and "any token type" not in message
