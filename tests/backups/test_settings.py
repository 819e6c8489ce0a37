"""Backup storage and compression settings: choices checked at start-up, Telegram wired in."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.controlplane.test_settings import load_settings, production_env


def test_settings__telegram_storage_wired_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = production_env(
        BACKUPS_STORAGE="telegram",
        TELEGRAM_BOT_TOKEN="123:abc",
        TELEGRAM_CHAT_ID="-10042",
        TELEGRAM_API_BASE_URL="http://127.0.0.1:8081",
        BACKUPS_TELEGRAM_PART_BYTES="1048576",
    )
    conf = load_settings(monkeypatch, env)
    backups = conf["STORAGES"]["backups"]
    assert backups["BACKEND"] == "backups.telegram.storage.TelegramStorage"
    assert backups["OPTIONS"]["chat_id"] == "-10042"
    assert backups["OPTIONS"]["api_base_url"] == "http://127.0.0.1:8081"
    assert backups["OPTIONS"]["part_bytes"] == 1048576


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"BACKUPS_STORAGE": "telegram", "TELEGRAM_CHAT_ID": "-1"}, "TELEGRAM_BOT_TOKEN"),
        ({"BACKUPS_STORAGE": "telegram", "TELEGRAM_BOT_TOKEN": "1:a"}, "TELEGRAM_CHAT_ID"),
        ({"BACKUPS_STORAGE": "ftp"}, "BACKUPS_STORAGE"),
        ({"BACKUPS_STORAGE": "s3"}, "BACKUPS_S3_BUCKET"),
        ({"BACKUPS_DEFAULT_COMPRESSION": "none"}, "BACKUPS_DEFAULT_COMPRESSION"),
    ],
)
def test_settings__bad_backup_settings_refused(
    monkeypatch: pytest.MonkeyPatch, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        load_settings(monkeypatch, production_env(**overrides))


def test_settings__s3_bucket_alone_still_means_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load_settings(monkeypatch, production_env(BACKUPS_S3_BUCKET="dumps"))
    assert conf["STORAGES"]["backups"]["BACKEND"] == "backups.s3.BackupS3Storage"
