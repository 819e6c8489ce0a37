"""export_backup and verify_backup run in-process exactly as a worker runs them."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from backups.models import Backup
from backups.services import backup_export_run, backup_request, backup_verify_request
from backups.storage import default_storage_key
from controlplane.models import AuditLog
from controlplane.services import project_suspend
from jobs.models import Job, JobAttempt, JobStatus
from jobs.services import job_cancel
from jobs.worker import execute_job
from tests.backups.conftest import pg_dump_children, stored_files, tool_sessions
from tests.backups.restore import fresh_restore, schema_contents
from tests.conftest import bearer, free_port

pytestmark = pytest.mark.django_db(transaction=True)

RESULT_KEYS = {
    "backup_id",
    "storage_path",
    "size_bytes",
    "sha256",
    "table_count",
    "format",
    "compressed",
    "compression",
}


def run(job: Job) -> Job:
    execute_job(str(job.pk))
    job.refresh_from_db()
    return job


def as_rescued_after_a_crash(job: Job) -> None:
    """Leave the job as the rescuer does when attempt 1's worker died mid-run (test shortcut)."""
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.PENDING, attempts=1, scheduled_at=timezone.now()
    )


@pytest.mark.parametrize(
    ("format", "compression", "codec"),
    [
        ("sql", None, "gzip"),
        ("tar", "none", "none"),
        ("sql", "zstd", "zstd"),
        ("tar", "zstd", "zstd"),
    ],
)
def test_export_backup__result_shape_link_and_restore(
    tenant: Any, backup_store: Path, settings: Any, format: str, compression: str | None, codec: str
) -> None:
    project = tenant("acme-shop")
    source = schema_contents(None, project.schema_name)
    compress = codec != "none"
    job = backup_request(project_slug="acme-shop", format=format, compression=compression)

    job = run(job)

    assert job.status == JobStatus.COMPLETED, job.last_error
    result = job.result
    assert set(result) == RESULT_KEYS
    backup = Backup.objects.get(pk=result["backup_id"])
    assert backup.job_id == job.pk
    assert (result["format"], result["compressed"], result["compression"]) == (
        format,
        compress,
        codec,
    )
    assert (backup.compressed, backup.compression) == (compress, codec)
    assert result["storage_path"] == backup.storage_path
    assert (
        result["size_bytes"]
        == backup.size_bytes
        == (backup_store / backup.storage_path).stat().st_size
    )
    assert result["sha256"] == backup.sha256
    assert result["table_count"] == 3
    # Named after the job's creation, so every attempt of the job writes the same key.
    assert backup.storage_path == default_storage_key(
        project_slug="acme-shop", format=format, compression=codec, at=job.created_at
    )
    assert backup.storage_path.endswith({"gzip": ".gz", "zstd": ".zst", "none": format}[codec])
    # The stored result holds no link; the jobs API mints one for each reader.
    shown = bearer(APIClient(), project_id="acme-shop").get(f"/api/jobs/{job.pk}")
    shown_result = shown.json()["data"]["result"]
    url = urlsplit(shown_result["download_url"])
    downloaded = b"".join(APIClient().get(url.path).streaming_content)
    assert hashlib.sha256(downloaded).hexdigest() == backup.sha256
    assert datetime.fromisoformat(shown_result["download_expires_at"]) > timezone.now()
    with fresh_restore(backup_store / backup.storage_path, format=format, compression=codec) as db:
        assert schema_contents(db, project.schema_name) == source
    assert job.progress["phase"] == "stored"


def test_export_backup__suspended_project_fails_without_retry(
    tenant: Any, backup_store: Path
) -> None:
    project = tenant("acme-shop")
    job = backup_request(project_slug="acme-shop")
    project_suspend(project_ids=[project.pk], actor=None, reason="unpaid")

    job = run(job)

    assert job.status == JobStatus.FAILED
    assert (job.attempts, job.max_attempts) == (1, 3)
    assert "suspended" in job.last_error
    assert stored_files(backup_store) == [] and not Backup.objects.exists()


