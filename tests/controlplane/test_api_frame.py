"""The error envelope for each error class, request ids, JWT and cron-secret auth."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.conftest import bearer

pytestmark = [pytest.mark.urls("tests.controlplane.urls"), pytest.mark.django_db]


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]


# --- envelope -----------------------------------------------------------------


def test_validation_error__maps_fields_to_message_lists(api_client: APIClient) -> None:
    response = api_client.post("/api/auth/staff-token", {"username": "x"}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert error["details"] == {"password": ["This field is required."]}


def test_validation_error__malformed_json(api_client: APIClient) -> None:
    response = api_client.post(
        "/api/auth/staff-token", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"
    assert "Malformed" in error_of(response)["message"]


def test_not_authenticated__no_token(api_client: APIClient) -> None:
    response = api_client.get("/api/test/staff-only")
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_invalid_token__garbage(api_client: APIClient) -> None:
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")
    response = api_client.get("/api/test/staff-only")
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == "invalid_token"
    assert isinstance(error["message"], str) and error["message"]


def test_invalid_token__expired(api_client: APIClient, project: Any) -> None:
    token = AccessToken()
    token["project_id"] = project.slug
    token.set_exp(lifetime=-timedelta(seconds=5))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api_client.get(f"/api/test/projects/{project.slug}")
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


def test_invalid_token__signed_with_another_secret(api_client: APIClient, project: Any) -> None:
    forged = jwt.encode(
        {"project_id": project.slug, "token_type": "access", "exp": 9999999999, "jti": "x"},
        "another-secret-that-is-long-enough-0123456789",
        algorithm="HS256",
    )
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    response = api_client.get(f"/api/test/projects/{project.slug}")
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


def test_forbidden__project_token_on_another_project(project_client: APIClient) -> None:
    response = project_client.get("/api/test/projects/someone-else")
    assert response.status_code == 403
    assert error_of(response)["code"] == "forbidden"


def test_project_token__own_project_allowed(project_client: APIClient, project: Any) -> None:
    response = project_client.get(f"/api/test/projects/{project.slug}")
    assert response.status_code == 200
    assert response.json() == {"data": {"project_id": project.slug}}


def test_staff_token__any_project_allowed(staff_client: APIClient) -> None:
    response = staff_client.get("/api/test/projects/anything")
    assert response.status_code == 200


def test_not_found__unknown_api_path(api_client: APIClient) -> None:
    response = api_client.get("/api/does/not/exist")
    assert response.status_code == 404
    assert error_of(response) == {"code": "not_found", "message": "Not found."}


def test_not_found__django_http404_in_view(api_client: APIClient) -> None:
    response = api_client.get("/api/test/raise/django404")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize(
    ("kind", "code"), [("suspended", "project_suspended"), ("conflict", "conflict")]
)
def test_conflicts__409(api_client: APIClient, kind: str, code: str) -> None:
    response = api_client.get(f"/api/test/raise/{kind}")
    assert response.status_code == 409
    assert error_of(response)["code"] == code


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_payload_too_large__413(api_client: APIClient) -> None:
    response = api_client.post("/api/test/raise/x", {"blob": "x" * 5000}, format="json")
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


def test_rate_limited__429_with_retry_after(api_client: APIClient, settings: Any) -> None:
    settings.AUTH_STAFF_TOKEN_RATE_LIMIT = "10/h"  # an hour: no window rolls over mid-test
    settings.AXES_FAILURE_LIMIT = 100  # the rate limit, not the lockout, is under test
    body = {"username": "nobody", "password": "wrong"}
    statuses = [
        api_client.post("/api/auth/staff-token", body, format="json").status_code for _ in range(11)
    ]
    assert statuses == [401] * 10 + [429]
    response = api_client.post("/api/auth/staff-token", body, format="json")
    assert response.status_code == 429
    assert error_of(response)["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 3600


def test_internal_error__500_without_internals(
    api_client: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    api_client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="controlplane.api"):
        response = api_client.get("/api/test/raise/crash", HTTP_X_REQUEST_ID="req-crash-1")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "internal_error"
    assert error["details"] == {"request_id": "req-crash-1"}
    raw = response.content.decode()
    assert "hunter2" not in raw and "SELECT" not in raw and "Traceback" not in raw
    # The request id ties the response to the logged traceback.
    logged = [r for r in caplog.records if r.name == "controlplane.api"]
    assert logged and logged[0].request_id == "req-crash-1" and logged[0].exc_info


# --- request id -------------------------------------------------------------------


def test_request_id__echoed_when_sent(api_client: APIClient) -> None:
    response = api_client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"


def test_request_id__generated_when_missing_or_unsafe(api_client: APIClient) -> None:
    generated = api_client.get("/healthz")["X-Request-ID"]
    unsafe = api_client.get("/healthz", HTTP_X_REQUEST_ID="bad id\r\nx")["X-Request-ID"]
    assert len(generated) == 32 and len(unsafe) == 32 and generated != unsafe


def test_request_id__on_error_responses(api_client: APIClient) -> None:
    response = api_client.get("/api/nope", HTTP_X_REQUEST_ID="r-404")
    assert response.status_code == 404 and response["X-Request-ID"] == "r-404"


# --- staff tokens -------------------------------------------------------------------


def test_staff_token__issued_for_staff_and_usable(api_client: APIClient) -> None:
    from tests import factories

    factories.staff(username="ops", password="s3cret-enough-pw")
    response = api_client.post(
        "/api/auth/staff-token", {"username": "ops", "password": "s3cret-enough-pw"}, format="json"
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["token_type"] == "Bearer" and data["expires_in"] == 3600
    claims = jwt.decode(data["access_token"], options={"verify_signature": False})
    assert "project_id" not in claims
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {data['access_token']}")
    assert api_client.get("/api/test/staff-only").json() == {"data": {"user": "ops"}}


def test_staff_token__wrong_password_401(api_client: APIClient, staff_user: Any) -> None:
    response = api_client.post(
        "/api/auth/staff-token", {"username": "operator", "password": "nope"}, format="json"
    )
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


def test_staff_token__non_staff_user_401_like_a_wrong_password(api_client: APIClient) -> None:
    from tests import factories

    factories.user(username="plain", password="pw-pw-pw-pw-1")
    response = api_client.post(
        "/api/auth/staff-token", {"username": "plain", "password": "pw-pw-pw-pw-1"}, format="json"
    )
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


def test_staff_only__project_token_refused(project_client: APIClient) -> None:
    assert project_client.get("/api/test/staff-only").status_code == 403


def test_jwt__token_of_a_demoted_user_refused(api_client: APIClient, staff_user: Any) -> None:
    bearer(api_client, user=staff_user)
    staff_user.is_staff = False
    staff_user.save()
    response = api_client.get("/api/test/staff-only")
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


# --- cron secret -------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "wrong-secret"])
def test_cron_secret__missing_empty_or_wrong_401(api_client: APIClient, header: str | None) -> None:
    extra = {} if header is None else {"HTTP_X_CRON_SECRET": header}
    response = api_client.get("/api/test/cron-only", **extra)
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


def test_cron_secret__current_accepted(api_client: APIClient, settings: Any) -> None:
    response = api_client.get("/api/test/cron-only", HTTP_X_CRON_SECRET=settings.CRON_SECRET)
    assert response.status_code == 200


def test_cron_secret__previous_accepted_only_when_configured(
    api_client: APIClient, settings: Any
) -> None:
    old = "an-old-cron-secret-still-in-rotation-0123"
    assert api_client.get("/api/test/cron-only", HTTP_X_CRON_SECRET=old).status_code == 401
    settings.CRON_SECRET_PREVIOUS = old
    assert api_client.get("/api/test/cron-only", HTTP_X_CRON_SECRET=old).status_code == 200


def test_cron_secret__staff_token_accepted_project_token_refused(
    staff_client: APIClient, project: Any
) -> None:
    assert staff_client.get("/api/test/cron-only").status_code == 200
    other = bearer(APIClient(), project_id=project.slug)
    assert other.get("/api/test/cron-only").status_code == 403


# --- schema ----------------------------------------------------------------------------------


def test_schema__served_as_openapi(api_client: APIClient) -> None:
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")
    assert "/api/auth/staff-token" in document["paths"]


def test_docs__render_without_a_cdn(api_client: APIClient) -> None:
    response = api_client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html and "cdn.jsdelivr" not in html
