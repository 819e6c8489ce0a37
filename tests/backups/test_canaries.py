"""Canary values for every secret setting, driven through failures: zero hits anywhere (issue 9).

Each secret setting (and, as in production, the environment variable behind it) gets a
unique canary. A failing export (a pg_dump that prints its environment and echoes the
canaries), a failing provisioning and a failing email (an SMTP server that echoes the
credentials it was sent) then run; no canary may show in the log output, in any table
(django-q2's, the cache and sessions included) or in the admin's pages.
"""

from __future__ import annotations

import base64
import gc
import io
import logging
import os
import socketserver
import threading
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from backups.services import backup_notify_email
from controlplane.models import AuditLog
from controlplane.redaction import RedactingFilter, redact, secret_setting_names
from jobs.models import Job, JobAttempt
from jobs.worker import execute_job
from provisioning.service_client import ServiceCallError
from provisioning.services import provision_project_run
from tests import factories
from tests.backups import factories as backup_factories
from tests.conftest import bearer, free_port
from tests.provisioning.conftest import (  # noqa: F401 (fixtures)
    FakeService,
    committed_tenants,
    drop_tenant,
    fake_services,
)
from tests.provisioning.test_no_secrets import tables_containing

pytestmark = pytest.mark.django_db(transaction=True)

EXPECTED_SECRETS = {
    "SECRET_KEY",
    "JWT_SECRET",
    "CRON_SECRET",
    "CRON_SECRET_PREVIOUS",
    "API_KEY_PEPPER",
    "PROVISIONING_ENCRYPTION_KEY",
    "PROVISIONING_ENCRYPTION_KEY_PREVIOUS",
    "AUTH_SERVICE_TOKEN",
    "REALTIME_SERVICE_TOKEN",
    "STORAGE_SERVICE_TOKEN",
    "BACKFILL_GEMINI_API_KEY",
    "BACKFILL_XAI_API_KEY",
    "BACKFILL_ISBNDB_API_KEY",
    "BACKUPS_S3_SECRET_ACCESS_KEY",
    "EMAIL_HOST_PASSWORD",
}


@pytest.fixture
def canaries(
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    fake_services: dict[str, FakeService],  # noqa: F811
) -> dict[str, str]:
    """Give every secret setting a canary (service tokens keep the fake services' own)."""
    values: dict[str, str] = {}
    for name in secret_setting_names():
        current = getattr(settings, name)
        if name.endswith("_SERVICE_TOKEN"):
            values[name] = current
        else:
            values[name] = f"cnry-{name.lower().replace('_', '')}-{uuid.uuid4().hex}"
            setattr(settings, name, values[name])
        monkeypatch.setenv(name, values[name])
    return values


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """Point the configured console handler (the real one, its filters included) at a buffer."""
    handlers = [
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RedactingFilter) for f in h.filters)
    ]
    assert handlers, "settings.LOGGING's console handler carries the redaction filter"
    buffer = io.StringIO()
    old = [h.setStream(buffer) for h in handlers]
    logging.getLogger().setLevel(logging.DEBUG)
    yield buffer
    logging.getLogger().setLevel(logging.INFO)
    for handler, stream in zip(handlers, old, strict=True):
        handler.setStream(stream)


def fake_pg_tools(folder: Path, values: dict[str, str]) -> Path:
    """Write a pg_dump that fails, printing its environment and echoing the canaries."""
    folder.mkdir()
    lines = [
        "#!/bin/sh",
        'if [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) 99.0"; exit 0; fi',
    ]
    lines.append('echo "pg_dump: error: connection to server failed" >&2')
    for name, value in values.items():
        lines.append(f'echo "inherited {name}=${{{name}}} echoed {value}" >&2')
    lines.append("exit 1")
    for tool in ("pg_dump", "pg_restore", "psql"):
        path = folder / tool
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o755)
    return folder


class _EchoingSMTP(socketserver.StreamRequestHandler):
    """An SMTP server that refuses AUTH PLAIN, quoting the credentials back."""

    def handle(self) -> None:
        self.wfile.write(b"220 fake ESMTP\r\n")
        while line := self.rfile.readline():
            command = line.strip()
            upper = command.upper()
            if upper.startswith((b"EHLO", b"HELO")):
                self.wfile.write(b"250-fake\r\n250 AUTH PLAIN\r\n")
            elif upper.startswith(b"AUTH"):
                decoded = base64.b64decode(command.split()[-1]).replace(b"\0", b" ")
                self.wfile.write(b"535 5.7.8 bad credentials:" + decoded + b"\r\n")
            elif upper.startswith(b"QUIT"):
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"502 not here\r\n")