def test_export_backup__cancellation_stops_pg_dump_and_cleans_up(
    locked_tenant: Any, backup_store: Path
) -> None:
    job = backup_request(project_slug="acme-shop", format="tar")

    def cancel_once_dumping() -> None:
        try:
            deadline = time.monotonic() + 20
            while not pg_dump_children() and time.monotonic() < deadline:
                time.sleep(0.05)
            job_cancel(job_ids=[job.pk], actor=None, reason="test")
        finally:
            connection.close()

    canceller = threading.Thread(target=cancel_once_dumping)
    canceller.start()
    job = run(job)
    canceller.join()

    assert job.status == JobStatus.CANCELLED
    assert JobAttempt.objects.get(job=job).outcome == "cancelled"
    assert stored_files(backup_store) == [] and not Backup.objects.exists()
    assert pg_dump_children() == [] and tool_sessions() == 0


def test_export_backup__retry_after_crash_reuses_the_recorded_backup(
    tenant: Any, backup_store: Path
) -> None:
    project = tenant("acme-shop")
    job = backup_request(project_slug="acme-shop")
    # Attempt 1 recorded its backup, then its worker died before completing the job.
    first = backup_export_run(
        project=project, format="sql", compress=True, job_id=job.pk, started_at=job.created_at
    )
    as_rescued_after_a_crash(job)

    job = run(job)

    assert job.status == JobStatus.COMPLETED and job.attempts == 2
    assert job.result["backup_id"] == str(first.pk)
    assert Backup.objects.count() == 1
    assert stored_files(backup_store) == [backup_store / first.storage_path]


@pytest.mark.parametrize("storage_path", [None, "backups/acme-shop/nightly.sql.gz"])
def test_export_backup__retry_after_crash_replaces_the_partial_file(
    tenant: Any, backup_store: Path, storage_path: str | None
) -> None:
    tenant("acme-shop")
    job = backup_request(project_slug="acme-shop", storage_path=storage_path)
    key = storage_path or default_storage_key(
        project_slug="acme-shop", format="sql", compression="gzip", at=job.created_at
    )
    # Attempt 1 died mid-dump: a partial file, no Backup row.
    partial = backup_store / key
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(b"\x1f\x8b partial")
    as_rescued_after_a_crash(job)

    job = run(job)

    assert job.status == JobStatus.COMPLETED, job.last_error
    backup = Backup.objects.get()
    assert backup.storage_path == key
    assert stored_files(backup_store) == [partial]
    assert hashlib.sha256(partial.read_bytes()).hexdigest() == backup.sha256


def test_export_backup__first_attempt_keeps_a_file_it_did_not_write(
    tenant: Any, backup_store: Path
) -> None:
    tenant("acme-shop")
    precious = backup_store / "backups/acme-shop/keep.sql"
    precious.parent.mkdir(parents=True)
    precious.write_bytes(b"precious")
    job = run(backup_request(project_slug="acme-shop", storage_path="backups/acme-shop/keep.sql"))
    assert job.status == JobStatus.FAILED and job.attempts == 1
    assert "already exists" in job.last_error
    assert precious.read_bytes() == b"precious"


def test_export_backup__retry_never_deletes_another_backups_file(
    tenant: Any, backup_store: Path
) -> None:
    project = tenant("acme-shop")
    path = "backups/acme-shop/taken.sql"
    other = backup_export_run(project=project, format="sql", compress=False, storage_path=path)
    job = backup_request(project_slug="acme-shop", compress=False, storage_path=path)
    as_rescued_after_a_crash(job)

    job = run(job)

    assert job.status == JobStatus.FAILED and "already exists" in job.last_error
    assert hashlib.sha256((backup_store / path).read_bytes()).hexdigest() == other.sha256


