"""Idempotency-Key records of export requests: races, expiry, pruning, the data migration."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from backups.errors import IdempotencyKeyReused
from backups.models import ExportRequest
from backups.services import (
    backup_request,
    backup_retention_run,
    export_fingerprint,
    export_payload,
)
from jobs.models import Job, JobStatus
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at once, each in its own thread and connection; return results or errors."""
    results: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = calls[i]()
        except BaseException as exc:  # reported in the main thread
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def request(key: str, format: str = "sql") -> Callable[[], Any]:
    return lambda: backup_request(project_slug="acme-shop", format=format, idempotency_key=key)


def test_backup_request__concurrent_same_key_make_one_job_and_one_record() -> None:
    factories.project(slug="acme-shop")

    results = race([request("k-1") for _ in range(12)])

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert len({job.pk for job in results}) == 1
    assert Job.objects.count() == 1
    (record,) = ExportRequest.objects.all()
    assert (record.idempotency_key, record.job_id) == ("k-1", results[0].pk)


def test_backup_request__concurrent_same_key_while_another_export_is_active() -> None:
    factories.project(slug="acme-shop")
    active = backup_request(project_slug="acme-shop")

    results = race([request("k-1") for _ in range(12)])

    assert [getattr(r, "pk", r) for r in results] == [active.pk] * 12
    assert Job.objects.count() == 1
    assert list(ExportRequest.objects.values_list("job_id", flat=True)) == [active.pk]


def test_backup_request__concurrent_same_key_other_bodies_one_wins() -> None:
    factories.project(slug="acme-shop")

    results = race([request("k-1", format) for format in ["sql", "tar"] * 6])

    record = ExportRequest.objects.get()
    (job,) = Job.objects.all()
    winner = job.payload["format"]
    assert record.body_sha256 == export_fingerprint(job.payload)
    for format, result in zip(["sql", "tar"] * 6, results, strict=True):
        if format == winner:
            assert getattr(result, "pk", result) == job.pk
        else:
            assert isinstance(result, IdempotencyKeyReused)


def test_backup_request__concurrent_replacements_of_an_expired_key() -> None:
    factories.project(slug="acme-shop")
    old = backup_request(project_slug="acme-shop", idempotency_key="k-1")
    Job.objects.filter(pk=old.pk).update(status=JobStatus.COMPLETED, completed_at=timezone.now())
    ExportRequest.objects.update(created_at=timezone.now() - timedelta(hours=25))

    results = race([request("k-1", "tar") for _ in range(12)])

    assert [r for r in results if isinstance(r, BaseException)] == []
    (new,) = {job.pk for job in results}
    assert new != old.pk
    assert Job.objects.count() == 2
    assert list(ExportRequest.objects.values_list("job_id", flat=True)) == [new]


def test_backup_request__key_without_header_is_not_recorded() -> None:
    factories.project(slug="acme-shop")
    backup_request(project_slug="acme-shop")
    assert not ExportRequest.objects.exists()
    assert Job.objects.get().idempotency_key is None


def test_export_fingerprint__canonical() -> None:
    a = export_payload(project_slug="acme-shop", format="sql", compress=True, notify_email="")
    b = {"compress": True, "format": "sql", "project_id": "acme-shop"}
    assert export_fingerprint(a) == export_fingerprint(b)
    assert export_fingerprint(a) != export_fingerprint({**b, "compress": False})


def test_export_fingerprint__matches_a_body_hashed_before_compression_existed() -> None:
    legacy = {"compress": True, "format": "sql", "project_id": "acme-shop"}
    digest = hashlib.sha256(
        json.dumps(legacy, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    gzip = export_payload(project_slug="acme-shop", format="sql", compression="gzip")
    assert gzip["compression"] == "gzip"
    assert export_fingerprint(gzip) == digest
    plain = export_payload(project_slug="acme-shop", format="sql", compress=False)
    assert (
        export_fingerprint(plain)
        == hashlib.sha256(
            json.dumps(
                {**legacy, "compress": False}, sort_keys=True, separators=(",", ":")
            ).encode()
        ).hexdigest()
    )
    zstd = export_payload(project_slug="acme-shop", format="sql", compression="zstd")
    assert export_fingerprint(zstd) not in (digest, export_fingerprint(plain))


def test_backup_retention_run__prunes_expired_key_records() -> None:
    factories.project(slug="acme-shop")
    backup_request(project_slug="acme-shop", idempotency_key="old")
    ExportRequest.objects.update(created_at=timezone.now() - timedelta(hours=24, minutes=1))
    Job.objects.update(status=JobStatus.COMPLETED, completed_at=timezone.now())
    fresh = backup_request(project_slug="acme-shop", idempotency_key="fresh")

    assert backup_retention_run() == 0  # counts backups only

    assert list(ExportRequest.objects.values_list("idempotency_key", "job_id")) == [
        ("fresh", fresh.pk)
    ]


def test_migration__carries_over_keys_held_by_jobs() -> None:
    project = factories.project(slug="acme-shop")
    executor = MigrationExecutor(connection)
    executor.migrate([("backups", "0002_job_fk_and_schedules")])
    payload = {"project_id": "acme-shop", "format": "tar", "compress": True}
    held = Job.objects.create(
        type="export_backup", payload=payload, project=project, idempotency_key="api:k-1"
    )
    Job.objects.create(  # older than 24 h: its key had expired already
        type="export_backup",
        payload=payload,
        project=project,
        idempotency_key="api:k-2",
        created_at=timezone.now() - timedelta(hours=25),
    )
    Job.objects.create(  # a scheduler key, not a client's
        type="export_backup", payload=payload, project=project, idempotency_key="schedule:x"
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    record = ExportRequest.objects.get()
    assert (record.idempotency_key, record.job_id) == ("k-1", held.pk)
    assert record.body_sha256 == export_fingerprint(payload)
    assert backup_request(project_slug="acme-shop", format="tar", idempotency_key="k-1") == held
    with pytest.raises(IdempotencyKeyReused):
        backup_request(project_slug="acme-shop", idempotency_key="k-1")
