"""Hostile input gets a clear 4xx, never a 5xx (issue 9, point 4 and 7)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from backups.serializers import validate_project_id
from backups.storage import MAX_NAME_BYTES, MAX_PATH_BYTES, storage_path_problem
from controlplane.api.parsers import json_depth_exceeds
from controlplane.clientip import UNKNOWN_CLIENT, client_ip
from controlplane.services import project_create
from tests import factories

pytestmark = pytest.mark.django_db


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


# --- JSON nesting ---------------------------------------------------------------------------


def test_json_depth__1000_brackets_to_token_exchange_400(api_client: APIClient) -> None:
    response = api_client.post("/api/auth/token", data="[" * 1000, content_type="application/json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error" and "nested deeper than 32" in error["message"]


def test_json_depth__at_the_limit_parses(api_client: APIClient) -> None:
    body = '{"api_key": ' + "[" * 31 + "]" * 31 + "}"
    response = api_client.post("/api/auth/token", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "nested" not in error_of(response)["message"]  # a field error, not the depth


def test_json_depth__brackets_inside_strings_do_not_count() -> None:
    assert not json_depth_exceeds(b'{"a": "' + b"[" * 100 + b'\\" ["}', 32)
    assert json_depth_exceeds(b"[" * 33 + b"]" * 33, 32)
    assert not json_depth_exceeds(b"[" * 32 + b"]" * 32, 32)


# --- cursors and limits ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!!",
        base64.b64encode(b"p=not-a-date").decode(),
        base64.b64encode(b"o=-5&p=2026-01-01").decode(),
        base64.b64encode(b"r=x").decode(),
        base64.b64encode("p=\u00e9".encode()).decode(),
    ],
)
def test_cursor__malformed_400_in_envelope(project_client: APIClient, cursor: str) -> None:
    response = project_client.get("/api/backups", {"cursor": cursor})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error" and "cursor" in error["details"]


@pytest.mark.parametrize("limit", ["null", "0", "201", "-1", "1.5", "\u00b2"])
def test_limit__not_1_to_200_is_400(project_client: APIClient, limit: str) -> None:
    response = project_client.get("/api/backups", {"limit": limit})
    assert response.status_code == 400
    assert "limit" in error_of(response)["details"]


def test_limit__in_range_pages(project_client: APIClient) -> None:
    assert project_client.get("/api/backups", {"limit": "200"}).status_code == 200


# --- storage_path and identifiers ----------------------------------------------------------


def test_storage_path__long_segment_refused() -> None:
    name = "a" * (MAX_NAME_BYTES + 1)
    assert "file name" in (storage_path_problem(f"backups/acme/{name}", project_slug="acme") or "")
    assert storage_path_problem(f"backups/acme/{'a' * MAX_NAME_BYTES}", project_slug="acme") is None
    folder = "é" * 128  # 256 bytes in 128 characters
    problem = storage_path_problem(f"backups/acme/{folder}/x.sql", project_slug="acme")
    assert "folder" in (problem or "")


def test_storage_path__total_bytes_bounded() -> None:
    path = "backups/acme/" + "/".join(["\U0001f600" * 60] * 6) + "/x.sql"  # 4 bytes each
    assert len(path) <= 500 and len(path.encode()) > MAX_PATH_BYTES
    assert "bytes" in (storage_path_problem(path, project_slug="acme") or "")


def test_export__long_segment_400_not_accepted(project_client: APIClient) -> None:
    response = project_client.post(
        "/api/backup/export",
        {"project_id": "acme-shop", "storage_path": "backups/acme-shop/" + "x" * 300},
        format="json",
    )
    assert response.status_code == 400
    assert "storage_path" in error_of(response)["details"]


@pytest.mark.parametrize("value", ["alpha\n", "acme-shop\n"])
def test_identifiers__trailing_newline_refused(value: str) -> None:
    from django.core.exceptions import ValidationError as DjangoValidationError
    from rest_framework.exceptions import ValidationError

    with pytest.raises(ValidationError):
        validate_project_id(value)
    with pytest.raises(DjangoValidationError, match="slug"):
        project_create(slug=value, name="x")


def test_export__project_id_with_newline_400(project_client: APIClient) -> None:
    response = project_client.post(
        "/api/backup/export", {"project_id": "acme-shop\n"}, format="json"
    )
    assert response.status_code == 400


# --- client address -------------------------------------------------------------------------


def test_empty_remote_addr__rate_limited_endpoint_answers(api_client: APIClient) -> None:
    response = api_client.post(
        "/api/auth/token", {"api_key": "nope"}, format="json", REMOTE_ADDR=""
    )
    assert response.status_code == 401


def _request(remote: str, forwarded: str | None = None) -> Any:
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **extra)


def test_client_ip__untrusted_peer_spoofing_changes_nothing(settings: Any) -> None:
    settings.TRUSTED_PROXIES = ""
    assert client_ip(_request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"
    settings.TRUSTED_PROXIES = "10.0.0.0/8"
    assert client_ip(_request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_client_ip__trusted_proxy_forwards_the_client(settings: Any) -> None:
    settings.TRUSTED_PROXIES = "10.0.0.0/8"
    # The client put a fake first entry; the proxy appended the address it saw.
    request = _request("10.0.0.2", "1.2.3.4, 198.51.100.7")
    assert client_ip(request) == "198.51.100.7"
    settings.TRUSTED_PROXIES = "1"
    assert client_ip(request) == "198.51.100.7"
    settings.TRUSTED_PROXIES = "2"
    assert client_ip(_request("10.0.0.2", "198.51.100.7, 10.0.0.3")) == "198.51.100.7"


def test_client_ip__unix_socket(settings: Any) -> None:
    settings.TRUSTED_PROXIES = ""
    assert client_ip(_request("")) == UNKNOWN_CLIENT
    settings.TRUSTED_PROXIES = "1"
    assert client_ip(_request("", "198.51.100.7")) == "198.51.100.7"
    settings.TRUSTED_PROXIES = "127.0.0.1"
    assert client_ip(_request("", "198.51.100.7")) == "198.51.100.7"


def test_client_ip__garbage_header_ignored(settings: Any) -> None:
    settings.TRUSTED_PROXIES = "1"
    assert client_ip(_request("10.0.0.2", "not-an-ip")) == "10.0.0.2"


def test_rate_limit__spoofed_header_from_untrusted_peer_shares_its_bucket(
    api_client: APIClient, settings: Any
) -> None:
    settings.PROVISIONING_TOKEN_RATE_LIMIT = "2/m"
    statuses = [
        api_client.post(
            "/api/auth/token",
            {"api_key": "nope"},
            format="json",
            REMOTE_ADDR="203.0.113.9",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i}",
        ).status_code
        for i in range(3)
    ]
    assert statuses == [401, 401, 429]


def test_rate_limit__trusted_proxy_gives_each_client_its_bucket(
    api_client: APIClient, settings: Any
) -> None:
    settings.PROVISIONING_TOKEN_RATE_LIMIT = "2/m"
    settings.TRUSTED_PROXIES = "1"
    statuses = [
        api_client.post(
            "/api/auth/token",
            {"api_key": "nope"},
            format="json",
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i}",
        ).status_code
        for i in range(3)
    ]
    assert statuses == [401, 401, 401]


def test_settings__factories_staff_has_no_permissions_by_default() -> None:
    assert not factories.staff().has_perm("jobs.view_job")
