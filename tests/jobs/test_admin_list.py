"""The job list at scale: pinned query counts, id-prefix search, the project and time filters."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from jobs.models import Job, JobStatus
from jobs.services import JobSpec, enqueue_jobs_bulk
from tests import factories

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:jobs_job_changelist")
ROW = re.compile(r'<tr[^>]*>\s*<td class="action-checkbox">')


@pytest.fixture
def root_client(client: Client) -> Client:
    client.force_login(factories.user(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def seeded(db: None) -> None:
    call_command("seed_synthetic", jobs=400, projects=40, stdout=StringIO())


def rows(page: Any) -> int:
    return len(ROW.findall(page.content.decode()))


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?status__exact=failed",
        "?type=export_backup",
        "?p=2",
        "?created_at__gte=2020-01-01&created_at__lt=2100-01-01",
        "?completed_at__gte=2020-01-01",
        "?status__exact=failed&type=export_backup&o=6",
    ],
)
def test_changelist__query_count_pinned(
    root_client: Client, seeded: None, django_assert_num_queries: DjangoAssertNumQueries, query: str
) -> None:
    # session, user, capped count, the page, the paused types (a tiny table): nothing per
    # row, no list of projects.
    with django_assert_num_queries(5):
        page = root_client.get(CHANGELIST + query)
    assert page.status_code == 200
    assert rows(page) > 0


def test_changelist__one_project_query_count_pinned(
    root_client: Client, seeded: None, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    project = Job.objects.exclude(project=None).values_list("project_id", flat=True).first()
    assert project is not None
    # … plus the selected project's name for the autocomplete box.
    with django_assert_num_queries(6):
        page = root_client.get(CHANGELIST + f"?project__id__exact={project}")
    assert rows(page) == min(Job.objects.filter(project_id=project).count(), 50)


def test_changelist__project_filter_is_an_autocomplete_not_links(
    root_client: Client, seeded: None
) -> None:
    html = root_client.get(CHANGELIST).content.decode()
    assert 'class="admin-autocomplete' in html and 'data-model-name="job"' in html
    assert "synth-00007" not in html.split('id="changelist-filter"')[1].split("</nav>")[0]
    # The autocomplete answers with the matching projects.
    found = root_client.get(
        reverse("admin:autocomplete"),
        {"term": "synth-0000", "app_label": "jobs", "model_name": "job", "field_name": "project"},
    ).json()
    assert {r["text"] for r in found["results"]} >= {"synth-00001", "synth-00009"}


def test_search__full_id_and_listed_prefix_find_the_job(root_client: Client, seeded: None) -> None:
    job = Job.objects.order_by("?").first()
    assert job is not None
    for term in (str(job.pk), str(job.pk)[:8], str(job.pk).upper()):
        page = root_client.get(CHANGELIST, {"q": term})
        assert str(job.pk) in page.content.decode(), term
    prefix_rows = rows(root_client.get(CHANGELIST, {"q": str(job.pk)[:8]}))
    assert prefix_rows == Job.objects.filter(id__startswith=str(job.pk)[:8]).count() >= 1


def test_search__slug_and_hex_looking_slug(root_client: Client) -> None:
    hexy = factories.project(slug="cafe1234")
    other = factories.project(slug="other-shop")
    ids = enqueue_jobs_bulk(
        jobs=[JobSpec(type="test.echo", payload={"value": 1}, project=p) for p in (hexy, other)]
    )
    assert rows(root_client.get(CHANGELIST, {"q": "other-shop"})) == 1
    assert rows(root_client.get(CHANGELIST, {"q": "cafe1234"})) == 1
    assert rows(root_client.get(CHANGELIST, {"q": "no-such-thing"})) == 0
    target = uuid.UUID(str(ids[0]))
    assert rows(root_client.get(CHANGELIST, {"q": target.hex[:12]})) >= 1


def test_time_filters__created_and_finished_ranges(root_client: Client, seeded: None) -> None:
    now = timezone.now()
    since = (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    recent = Job.objects.filter(completed_at__gte=now - timedelta(hours=1)).count()
    page = root_client.get(CHANGELIST, {"completed_at__gte": since})
    assert rows(page) == min(recent, 50)
    day = (now - timedelta(days=10)).date()
    created = Job.objects.filter(created_at__date=day).count()
    page = root_client.get(
        CHANGELIST,
        {"created_at__gte": day.isoformat(), "created_at__lt": (day + timedelta(1)).isoformat()},
    )
    assert rows(page) == min(created, 50)


def test_time_filters__bad_input_says_so(root_client: Client, seeded: None) -> None:
    page = root_client.get(CHANGELIST, {"created_at__gte": "yesterday-ish"})
    assert page.status_code == 200
    assert "Not a date or time: &#x27;yesterday-ish&#x27;" in page.content.decode()
    assert rows(page) == 50  # unfiltered, not an error page


def test_changelist__last_error_exact_times_and_ages(root_client: Client, seeded: None) -> None:
    failed = Job.objects.filter(status=JobStatus.FAILED).order_by("-created_at").first()
    assert failed is not None
    html = root_client.get(CHANGELIST, {"status__exact": "failed"}).content.decode()
    assert 'class="job-error"' in html and failed.last_error[:30] in html
    today = failed.created_at.date() == timezone.now().date()
    assert failed.created_at.strftime("%H:%M:%S" if today else "%Y-%m-%d %H:%M:%S") in html
    assert " ago</span>" in html
    old = Job.objects.filter(created_at__lt=timezone.now() - timedelta(days=3)).first()
    assert old is not None
    page = root_client.get(CHANGELIST, {"q": str(old.pk)}).content.decode()
    assert old.created_at.strftime("%Y-%m-%d %H:%M:%S") in page


def test_detail__job_with_25_attempts_in_few_queries(
    root_client: Client, seeded: None, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    job = Job.objects.get(attempts=25)
    url = reverse("admin:jobs_job_change", args=[job.pk])
    root_client.get(url)  # warms the per-process content-type cache
    # session, user, job, its project, its attempts (one query for all 25), whether its
    # type is paused.
    with django_assert_num_queries(6):
        page = root_client.get(url)
    html = page.content.decode()
    assert html.count("<summary>traceback</summary>") == 25
    assert 'id="job-attempts"' in html


def test_paginator__counts_only_what_the_page_links_need(root_client: Client) -> None:
    call_command("seed_synthetic", jobs=700, projects=5, stdout=StringIO())
    first = root_client.get(CHANGELIST).content.decode()
    assert "more than 500 jobs" in first
    assert 'class="showall"' not in first  # "show all" would read every row
    # Far pages count further ahead, so their links stay right.
    page_12 = root_client.get(CHANGELIST, {"p": 12}).content.decode()
    assert "700 jobs" in page_12 and rows(root_client.get(CHANGELIST, {"p": 14})) == 50
