"""A guesser at /admin/login/ meets the lockout page in a real browser."""

from __future__ import annotations

import os
from typing import Any

import pytest

from controlplane.models import AuditLog
from tests import factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin_login__lockout_page_in_browser(live_server: Any, page: Any, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    factories.staff(username="root", password="browser-pass-123")
    for _ in range(3):
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "root")
        page.fill("#id_password", "not-the-password")
        page.click("input[type=submit]")
    text = page.inner_text("#content")
    assert "Too many failed logins for root" in text
    assert "Try again in 0:15:00" in text
    shot = os.environ.get("LOCKOUT_SCREENSHOT")
    if shot:
        page.screenshot(path=shot, full_page=True)
    assert AuditLog.objects.filter(action="auth.lockout", details__username="root").exists()
