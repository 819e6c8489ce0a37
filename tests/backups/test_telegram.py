"""Telegram storage against a local fake Bot API: parts, download, restore, retention, limits."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.files import File
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from backups.errors import BackupCorrupted
from backups.models import Backup, TelegramFile
from backups.services import (
    backup_download_link,
    backup_export_run,
    backup_request,
    backup_retention_run,
    backup_verify,
)
from backups.storage import backups_storage, default_storage_key
from backups.telegram.client import BotApi
from controlplane.models import AuditLog
from jobs.models import Job, JobAttempt, JobStatus
from jobs.worker import execute_job
from tests import factories
from tests.backups.fake_telegram import FakeBotApi, fake_bot_api
from tests.backups.restore import fresh_restore, schema_contents
from tests.backups.test_handlers import as_rescued_after_a_crash

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "7777777:AAH-SECRET-TOKEN-canary-5b1f0c"
PART = 4096


def use_telegram(settings: Any, api: FakeBotApi, **options: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "backups": {
            "BACKEND": "backups.telegram.storage.TelegramStorage",
            "OPTIONS": {
                "token": TOKEN,
                "chat_id": api.chat_id,
                "api_base_url": api.url,
                "part_bytes": PART,
                "max_retries": 4,
                "max_retry_after": 5,
                "timeout": 10,
                **options,
            },
        },
    }


@pytest.fixture
def telegram(settings: Any) -> Iterator[FakeBotApi]:
    with fake_bot_api(token=TOKEN) as api:
        use_telegram(settings, api)
        yield api


def run(job: Job) -> Job:
    execute_job(str(job.pk))
    job.refresh_from_db()
    return job


def no_token_anywhere(caplog: pytest.LogCaptureFixture, *jobs: Job) -> None:
    assert TOKEN not in caplog.text
    for job in jobs:
        job.refresh_from_db()
        assert TOKEN not in f"{job.last_error} {job.result} {job.payload} {job.progress}"
        for attempt in JobAttempt.objects.filter(job=job):
            assert TOKEN not in f"{attempt.error} {attempt.traceback}"
    for entry in AuditLog.objects.all():
        assert TOKEN not in f"{entry.details}"


def test_telegram_storage__multi_part_export_download_restore(
    tenant: Any, telegram: FakeBotApi, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    project = tenant("acme-shop", extra_tables={"filler": 400})
    source = schema_contents(None, project.schema_name)

    backup = backup_export_run(project=project, format="sql", compression="none")

    sends = telegram.calls.count("sendDocument")
    assert sends == len(backup.storage_parts) > 2
    assert all(len(data) <= PART for data in telegram.files.values())
    assert sum(p["size"] for p in backup.storage_parts) == backup.size_bytes
    assert {p["message_id"] for p in backup.storage_parts} == set(telegram.messages)
    # Found from the storage name alone, as Django's Storage API asks.
    assert backups_storage().parts(backup.storage_path) == backup.storage_parts

    link = backup_download_link(backup=backup, issued_to="user:1")
    response = APIClient().get(urlsplit(link.absolute()).path)
    assert response.status_code == 200
    data = b"".join(response.streaming_content)
    assert hashlib.sha256(data).hexdigest() == backup.sha256
    (tmp_path / "dump.sql").write_bytes(data)
    with fresh_restore(tmp_path / "dump.sql", format="sql") as db:
        assert schema_contents(db, project.schema_name) == source
    assert backup_verify(backup_id=backup.pk).verified_at is not None
    no_token_anywhere(caplog)
    admin = Client()
    admin.force_login(factories.user(username="root", is_staff=True, is_superuser=True))
    page = admin.get(reverse("admin:backups_backup_change", args=[backup.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert backup.storage_parts[0]["file_id"] in html and TOKEN not in html


def test_telegram_storage__tampered_part_fails_the_sha256_check(
    tenant: Any, telegram: FakeBotApi
) -> None:
    project = tenant("acme-shop", extra_tables={"filler": 200})
    backup = backup_export_run(project=project, format="tar", compression="zstd")
    first = backup.storage_parts[0]["file_id"]
    data = bytearray(telegram.files[first])
    data[10] ^= 0xFF
    telegram.files[first] = bytes(data)

    def read_all() -> None:
        with backups_storage().open(backup.storage_path) as fh:
            while fh.read(1 << 16):
                pass

    with pytest.raises(BackupCorrupted):
        read_all()
    with pytest.raises(BackupCorrupted):
        backup_verify(backup_id=backup.pk)


def test_export_backup__telegram_job_survives_a_429_storm(
    tenant: Any, telegram: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tenant("acme-shop")
    telegram.rate_limit_next = 3
    telegram.retry_after = 1
    job = backup_request(project_slug="acme-shop", compression="gzip")

    job = run(job)

    # The fake answers 429 again to anyone back before retry_after: honouring it is the
    # only way through within the retry cap, and all of it inside the first attempt.
    assert job.status == JobStatus.COMPLETED, job.last_error
    assert job.attempts == 1
    assert telegram.rate_limit_next == 0
    backup = Backup.objects.get(pk=job.result["backup_id"])
    assert backup.storage_parts and backup.compression == "gzip"
    assert "Too Many Requests" in caplog.text
    no_token_anywhere(caplog, job)


def test_telegram_storage__transient_errors_retried_inside_the_attempt(
    tenant: Any, telegram: FakeBotApi
) -> None:
    project = tenant("acme-shop")
    telegram.fail_next = 2
    backup = backup_export_run(project=project, format="sql", compression="zstd")
    assert telegram.fail_next == 0
    assert TelegramFile.objects.get(name=backup.storage_path).complete


def test_telegram_storage__long_rate_limit_fails_the_attempt_retryably(
    tenant: Any, telegram: FakeBotApi
) -> None:
    tenant("acme-shop")
    telegram.rate_limit_next = 1
    telegram.retry_after = 60  # over max_retry_after (5 s)
    job = run(backup_request(project_slug="acme-shop"))
    assert job.status == JobStatus.PENDING  # back in the queue for a later attempt
    assert "BACKUPS_TELEGRAM_MAX_RETRY_AFTER" in job.last_error
    assert not TelegramFile.objects.exists() and not telegram.messages


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"token": "7777777:WRONG-token"}, "TELEGRAM_BOT_TOKEN"),
        ({"chat_id": "-100999"}, "chat not found"),
        ({"part_bytes": 8192}, "BACKUPS_TELEGRAM_PART_BYTES"),
    ],
)
def test_export_backup__telegram_refusals_fail_permanently(
    tenant: Any,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    options: dict[str, Any],
    expected: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    tenant("acme-shop", extra_tables={"filler": 200})
    with fake_bot_api(token=TOKEN, max_upload=6000) as api:
        use_telegram(settings, api, **options)
        job = run(backup_request(project_slug="acme-shop", compression="none"))
        assert job.status == JobStatus.FAILED, job.last_error
        assert job.attempts == 1
        assert expected in job.last_error
        assert not api.messages  # whatever was sent before the refusal was deleted
    assert not Backup.objects.exists() and not TelegramFile.objects.exists()
    no_token_anywhere(caplog, job)
    assert "WRONG-token" not in job.last_error


def test_backup_retention_run__deletes_the_messages(tenant: Any, telegram: FakeBotApi) -> None:
    project = tenant("acme-shop")
    backup = backup_export_run(project=project, format="sql", compression="gzip")
    later = backup.expires_at + timedelta(seconds=1)

    assert backup_retention_run(now=later) == 1

    assert not telegram.messages and not telegram.files
    assert not Backup.objects.exists() and not TelegramFile.objects.exists()
    assert AuditLog.objects.filter(action="backup.expire", target_id=str(backup.pk)).exists()


def test_backup_retention_run__refused_delete_recorded_and_not_retried(
    tenant: Any, telegram: FakeBotApi, settings: Any
) -> None:
    settings.BACKUPS_DELETE_MAX_ATTEMPTS = 3
    project = tenant("acme-shop", extra_tables={"filler": 200})
    backup = backup_export_run(project=project, format="sql", compression="none")
    old = backup.storage_parts[0]["message_id"]  # past Telegram's 48 hours, say
    telegram.undeletable.add(old)
    later = backup.expires_at + timedelta(seconds=1)

    assert backup_retention_run(now=later) == 0

    backup.refresh_from_db()
    assert "48 hours" in backup.delete_error and "administrator" in backup.delete_error
    assert backup.delete_attempts == 3
    assert set(telegram.messages) == {old}  # the others are gone
    remaining = TelegramFile.objects.get(name=backup.storage_path).parts
    assert [p["message_id"] for p in remaining] == [old]
    assert AuditLog.objects.filter(action="backup.delete_failed").count() == 1
    calls = len(telegram.calls)
    assert backup_retention_run(now=later) == 0
    assert len(telegram.calls) == calls  # never retried


def test_backup_retention_run__transient_delete_failures_retried_up_to_the_cap(
    tenant: Any, telegram: FakeBotApi, settings: Any
) -> None:
    settings.BACKUPS_DELETE_MAX_ATTEMPTS = 2
    project = tenant("acme-shop")
    backup = backup_export_run(project=project, format="sql", compression="gzip")
    later = backup.expires_at + timedelta(seconds=1)
    use_telegram(settings, telegram, max_retries=1)
    telegram.fail_next = 10_000  # the Bot API is down: every call answers 502

    for expected_attempts in (1, 2, 2):
        assert backup_retention_run(now=later) == 0
        backup.refresh_from_db()
        assert backup.delete_attempts == expected_attempts
    assert "502" in backup.delete_error and TOKEN not in backup.delete_error

    telegram.fail_next = 0
    Backup.objects.filter(pk=backup.pk).update(delete_attempts=0)  # staff reset it
    assert backup_retention_run(now=later) == 1
    assert not telegram.messages


def test_export_backup__retry_reclaims_a_half_sent_upload(
    tenant: Any, telegram: FakeBotApi
) -> None:
    tenant("acme-shop")
    job = backup_request(project_slug="acme-shop", compression="none")
    key = default_storage_key(
        project_slug="acme-shop", format="sql", compression="none", at=job.created_at
    )
    # Attempt 1's worker died after Telegram took the first part.
    api = BotApi(token=TOKEN, base_url=telegram.url)
    sent = api.call(
        "sendDocument",
        data={"chat_id": telegram.chat_id},
        files={"document": ("x.part0000", b"half a dump", "application/octet-stream")},
    )
    api.close()
    part = {"index": 0, "file_id": sent["document"]["file_id"], "message_id": sent["message_id"]}
    TelegramFile.objects.create(name=key, chat_id=telegram.chat_id, parts=[{**part, "size": 11}])
    as_rescued_after_a_crash(job)

    job = run(job)

    assert job.status == JobStatus.COMPLETED, job.last_error
    assert sent["message_id"] not in telegram.messages
    backup = Backup.objects.get(pk=job.result["backup_id"])
    assert backup.storage_path == key
    assert {p["message_id"] for p in backup.storage_parts} == set(telegram.messages)


class CountingSource:
    """A non-seekable source that remembers how much was read from it."""

    def __init__(self, size: int) -> None:
        self.data = bytes(range(256)) * (size // 256)
        self.consumed = 0

    def read(self, n: int = -1) -> bytes:
        n = len(self.data) - self.consumed if n < 0 else n
        chunk = self.data[self.consumed : self.consumed + min(n, 700)]  # short reads, too
        self.consumed += len(chunk)
        return chunk


def test_telegram_storage__sends_each_part_before_reading_the_next(
    telegram: FakeBotApi, transactional_db: None
) -> None:
    source = CountingSource(10 * PART)
    read_when_sent: list[int] = []
    telegram.on_send = lambda data: read_when_sent.append(source.consumed)

    name = backups_storage().save("backups/acme-shop/stream.bin", File(source))

    assert read_when_sent == [PART * (i + 1) for i in range(10)]
    with backups_storage().open(name) as fh:
        assert fh.read() == source.data
