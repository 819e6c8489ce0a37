"""Backfill admin: read-only list, the year x month grid, retry/reset actions with a preview."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from backfill.models import BackfillLog, BackfillStatus
from tests import factories as base_factories
from tests.backfill import factories

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:backfill_backfilllog_changelist")
GRID = reverse("admin:backfill_backfilllog_grid")


@pytest.fixture
def admin_client_(client: Client) -> Client:
    client.force_login(base_factories.user(username="root", is_staff=True, is_superuser=True))
    return client


def staff_with(client: Client, *codenames: str) -> Client:
    user = base_factories.staff()
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


def post_action(client: Client, action: str, logs: list[BackfillLog], **extra: str) -> Any:
    data = {"action": action, "_selected_action": [log.pk for log in logs], **extra}
    return client.post(CHANGELIST, data, follow=True)


def test_changelist__lists_months_and_links_the_grid(admin_client_: Client) -> None:
    factories.month(2024, 3, status=BackfillStatus.FAILED, retry_count=5)
    response = admin_client_.get(CHANGELIST, {"status__exact": "failed"})
    assert response.status_code == 200
    assert b"2024-03" in response.content and GRID.encode() in response.content


def test_change_page__shows_the_last_error(admin_client_: Client) -> None:
    log = factories.month(2024, 3, status=BackfillStatus.RETRY, error_message="gemini: HTTP 503")
    page = admin_client_.get(reverse("admin:backfill_backfilllog_change", args=[log.pk]))
    assert page.status_code == 200 and b"gemini: HTTP 503" in page.content
    assert b'name="_save"' not in page.content  # read-only


def test_change_page__links_the_last_job_and_lists_the_months_jobs(
    admin_client_: Client,
) -> None:
    older = factories.month_job(2024, 3)
    other_month = factories.month_job(2024, 4)
    log = factories.month(2024, 3, status=BackfillStatus.PROCESSING)
    page = admin_client_.get(reverse("admin:backfill_backfilllog_change", args=[log.pk]))
    html = page.content.decode()
    current_url = reverse("admin:jobs_job_change", args=[log.last_job_id])
    assert f'<a href="{current_url}" id="last-job-link">{log.last_job_id}</a>' in html
    table = html[html.index('id="month-jobs"') :]
    assert reverse("admin:jobs_job_change", args=[older.pk]) in table
    assert reverse("admin:jobs_job_change", args=[other_month.pk]) not in table
    assert table.count("<tr><td>") == 2
    assert f"{reverse('admin:jobs_job_changelist')}?type=backfill_month" in table


def test_job_page__links_its_month(admin_client_: Client) -> None:
    log = factories.month(2024, 3, status=BackfillStatus.PROCESSING)
    page = admin_client_.get(reverse("admin:jobs_job_change", args=[log.last_job_id]))
    month_url = reverse("admin:backfill_backfilllog_change", args=[log.pk])
    assert (
        f'<a href="{month_url}" id="job-subject-link">Backfill 2024-03</a>' in page.content.decode()
    )
    other = factories.month_job(2023, 7)  # a month with no row: nothing to link
    page = admin_client_.get(reverse("admin:jobs_job_change", args=[other.pk]))
    assert b"job-subject-link" not in page.content


def test_change_page__lists_at_most_20_jobs_newest_first(admin_client_: Client) -> None:
    jobs = [factories.month_job(2024, 3) for _ in range(22)]
    log = factories.month(2024, 3, status=BackfillStatus.RETRY, last_job=jobs[-1])
    html = admin_client_.get(reverse("admin:backfill_backfilllog_change", args=[log.pk]))
    table = html.content.decode().split('id="month-jobs"', 1)[1]
    assert table.count("<tr><td>") == 20
    newest = str(jobs[-1].pk)[:8]
    assert table.index(newest) < table.index(str(jobs[2].pk)[:8])
    assert str(jobs[0].pk)[:8] not in table and str(jobs[1].pk)[:8] not in table


def test_change_page__month_without_jobs(admin_client_: Client) -> None:
    log = factories.month(2024, 3)
    html = admin_client_.get(reverse("admin:backfill_backfilllog_change", args=[log.pk]))
    assert b"No jobs yet." in html.content


def test_grid__cells_coloured_with_counts_and_progress(admin_client_: Client, seeded: Any) -> None:
    done = BackfillLog.objects.get(year=2024, month=3)
    BackfillLog.objects.filter(pk=done.pk).update(
        status=BackfillStatus.COMPLETED,
        completed_at=done.created_at,
        books_generated=20,
        isbns_resolved=15,
        gemini_calls=1,
        isbndb_calls=20,
    )
    response = admin_client_.get(GRID)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="cell status-') == 300
    assert html.count("status-completed") == 1
    assert "March 2024: Completed; books 20, ISBNs 15 (75.0%)" in html
    assert reverse("admin:backfill_backfilllog_change", args=[done.pk]) in html
    assert "<strong>1</strong> of <strong>300</strong> months completed (0.3%)" in html


def test_grid__needs_view_permission(client: Client) -> None:
    assert staff_with(client).get(GRID).status_code == 403
    assert staff_with(Client(), "view_backfilllog").get(GRID).status_code == 200


def test_grid__anonymous_goes_to_login(client: Client) -> None:
    response = client.get(GRID)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_retry_failed__preview_then_confirm(admin_client_: Client) -> None:
    failed = factories.month(
        2024, 1, status=BackfillStatus.FAILED, retry_count=5, error_message="x"
    )
    done = factories.month(2024, 2, status=BackfillStatus.COMPLETED)
    preview = post_action(admin_client_, "retry_failed", [failed, done])
    assert b"Retry these 1 month(s)?" in preview.content
    assert (
        b"2024-01" in preview.content
        and b"1 selected month(s) are in another status" in preview.content
    )
    failed.refresh_from_db()
    assert failed.status == BackfillStatus.FAILED  # nothing before confirmation

    done_page = post_action(admin_client_, "retry_failed", [failed, done], confirm="yes")
    assert b"Sent 1 failed month(s) back to pending." in done_page.content
    failed.refresh_from_db()
    assert (failed.status, failed.retry_count) == (BackfillStatus.PENDING, 0)


def test_reset_pending__confirm(admin_client_: Client) -> None:
    logs = [
        factories.month(2024, 1, status=BackfillStatus.RETRY, retry_count=3),
        factories.month(2024, 2, status=BackfillStatus.PROCESSING),
    ]
    done_page = post_action(admin_client_, "reset_pending", logs, confirm="yes")
    assert b"Reset 1 month(s) to pending." in done_page.content
    assert dict(BackfillLog.objects.values_list("month", "status")) == {
        1: "pending",
        2: "processing",
    }


def test_actions__need_the_manage_permission(client: Client) -> None:
    viewer = staff_with(client, "view_backfilllog")
    factories.month(2024, 1, status=BackfillStatus.FAILED, retry_count=5)
    page = viewer.get(CHANGELIST)
    assert page.status_code == 200 and b"retry_failed" not in page.content
    manager = staff_with(Client(), "view_backfilllog", "manage_backfill")
    assert b"retry_failed" in manager.get(CHANGELIST).content
