"""GET /api/backups and the signed download flow, including BOLA, tampering and expiry."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from backups.signing import download_link_issue
from controlplane.models import AuditLog
from tests import factories
from tests.backups import factories as backup_factories
from tests.conftest import bearer

pytestmark = pytest.mark.django_db


def error_code(response: Any) -> str:
    return response.json()["error"]["code"]


def stream(response: Any) -> bytes:
    # Consuming it all lets the test client close the file (response.close() would also
    # fire request_finished, which closes the test's database connection).
    return b"".join(response.streaming_content)


@pytest.fixture
def other_project() -> Any:
    return factories.project(slug="other-co")


def test_list__newest_first_with_contract_fields(project: Any, project_client: APIClient) -> None:
    now = timezone.now()
    older = backup_factories.backup(project=project, created_at=now - timedelta(hours=2))
    newer = backup_factories.backup(project=project, created_at=now - timedelta(hours=1))

    response = project_client.get("/api/backups", {"project_id": "acme-shop"})

    assert response.status_code == 200
    body = response.json()
    assert [b["id"] for b in body["data"]] == [str(newer.pk), str(older.pk)]
    assert set(body["data"][0]) == {
        "id", "project_id", "job_id", "format", "compressed", "compression", "size_bytes",
        "sha256", "table_count", "created_at", "expires_at",
    }  # fmt: skip
    assert body["data"][0]["project_id"] == "acme-shop"
    assert body["pagination"] == {"next": None}


def test_list__cursor_pagination(project: Any, project_client: APIClient) -> None:
    now = timezone.now()
    made = [
        backup_factories.backup(project=project, created_at=now - timedelta(minutes=i))
        for i in range(5)
    ]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = project_client.get("/api/backups", params).json()
        seen += [b["id"] for b in body["data"]]
        pages += 1
        cursor = body["pagination"]["next"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [str(b.pk) for b in made]


def test_list__project_token_sees_only_its_own(
    project: Any, other_project: Any, project_client: APIClient
) -> None:
    backup_factories.backup(project=other_project)
    mine = backup_factories.backup(project=project)
    assert [b["id"] for b in project_client.get("/api/backups").json()["data"]] == [str(mine.pk)]
    denied = project_client.get("/api/backups", {"project_id": "other-co"})
    assert denied.status_code == 403 and error_code(denied) == "forbidden"


def test_list__staff_may_list_any_project(
    project: Any, other_project: Any, staff_client: APIClient
) -> None:
    theirs = backup_factories.backup(project=other_project)
    backup_factories.backup(project=project)
    body = staff_client.get("/api/backups", {"project_id": "other-co"}).json()
    assert [b["id"] for b in body["data"]] == [str(theirs.pk)]
    assert len(staff_client.get("/api/backups").json()["data"]) == 2


def test_list__bad_project_id_and_no_token(api_client: APIClient, staff_client: APIClient) -> None:
    bad = staff_client.get("/api/backups", {"project_id": "no/slashes"})
    assert bad.status_code == 400 and "project_id" in bad.json()["error"]["details"]
    assert error_code(APIClient().get("/api/backups")) == "not_authenticated"


def test_download__redirects_to_signed_link_that_streams_and_audits(
    project: Any, project_client: APIClient, api_client: APIClient
) -> None:
    backup = backup_factories.backup(project=project, content=b"-- my dump\n")

    response = project_client.get(f"/api/backups/{backup.pk}/download")

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path.startswith("/api/backups/files/")
    anonymous = APIClient()
    file_response = anonymous.get(location.path)
    assert file_response.status_code == 200
    assert stream(file_response) == b"-- my dump\n"
    assert "attachment" in file_response["Content-Disposition"]
    assert file_response["X-Content-SHA256"] == backup.sha256
    audit = AuditLog.objects.get(action="backup.download")
    assert audit.target_id == str(backup.pk)
    assert audit.details["issued_to"] == "project:acme-shop"


def test_download__staff_link_audits_the_user(
    project: Any, staff_user: Any, staff_client: APIClient
) -> None:
    backup = backup_factories.backup(project=project)
    location = staff_client.get(f"/api/backups/{backup.pk}/download")["Location"]
    stream(APIClient().get(urlsplit(location).path))
    audit = AuditLog.objects.get(action="backup.download")
    assert audit.actor_id == staff_user.pk and audit.actor_label == "operator"


def test_download__other_projects_backup_is_not_found(
    project: Any, other_project: Any, project_client: APIClient
) -> None:
    theirs = backup_factories.backup(project=other_project)
    response = project_client.get(f"/api/backups/{theirs.pk}/download")
    missing = project_client.get(f"/api/backups/{uuid.uuid4()}/download")
    assert response.status_code == missing.status_code == 404
    assert response.json() == missing.json()
    assert not AuditLog.objects.filter(action="backup.download").exists()


def test_download__other_project_token_cannot_reuse_route(
    project: Any, other_project: Any, api_client: APIClient
) -> None:
    backup = backup_factories.backup(project=project)
    client = bearer(api_client, project_id="other-co")
    assert client.get(f"/api/backups/{backup.pk}/download").status_code == 404
    assert client.get("/api/backups", {"project_id": "acme-shop"}).status_code == 403


def test_file__tampered_signature_is_forbidden(project: Any) -> None:
    backup = backup_factories.backup(project=project)
    path = download_link_issue(backup_id=str(backup.pk), issued_to="test").path
    token = path.rsplit("/", 1)[1]
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    other_id = download_link_issue(backup_id=str(uuid.uuid4()), issued_to="test").path
    spliced = other_id.rsplit("/", 1)[1].split(":")[0] + ":" + token.split(":", 1)[1]
    for bad in (forged, spliced, "garbage"):
        response = APIClient().get(f"/api/backups/files/{bad}")
        assert response.status_code == 403 and error_code(response) == "forbidden"
    assert not AuditLog.objects.filter(action="backup.download").exists()


def test_file__expired_link_is_forbidden(project: Any) -> None:
    backup = backup_factories.backup(project=project)
    expired = download_link_issue(
        backup_id=str(backup.pk), issued_to="test", ttl=3600, now=time.time() - 3601
    )
    response = APIClient().get(expired.path)
    assert response.status_code == 403 and error_code(response) == "forbidden"


def test_file__link_lifetime_follows_setting(project: Any, settings: Any) -> None:
    settings.BACKUPS_DOWNLOAD_TTL = 120
    backup = backup_factories.backup(project=project)
    link = download_link_issue(backup_id=str(backup.pk), issued_to="test")
    remaining = (link.expires_at - timezone.now()).total_seconds()
    assert 100 < remaining <= 120


def test_file__deleted_backup_is_not_found(project: Any) -> None:
    backup = backup_factories.backup(project=project)
    link = download_link_issue(backup_id=str(backup.pk), issued_to="test")
    from backups.services import backup_delete

    backup_delete(backup_ids=[backup.pk], actor=None)
    assert APIClient().get(link.path).status_code == 404
