"""Login throttling with django-axes: admin login and staff-token exchange (issue 9)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from controlplane.models import AuditLog
from tests import factories

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _limits(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    # The per-IP rate limit of the staff-token view must not be what stops the guesses here.
    settings.AUTH_STAFF_TOKEN_RATE_LIMIT = "100/m"


def admin_login(client: Client, username: str, password: str, ip: str = "198.51.100.1") -> Any:
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
    )


def staff_token(username: str, password: str, ip: str = "198.51.100.1") -> Any:
    return APIClient().post(
        "/api/auth/staff-token",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=ip,
    )


def test_admin_login__locked_after_n_failures_then_right_password_refused() -> None:
    factories.staff(username="alice", password=PASSWORD)
    client = Client()
    for _ in range(2):
        assert admin_login(client, "alice", "wrong").status_code == 200  # the form again
    locked = admin_login(client, "alice", "wrong")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    # The right password no longer helps, from this address or another one.
    assert admin_login(client, "alice", PASSWORD).status_code == 429
    assert admin_login(Client(), "alice", PASSWORD, ip="203.0.113.5").status_code == 429
    row = AuditLog.objects.filter(action="auth.lockout").order_by("id").first()
    assert row is not None and row.details["username"] == "alice"
    assert row.details["ip_address"] == "198.51.100.1"


def test_admin_login__per_ip_across_usernames() -> None:
    factories.staff(username="bob", password=PASSWORD)
    client = Client()
    for name in ["x1", "x2", "x3"]:
        admin_login(client, name, "wrong")
    assert admin_login(client, "bob", PASSWORD).status_code == 429
    assert admin_login(Client(), "bob", PASSWORD, ip="203.0.113.5").status_code == 302


def test_admin_login__success_resets_the_count() -> None:
    factories.staff(username="carol", password=PASSWORD)
    client = Client()
    for _ in range(2):
        admin_login(client, "carol", "wrong")
    assert admin_login(client, "carol", PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        admin_login(client, "carol", "wrong")
    assert admin_login(client, "carol", PASSWORD).status_code == 302


def test_staff_token__lockout_is_429_rate_limited_with_retry_after(settings: Any) -> None:
    factories.staff(username="dave", password=PASSWORD)
    assert [staff_token("dave", "wrong").status_code for _ in range(2)] == [401, 401]
    locked = staff_token("dave", "wrong")
    assert locked.status_code == 429
    error = locked.json()["error"]
    assert error["code"] == "rate_limited"
    expected = int(settings.AXES_COOLOFF_TIME.total_seconds())
    assert error["details"]["retry_after"] == expected == int(locked["Retry-After"])
    assert staff_token("dave", PASSWORD).status_code == 429
    assert AuditLog.objects.filter(action="auth.lockout", details__username="dave").exists()


def test_staff_token__admin_failures_count_too() -> None:
    factories.staff(username="erin", password=PASSWORD)
    client = Client()
    for _ in range(3):
        admin_login(client, "erin", "wrong", ip="203.0.113.9")
    assert staff_token("erin", PASSWORD).status_code == 429
