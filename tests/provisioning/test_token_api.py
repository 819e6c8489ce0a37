"""POST /api/auth/token: API key to JWT, per the API contract."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from controlplane.models import ProjectStatus
from controlplane.services import project_suspend
from provisioning.models import ApiKey
from provisioning.services import api_key_issue, api_key_revoke, api_key_rotate
from tests import factories

pytestmark = pytest.mark.django_db
URL = "/api/auth/token"


def exchange(client: APIClient, api_key: Any) -> Any:
    return client.post(URL, {"api_key": api_key}, format="json")


def error_code(response: Any) -> str:
    return response.json()["error"]["code"]


def test_token__valid_key_gets_project_jwt(api_client: APIClient, project: Any) -> None:
    key, plaintext = api_key_issue(project=project, name="ci")
    before = timezone.now()
    response = exchange(api_client, plaintext)
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["token_type"] == "Bearer" and data["expires_in"] > 0
    assert AccessToken(data["access_token"])["project_id"] == "acme-shop"
    key.refresh_from_db()
    assert key.last_used_at is not None and key.last_used_at >= before


def test_token__wrong_key(api_client: APIClient, project: Any) -> None:
    key, plaintext = api_key_issue(project=project, name="ci")
    response = exchange(api_client, plaintext[:-4] + "0000")
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"
    assert response["WWW-Authenticate"].startswith("Bearer")
    key.refresh_from_db()
    assert key.last_used_at is None


def test_token__revoked_key(api_client: APIClient, project: Any) -> None:
    key, plaintext = api_key_issue(project=project, name="ci")
    api_key_revoke(key_ids=[key.pk], actor=None)
    response = exchange(api_client, plaintext)
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"
    assert "revoked" in response.json()["error"]["message"]


def test_token__expired_key(api_client: APIClient, project: Any) -> None:
    key, plaintext = api_key_issue(project=project, name="ci")
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = exchange(api_client, plaintext)
    assert response.status_code == 401 and error_code(response) == "invalid_token"


def test_token__rotated_key_works_during_grace(api_client: APIClient, project: Any) -> None:
    old, plaintext = api_key_issue(project=project, name="ci")
    api_key_rotate(project=project, grace_period_seconds=60)
    assert exchange(api_client, plaintext).status_code == 200
    ApiKey.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert exchange(api_client, plaintext).status_code == 401


def test_token__suspended_project_forbidden(api_client: APIClient, project: Any) -> None:
    _, plaintext = api_key_issue(project=project, name="ci")
    project_suspend(project_ids=[project.pk], actor=None, reason="unpaid")
    response = exchange(api_client, plaintext)
    assert response.status_code == 403
    assert error_code(response) == "forbidden"
    assert "suspended" in response.json()["error"]["message"]


def test_token__project_still_provisioning_forbidden(api_client: APIClient) -> None:
    pending = factories.project(slug="still-new", status=ProjectStatus.PROVISIONING)
    _, plaintext = api_key_issue(project=pending, name="ci")
    response = exchange(api_client, plaintext)
    assert response.status_code == 403 and error_code(response) == "forbidden"


@pytest.mark.parametrize("body", [{}, {"api_key": ""}, {"api_key": "x" * 300}, {"key": "x"}])
def test_token__validation_error(api_client: APIClient, body: dict[str, Any]) -> None:
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    assert "api_key" in response.json()["error"]["details"]


def test_token__rate_limited_per_ip(api_client: APIClient, project: Any, settings: Any) -> None:
    settings.PROVISIONING_TOKEN_RATE_LIMIT = "3/h"  # an hour: no window rolls over mid-test
    _, plaintext = api_key_issue(project=project, name="ci")
    statuses = [exchange(api_client, plaintext).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    limited = exchange(api_client, plaintext)
    assert limited.status_code == 429 and error_code(limited) == "rate_limited"
    assert int(limited["Retry-After"]) >= 1
    # Another client address has its own budget.
    other = api_client.post(URL, {"api_key": plaintext}, format="json", REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 200


def test_token__wrong_keys_count_against_the_limit(api_client: APIClient, settings: Any) -> None:
    settings.PROVISIONING_TOKEN_RATE_LIMIT = "2/h"
    assert [exchange(api_client, "guess").status_code for _ in range(3)] == [401, 401, 429]
