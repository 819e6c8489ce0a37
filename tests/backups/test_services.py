"""Notification email, retention, deletion, legal hold and the restore check."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from backups.errors import BackupCorrupted, VerificationMismatch
from backups.models import Backup
from backups.services import (
    backup_delete,
    backup_export_run,
    backup_legal_hold_set,
    backup_notify_email,
    backup_retention_run,
    backup_verify,
)
from controlplane.models import AuditLog
from tests import factories
from tests.backups import factories as backup_factories
from tests.backups.conftest import scratch_databases, stored_files, tool_sessions
from tests.conftest import free_port


@pytest.mark.django_db
def test_backup_notify_email__content(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BACKUPS_PUBLIC_URL = "https://cp.example.test"
    project = factories.project(slug="acme-shop", name="Acme Shop")
    backup = backup_factories.backup(project=project, content=b"x" * 2048, format="tar")

    assert backup_notify_email(backup=backup, to="ops@example.test") is None

    (message,) = mail.outbox
    assert message.to == ["ops@example.test"]
    assert "acme-shop" in message.subject and "2.0" in message.subject
    body = message.body
    for expected in ("Acme Shop (acme-shop)", "Tar archive", "2048 bytes", backup.sha256):
        assert expected in body
    link = next(line for line in body.splitlines() if line.startswith("https://cp.example.test/"))
    assert "/api/backups/files/" in link
    assert "expires at 20" in body
    assert AuditLog.objects.filter(action="backup.notify", target_id=str(backup.pk)).exists()


@pytest.mark.django_db
def test_backup_notify_email__failure_recorded_not_raised(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    backup = backup_factories.backup(project=factories.project(slug="acme-shop"))

    error = backup_notify_email(backup=backup, to="ops@example.test")

    assert error is not None and "Connection" in error
    audit = AuditLog.objects.get(action="backup.notify_failed")
    assert audit.details["to"] == "ops@example.test" and audit.details["error"] == error


@pytest.mark.django_db
def test_backup_retention_run__deletes_expired_unless_held(backup_store: Path) -> None:
    project = factories.project(slug="acme-shop")
    old = timezone.now() - timedelta(days=40)
    expired = backup_factories.backup(
        project=project, created_at=old, expires_at=old + timedelta(days=1)
    )
    held = backup_factories.backup(
        project=project, created_at=old, expires_at=old + timedelta(days=1), legal_hold=True
    )
    fresh = backup_factories.backup(project=project)

    assert backup_retention_run() == 1

    assert set(Backup.objects.values_list("pk", flat=True)) == {held.pk, fresh.pk}
    assert not (backup_store / expired.storage_path).exists()
    assert (backup_store / held.storage_path).exists()
    assert AuditLog.objects.filter(action="backup.expire", target_id=str(expired.pk)).exists()
    assert backup_retention_run() == 0


@pytest.mark.django_db
def test_backup_delete__keeps_legal_hold(backup_store: Path) -> None:
    project = factories.project(slug="acme-shop")
    free = backup_factories.backup(project=project)
    held = backup_factories.backup(project=project, legal_hold=True)
    assert backup_delete(backup_ids=[free.pk, held.pk], actor=None) == 1
    assert list(Backup.objects.values_list("pk", flat=True)) == [held.pk]
    assert stored_files(backup_store) == [backup_store / held.storage_path]


@pytest.mark.django_db
def test_backup_legal_hold_set__conditional_and_audited() -> None:
    project = factories.project(slug="acme-shop")
    a, b = backup_factories.backup(project=project), backup_factories.backup(project=project)
    assert backup_legal_hold_set(backup_ids=[a.pk], hold=True, actor=None) == 1
    assert backup_legal_hold_set(backup_ids=[a.pk, b.pk], hold=True, actor=None) == 1
    assert backup_legal_hold_set(backup_ids=[a.pk, b.pk], hold=True, actor=None) == 0
    assert backup_legal_hold_set(backup_ids=[a.pk], hold=False, actor=None) == 1
    assert list(Backup.objects.filter(legal_hold=True).values_list("pk", flat=True)) == [b.pk]
    assert AuditLog.objects.filter(action="backup.hold").count() == 2
    assert AuditLog.objects.filter(action="backup.release").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("format", "compress"), [("sql", True), ("tar", False), ("tar", True)])
def test_backup_verify__restores_and_sets_verified_at(
    tenant: Any, format: str, compress: bool
) -> None:
    project = tenant("acme-shop")
    backup = backup_export_run(project=project, format=format, compress=compress)
    assert backup.verified_at is None

    assert backup.verify_status == "never"

    verified = backup_verify(backup_id=backup.pk)

    assert verified.verified_at is not None
    assert (verified.verify_status, verified.verify_error) == ("passed", "")
    assert verified.verify_checked_at == verified.verified_at
    assert scratch_databases() == [] and tool_sessions() == 0
    assert AuditLog.objects.filter(action="backup.verify", target_id=str(backup.pk)).exists()


@pytest.mark.django_db(transaction=True)
def test_backup_verify__flipped_byte_fails_before_restoring(
    tenant: Any, backup_store: Path
) -> None:
    project = tenant("acme-shop")
    backup = backup_export_run(project=project, format="sql", compress=False)
    path = backup_store / backup.storage_path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    with pytest.raises(BackupCorrupted, match="SHA-256"):
        backup_verify(backup_id=backup.pk)

    failed = Backup.objects.get(pk=backup.pk)
    assert failed.verified_at is None
    assert failed.verify_status == "failed" and failed.verify_checked_at is not None
    assert "does not match its recorded SHA-256" in failed.verify_error
    assert scratch_databases() == []
    assert not AuditLog.objects.filter(action="backup.verify").exists()
    audit = AuditLog.objects.get(action="backup.verify_failed", target_id=str(backup.pk))
    assert "SHA-256" in audit.details["error"]


@pytest.mark.django_db(transaction=True)
def test_backup_verify__a_pass_after_a_failure_clears_the_error(
    tenant: Any, backup_store: Path
) -> None:
    project = tenant("acme-shop")
    backup = backup_export_run(project=project, format="sql", compress=False)
    path = backup_store / backup.storage_path
    good = path.read_bytes()
    path.write_bytes(good + b"-- tampered\n")
    with pytest.raises(BackupCorrupted):
        backup_verify(backup_id=backup.pk)
    assert Backup.objects.get(pk=backup.pk).verify_status == "failed"
    path.write_bytes(good)

    verified = backup_verify(backup_id=backup.pk)

    assert (verified.verify_status, verified.verify_error) == ("passed", "")


@pytest.mark.django_db(transaction=True)
def test_backup_verify__row_count_mismatch_detected_and_scratch_dropped(tenant: Any) -> None:
    project = tenant("acme-shop")
    backup = backup_export_run(project=project, format="tar", compress=True)
    Backup.objects.filter(pk=backup.pk).update(table_rows={**backup.table_rows, "orders": 299})
    with pytest.raises(VerificationMismatch, match="orders"):
        backup_verify(backup_id=backup.pk)
    failed = Backup.objects.get(pk=backup.pk)
    assert failed.verified_at is None and failed.verify_status == "failed"
    assert "row counts differ in ['orders']" in failed.verify_error
    assert scratch_databases() == [] and tool_sessions() == 0