@pytest.fixture
def smtp(settings: Any) -> Iterator[None]:
    port = free_port()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), _EchoingSMTP)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    settings.EMAIL_HOST_USER = "mailer"
    yield
    server.shutdown()
    server.server_close()


def test_secret_settings__every_one_found_by_name(settings: Any) -> None:
    assert set(secret_setting_names()) >= EXPECTED_SECRETS


def test_logging__every_handler_redacts(settings: Any) -> None:
    for name, handler in settings.LOGGING["handlers"].items():
        assert "redact" in handler.get("filters", []), name


def test_redact__database_password_plain_and_url_encoded(settings: Any) -> None:
    settings.DATABASE_URL = "postgres://cp:p%40ss%2Fw0rd%21@db.example:5432/cp"
    text = redact("dsn postgres://cp:p%40ss%2Fw0rd%21@db and password p@ss/w0rd! in clear")
    assert "p@ss/w0rd!" not in text and "p%40ss%2Fw0rd%21" not in text
    assert text.count("[redacted]") >= 2


def test_canaries__failing_export_provisioning_and_email_leak_nothing(
    canaries: dict[str, str],
    console: io.StringIO,
    fake_services: dict[str, FakeService],  # noqa: F811
    smtp: None,
    settings: Any,
    tmp_path: Path,
    tenant: Any,
    committed_tenants: list[str],  # noqa: F811
) -> None:
    assert set(canaries) >= EXPECTED_SECRETS
    settings.BACKUPS_PG_BIN_DIR = str(fake_pg_tools(tmp_path / "bin", canaries))
    project = tenant("acme-shop")

    # A failing export, through the API and the worker.
    client = bearer(APIClient(), project_id="acme-shop")
    response = client.post("/api/backup/export", {"project_id": "acme-shop"}, format="json")
    assert response.status_code == 202, response.content
    job_id = response.json()["data"]["job_id"]
    execute_job(job_id)
    job = Job.objects.get(pk=job_id)
    assert "connection to server failed" in job.last_error  # the tool's stderr was kept
    assert "[redacted]" in job.last_error
    # pg_dump inherited none of the secrets in the worker's environment (an allow-list).
    assert "= echoed" in job.last_error and "=[redacted] echoed" not in job.last_error
    shown = client.get(f"/api/jobs/{job_id}").content.decode()

    # A failing provisioning.
    doomed = factories.project(slug="doomed-co", status="PROVISIONING")
    drop_tenant(doomed.schema_name)  # a leftover of an interrupted run
    committed_tenants.append(doomed.schema_name)
    fake_services["realtime"].mode = "fail"
    with pytest.raises(ServiceCallError):
        provision_project_run(
            project_id=doomed.pk, services={"auth": True, "realtime": True}, api_key_count=1
        )

    # A failing email, whose server quotes the credentials back.
    with warnings.catch_warnings():
        # Django's SMTP backend leaves the socket of a refused login to the garbage collector.
        warnings.simplefilter("ignore", ResourceWarning)
        error = backup_notify_email(
            backup=backup_factories.backup(project=project), to="ops@example.test"
        )
        gc.collect()
    assert error is not None and "bad credentials" in error
    assert AuditLog.objects.filter(action="backup.notify_failed").exists()

    # The admin, as a superuser, on the pages that show these rows.
    admin = Client()
    admin.force_login(factories.user(is_staff=True, is_superuser=True))
    attempt = JobAttempt.objects.filter(job_id=job_id).first()
    assert attempt is not None
    pages = [
        "/admin/jobs/job/",
        f"/admin/jobs/job/{job_id}/change/",
        "/admin/controlplane/auditlog/",
        f"/admin/controlplane/project/{doomed.pk}/change/",
        "/admin/",
    ]
    html = ""
    for page in pages:
        answer = admin.get(page)
        assert answer.status_code == 200, page
        html += answer.content.decode()
    assert "connection to server failed" in html  # the pages do show the error

    logged = console.getvalue()
    assert "attempt 1" in logged  # the buffer really received the worker's lines
    for name, value in canaries.items():
        assert value not in logged, f"{name} in the log"
        assert value not in shown, f"{name} in GET /api/jobs"
        assert value not in html, f"{name} in the admin"
        assert tables_containing(value) == [], name
    assert os.environ["SECRET_KEY"] == canaries["SECRET_KEY"]  # the environment held them too
