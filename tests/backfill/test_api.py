"""Internal endpoints: cron-secret or staff auth, seed, schedule (jobs, dry run, races), stats."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from rest_framework.test import APIClient

from backfill.models import BackfillLog, BackfillStatus
from backfill.services import backfill_seed
from jobs.models import Job, JobStatus
from tests.backfill import factories

pytestmark = pytest.mark.django_db
SEED = "/api/internal/seed-backfill-queue"
SCHEDULE = "/api/internal/schedule-backfill"
STATS = "/api/internal/backfill-stats"
ENDPOINTS = [("post", SEED), ("post", SCHEDULE), ("get", STATS)]


def call(client: APIClient, method: str, url: str, body: Any = None) -> Any:
    return (
        getattr(client, method)(url, body or {}, format="json")
        if method == "post"
        else client.get(url)
    )


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
@pytest.mark.parametrize("secret", [None, "", "wrong-secret"], ids=["missing", "empty", "wrong"])
def test_auth__refuses_without_the_cron_secret(
    api_client: APIClient, method: str, url: str, secret: str | None
) -> None:
    if secret is not None:
        api_client.credentials(HTTP_X_CRON_SECRET=secret)
    response = call(api_client, method, url)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert BackfillLog.objects.count() == 0


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_auth__staff_token_is_accepted(staff_client: APIClient, method: str, url: str) -> None:
    body = {"dry_run": True} if url == SCHEDULE else None
    assert call(staff_client, method, url, body).status_code == 200


def test_auth__project_token_is_forbidden(project_client: APIClient) -> None:
    assert project_client.get(STATS).status_code == 403


def test_auth__previous_cron_secret_still_works(api_client: APIClient, settings: Any) -> None:
    settings.CRON_SECRET_PREVIOUS = "previous-cron-secret-0123456789abcdef"
    api_client.credentials(HTTP_X_CRON_SECRET=settings.CRON_SECRET_PREVIOUS)
    assert api_client.get(STATS).status_code == 200


def test_seed__idempotent(cron_client: APIClient) -> None:
    first = cron_client.post(SEED)
    second = cron_client.post(SEED)
    assert first.status_code == 200 and first.json() == {"data": {"inserted": 300, "existing": 0}}
    assert second.json() == {"data": {"inserted": 0, "existing": 300}}
    assert BackfillLog.objects.count() == 300


def test_schedule__year_range_in_either_order_lists_newest_first(
    cron_client: APIClient, seeded: Any
) -> None:
    bodies = [
        {"dry_run": True, "max_months": 300, "year_range": {"start": 2024, "end": 2000}},
        {"dry_run": True, "max_months": 300, "year_range": {"start": 2000, "end": 2024}},
    ]
    backward, forward = (cron_client.post(SCHEDULE, b, format="json") for b in bodies)
    assert backward.status_code == forward.status_code == 200, backward.json()
    candidates = backward.json()["data"]["candidates"]
    assert candidates == forward.json()["data"]["candidates"] and len(candidates) == 300
    assert candidates[0] == {"year": 2024, "month": 12, "status": "pending"}
    assert candidates[-1] == {"year": 2000, "month": 1, "status": "pending"}


def test_schedule__dry_run_lists_candidates_and_writes_nothing(
    cron_client: APIClient, seeded: Any
) -> None:
    BackfillLog.objects.filter(year=2010, month=6).update(
        status=BackfillStatus.FAILED, retry_count=5
    )
    body = {"dry_run": True, "max_months": 3, "year_range": {"start": 2009, "end": 2010}}
    response = cron_client.post(SCHEDULE, body, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "dry_run": True,
            "candidates": [
                {"year": 2010, "month": 12, "status": "pending"},
                {"year": 2010, "month": 11, "status": "pending"},
                {"year": 2010, "month": 10, "status": "pending"},
            ],
            "scheduled": [],
        }
    }
    assert BackfillLog.objects.exclude(status=BackfillStatus.PENDING).count() == 1

    forced = cron_client.post(
        SCHEDULE,
        {
            "dry_run": True,
            "max_months": 12,
            "force_retry": True,
            "year_range": {"start": 2010, "end": 2010},
        },
        format="json",
    ).json()["data"]["candidates"]
    assert {"year": 2010, "month": 6, "status": "failed"} in forced


def test_schedule__defaults_cover_2024_down_to_2000(cron_client: APIClient, db: None) -> None:
    factories.month(1999, 12)
    factories.month(2000, 1)
    factories.month(2024, 12, status=BackfillStatus.RETRY, retry_count=1)
    response = cron_client.post(SCHEDULE, {"dry_run": True, "max_months": 10}, format="json")
    assert response.json()["data"]["candidates"] == [
        {"year": 2024, "month": 12, "status": "retry"},
        {"year": 2000, "month": 1, "status": "pending"},
    ]


def test_schedule__claims_months_and_enqueues_their_jobs(
    cron_client: APIClient, seeded: Any
) -> None:
    body = {"max_months": 3, "batch_size": 12, "year_range": {"start": 2019, "end": 2020}}
    response = cron_client.post(SCHEDULE, body, format="json")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["dry_run"] is False
    assert data["candidates"] == [
        {"year": 2020, "month": m, "status": "pending"} for m in (12, 11, 10)
    ]
    scheduled = data["scheduled"]
    assert [(s["year"], s["month"], s["batch_size"]) for s in scheduled] == [
        (2020, 12, 12),
        (2020, 11, 12),
        (2020, 10, 12),
    ]
    jobs = Job.objects.in_bulk([uuid.UUID(s["job_id"]) for s in scheduled])
    assert len(jobs) == 3 == Job.objects.count()
    for entry in scheduled:
        job = jobs[uuid.UUID(entry["job_id"])]
        assert (job.type, job.status) == ("backfill_month", JobStatus.PENDING)
        assert job.payload == {
            "year": entry["year"],
            "month": entry["month"],
            "batch_size": 12,
            "prompt_variant": "contemporary-notable",
        }
        row = BackfillLog.objects.get(year=entry["year"], month=entry["month"])
        assert (row.status, row.batch_size, row.last_job_id) == ("processing", 12, job.pk)

    # A baseline-era month carries its own prompt variant; nothing is claimed twice.
    more = cron_client.post(SCHEDULE, {**body, "max_months": 10}, format="json").json()["data"]
    assert len(more["scheduled"]) == 10 and more["scheduled"][-1]["year"] == 2019
    last = Job.objects.get(pk=more["scheduled"][-1]["job_id"])
    assert last.payload["prompt_variant"] == "baseline"
    assert Job.objects.count() == 13


@pytest.mark.django_db(transaction=True)
def test_schedule__ten_concurrent_calls_schedule_each_month_once() -> None:
    backfill_seed()
    barrier = threading.Barrier(10)
    responses: list[Any] = []
    errors: list[BaseException] = []

    def caller() -> None:
        client = APIClient()
        client.credentials(HTTP_X_CRON_SECRET=django_settings.CRON_SECRET)
        try:
            barrier.wait()
            responses.append(client.post(SCHEDULE, {"max_months": 40}, format="json"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=caller) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == [] and [r.status_code for r in responses] == [200] * 10
    scheduled = [s for r in responses for s in r.json()["data"]["scheduled"]]
    months = [(s["year"], s["month"]) for s in scheduled]
    assert len(months) == len(set(months)) == 300  # 10 x 40 asked; each month once
    jobs = Job.objects.filter(type="backfill_month")
    assert sorted(str(pk) for pk in jobs.values_list("pk", flat=True)) == sorted(
        s["job_id"] for s in scheduled
    )
    per_month = Counter((j["payload"]["year"], j["payload"]["month"]) for j in jobs.values())
    assert set(per_month.values()) == {1} and len(per_month) == 300
    linked = BackfillLog.objects.filter(status="processing", last_job__isnull=False)
    assert linked.count() == 300


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 51}, "batch_size"),
        ({"batch_size": "many"}, "batch_size"),
        ({"max_months": 0}, "max_months"),
        ({"year_range": {"start": 1500, "end": 2005}}, "year_range"),
        ({"year_range": {"start": 2001}}, "year_range"),
        ({"year_range": "2001-2005"}, "year_range"),
    ],
)
def test_schedule__validation(cron_client: APIClient, body: dict[str, Any], field: str) -> None:
    response = cron_client.post(SCHEDULE, {**body, "dry_run": True}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["details"]


def test_stats__shape(cron_client: APIClient, db: None) -> None:
    factories.month(
        2024, 1, status=BackfillStatus.COMPLETED, books_generated=4, isbns_resolved=3, xai_calls=1
    )
    data = cron_client.get(STATS).json()["data"]
    assert data["status_counts"] == {
        "pending": 0,
        "processing": 0,
        "completed": 1,
        "failed": 0,
        "retry": 0,
    }
    assert data["totals"]["books_generated"] == 4 and data["totals"]["xai_calls"] == 1
    assert data["overall_resolution_rate"] == 75.0
    (activity,) = data["recent_activity"]
    assert (activity["year"], activity["month"], activity["resolution_rate"]) == (2024, 1, 75.0)


def test_schema__documents_the_endpoints(api_client: APIClient) -> None:
    paths = api_client.get("/api/schema/?format=json").json()["paths"]
    assert {SEED, SCHEDULE, STATS} <= set(paths)
