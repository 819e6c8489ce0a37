"""The backfill grid renders in a real browser: coloured cells, hover counts, click-through."""

from __future__ import annotations

from typing import Any

import pytest

from backfill.models import BackfillLog, BackfillStatus
from backfill.services import backfill_seed
from tests import factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_grid__renders_and_links_to_the_month(live_server: Any, page: Any) -> None:
    factories.user(username="root", password="browser-pass-123", is_staff=True, is_superuser=True)
    backfill_seed()
    failed = BackfillLog.objects.get(year=2023, month=7)
    BackfillLog.objects.filter(pk=failed.pk).update(
        status=BackfillStatus.FAILED, retry_count=5, error_message="xai: HTTP 500 boom"
    )

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "browser-pass-123")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/backfill/backfilllog/")
    page.click("#backfill-grid-link")

    page.wait_for_selector("#backfill-grid")
    assert page.locator("#backfill-grid a.cell").count() == 300
    cell = page.locator("#backfill-grid a.status-failed")
    assert cell.count() == 1
    assert "July 2023: Failed" in cell.get_attribute("title")
    colour = cell.evaluate("el => getComputedStyle(el).backgroundColor")
    assert colour == "rgb(198, 40, 40)"
    assert "0 of 300 months completed" in page.inner_text("#backfill-progress")

    cell.click()
    page.wait_for_selector("text=xai: HTTP 500 boom")
    assert f"/admin/backfill/backfilllog/{failed.pk}/change/" in page.url