def test_export_backup__notify_email_sent_once(tenant: Any, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BACKUPS_PUBLIC_URL = "https://cp.example.test"
    tenant("acme-shop")
    job = run(backup_request(project_slug="acme-shop", notify_email="ops@example.test"))

    assert job.status == JobStatus.COMPLETED
    (message,) = mail.outbox
    assert message.to == ["ops@example.test"]
    assert job.result["sha256"] in message.body
    assert "https://cp.example.test/api/backups/files/" in message.body
    # A retry of the same job (its worker died after mailing) does not mail again.
    as_rescued_after_a_crash(job)
    assert run(job).status == JobStatus.COMPLETED
    assert len(mail.outbox) == 1


def test_export_backup__email_failure_recorded_backup_kept(tenant: Any, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    tenant("acme-shop")

    job = run(backup_request(project_slug="acme-shop", notify_email="ops@example.test"))

    assert job.status == JobStatus.COMPLETED
    audit = AuditLog.objects.get(action="backup.notify_failed")
    assert audit.target_id == job.result["backup_id"]


def rows_text(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} t")  # noqa: S608
        return str(cursor.fetchone()[0])


def test_export_backup__canary_password_stays_out_of_job_and_queue_rows(
    canary_role: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _, role, password = canary_role
    caplog.set_level(logging.DEBUG)
    # pg_dump connects as the canary role; Django's open connection stays as it is.
    connection.ensure_connection()
    monkeypatch.setitem(connection.settings_dict, "USER", role)
    monkeypatch.setitem(connection.settings_dict, "PASSWORD", password)
    good = run(backup_request(project_slug="acme-shop"))
    monkeypatch.setitem(connection.settings_dict, "PASSWORD", password + "-WRONG")
    bad = run(backup_request(project_slug="acme-shop", format="tar"))
    monkeypatch.undo()

    assert good.status == JobStatus.COMPLETED, good.last_error
    assert good.result["table_count"] == 3  # the canary role really dumped
    assert bad.status == JobStatus.PENDING  # a failed login is worth a retry
    assert "password authentication failed" in bad.last_error
    for table in ("jobs_job", "jobs_jobattempt", "django_q_ormq", "django_q_task"):
        text = rows_text(table)
        assert password not in text, table
    assert "password authentication failed" in rows_text("jobs_jobattempt")
    assert password not in caplog.text


@pytest.mark.parametrize(("format", "compression"), [("tar", "gzip"), ("sql", "zstd")])
def test_verify_backup__job_sets_verified_at(
    tenant: Any, staff_user: Any, format: str, compression: str
) -> None:
    project = tenant("acme-shop")
    backup = backup_export_run(project=project, format=format, compression=compression)
    assert backup_verify_request(backup_ids=[backup.pk], actor=staff_user) == 1
    job = Job.objects.get(type="verify_backup")

    job = run(job)

    assert job.status == JobStatus.COMPLETED, job.last_error
    assert job.project == project
    backup.refresh_from_db()
    assert backup.verified_at is not None and backup.verify_status == "passed"
    assert job.result == {
        "backup_id": str(backup.pk),
        "verified_at": backup.verified_at.isoformat(),
    }
    assert AuditLog.objects.get(action="backup.verify").actor_id == staff_user.pk


def test_verify_backup__corrupted_file_fails_permanently(
    tenant: Any, backup_store: Path, staff_user: Any
) -> None:
    project = tenant("acme-shop")
    backup = backup_export_run(project=project, format="sql", compress=False)
    path = backup_store / backup.storage_path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    backup_verify_request(backup_ids=[backup.pk], actor=staff_user)

    job = run(Job.objects.get(type="verify_backup"))

    assert job.status == JobStatus.FAILED and job.attempts == 1
    assert "does not match its recorded SHA-256" in job.last_error
    failed = Backup.objects.get(pk=backup.pk)
    assert failed.verified_at is None and failed.verify_status == "failed"
    assert "does not match its recorded SHA-256" in failed.verify_error
    assert AuditLog.objects.get(action="backup.verify_failed").actor_id == staff_user.pk


def test_backup_verify_request__one_active_check_per_backup(tenant: Any) -> None:
    project = tenant("acme-shop")
    backup = backup_export_run(project=project, format="sql", compress=True)
    assert backup_verify_request(backup_ids=[backup.pk], actor=None) == 1
    assert backup_verify_request(backup_ids=[backup.pk], actor=None) == 0
    assert Job.objects.filter(type="verify_backup").count() == 1
