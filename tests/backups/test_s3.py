"""The S3 storage path (BACKUPS_S3_*) against moto's S3-compatible server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from rest_framework.test import APIClient

from backups.errors import BackupTooLarge
from backups.models import Backup
from backups.services import backup_delete, backup_download_link, backup_export_run, backup_verify
from tests.conftest import PROJECT_ROOT, free_port
from tests.jobs.conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
BUCKET = "cp-backups"
S3_ENV = {
    "BACKUPS_S3_BUCKET": BUCKET,
    "BACKUPS_S3_REGION": "us-east-1",
    "BACKUPS_S3_ACCESS_KEY_ID": "test-access-key",
    "BACKUPS_S3_SECRET_ACCESS_KEY": "test-secret-key",
    "BACKUPS_S3_PREFIX": "cp",
}


@pytest.fixture
def s3_endpoint(tmp_path: Path) -> Iterator[str]:
    """Run moto's S3 server in a child process with one empty bucket; yield its URL."""
    port = free_port()
    moto = Path(sys.executable).parent / "moto_server"
    log = (tmp_path / "moto.log").open("w")
    proc = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/moto-api/", timeout=1).status_code < 500
        except httpx.TransportError:
            return False

    try:
        wait_until(up, timeout=30, interval=0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_ENV["BACKUPS_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_ENV["BACKUPS_S3_SECRET_ACCESS_KEY"],
    )


@pytest.fixture
def s3_storage(s3_endpoint: str, settings: Any) -> Any:
    """Configure STORAGES["backups"] exactly as settings.py does for these BACKUPS_S3_* values."""
    env = {**os.environ, **S3_ENV, "BACKUPS_S3_ENDPOINT_URL": s3_endpoint, "DEBUG": "1"}
    printed = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings as s; import json; "
         "print(json.dumps(s.STORAGES['backups']))"],
        env={**env, "DJANGO_SETTINGS_MODULE": "controlplane.settings"},
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    configured = json.loads(printed.stdout)
    assert configured["BACKEND"] == "backups.s3.BackupS3Storage"
    settings.STORAGES = {**settings.STORAGES, "backups": configured}
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket=BUCKET)
    return client


def objects(client: Any) -> dict[str, int]:
    listing = client.list_objects_v2(Bucket=BUCKET)
    return {o["Key"]: o["Size"] for o in listing.get("Contents", [])}


def test_s3__export_download_verify_delete(tenant: Any, s3_storage: Any) -> None:
    project = tenant("acme-shop", extra_tables={"big": 30_000})

    backup = backup_export_run(project=project, format="sql", compress=True)

    key = f"cp/{backup.storage_path}"
    assert objects(s3_storage) == {key: backup.size_bytes}
    body = s3_storage.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == backup.sha256
    assert backup.table_rows["big"] == 30_000
    link = backup_download_link(backup=backup, issued_to="test")
    response = APIClient().get(urlsplit(link.path).path)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == body
    assert backup_verify(backup_id=backup.pk).verified_at is not None
    assert backup_delete(backup_ids=[backup.pk], actor=None) == 1
    assert objects(s3_storage) == {}


def test_s3__a_dump_larger_than_a_part_uploads_in_parts(tenant: Any, s3_storage: Any) -> None:
    from backups.storage import backups_storage

    config = backups_storage().transfer_config
    # s3transfer reads a non-seekable stream ahead by this many parts, each held in memory.
    held = config.multipart_chunksize * config.max_in_memory_upload_chunks
    assert held <= 16 * 1024 * 1024  # boto3's defaults hold 80 MiB
    project = tenant("acme-shop", extra_tables={"big": 40_000})

    backup = backup_export_run(project=project, format="sql", compress=False)

    assert backup.size_bytes > config.multipart_chunksize  # so it went up in parts
    key = f"cp/{backup.storage_path}"
    head = s3_storage.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == backup.size_bytes
    assert "-" in head["ETag"]  # a multipart upload's ETag counts its parts
    body = s3_storage.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == backup.sha256


def test_s3__size_limit_leaves_no_object(tenant: Any, s3_storage: Any, settings: Any) -> None:
    project = tenant("acme-shop", extra_tables={"big": 20_000})
    settings.BACKUPS_MAX_BYTES = 64 * 1024
    with pytest.raises(BackupTooLarge):
        backup_export_run(project=project, format="tar", compress=False)
    assert objects(s3_storage) == {}
    assert not Backup.objects.exists()
