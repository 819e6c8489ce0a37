"""Fixtures for provisioning: a fake platform service over real HTTP, tenant names and cleanup."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from psycopg import sql

from controlplane.models import Project, ProjectStatus
from jobs.models import Job
from jobs.worker import execute_job
from provisioning.models import ProvisioningStep
from provisioning.services import project_provision_request
from tests import factories
from tests.jobs.conftest import ledger, qcluster  # noqa: F401 (fixtures for e2e tests)

SERVICES = ("auth", "realtime", "storage")


@dataclass
class FakeService:
    """A platform service's admin API: keeps tenants, and can fail, refuse or hang on demand."""

    name: str
    url: str = ""
    token: str = ""
    tenants: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    # "ok", "fail" (HTTP 500), "refuse" (HTTP 403) or "hang" (answers after `release`).
    mode: str = "ok"
    # With mode "ok": answer this many requests with HTTP 503 first.
    fail_next: int = 0
    release: threading.Event = field(default_factory=threading.Event)


def _handler(service: FakeService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any] | None = None) -> None:
            data = json.dumps(body or {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _gate(self) -> bool:
            """Apply the failure mode; return True when the request may proceed."""
            if service.mode == "hang":
                service.release.wait(10)
                return False
            if service.mode == "fail":
                self._answer(500, {"error": "boom"})
                return False
            if service.mode == "refuse":
                self._answer(403, {"error": "forbidden"})
                return False
            if service.fail_next > 0:
                service.fail_next -= 1
                self._answer(503, {"error": "busy"})
                return False
            if self.headers.get("Authorization") != f"Bearer {service.token}":
                self._answer(401, {"error": "bad token"})
                return False
            return True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            service.requests.append({"method": "POST", "path": self.path, "body": body})
            if not self._gate():
                return
            if self.path != "/admin/tenants":
                self._answer(404)
                return
            tenant = body["tenant_id"]
            if tenant in service.tenants:
                self._answer(409, {"id": service.tenants[tenant]})
                return
            service.tenants[tenant] = f"{service.name}-{uuid.uuid4().hex[:8]}"
            self._answer(201, {"id": service.tenants[tenant]})

        def do_DELETE(self) -> None:
            service.requests.append({"method": "DELETE", "path": self.path, "body": None})
            if not self._gate():
                return
            tenant = self.path.rsplit("/", 1)[-1]
            found = service.tenants.pop(tenant, None)
            self._answer(204 if found else 404)

    return Handler


@pytest.fixture
def fake_services(settings: Any) -> Iterator[dict[str, FakeService]]:
    """Start one fake service per platform service and point the settings at them."""
    services: dict[str, FakeService] = {}
    servers = []
    for name in SERVICES:
        service = FakeService(name=name, token=f"{name}-token-{uuid.uuid4().hex}")
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(service))
        server.daemon_threads = True
        service.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        servers.append(server)
        services[name] = service
        setattr(settings, f"{name.upper()}_SERVICE_URL", service.url)
        setattr(settings, f"{name.upper()}_SERVICE_TOKEN", service.token)
    settings.PROVISIONING_HTTP_TIMEOUT = 0.5
    settings.PROVISIONING_HTTP_ATTEMPTS = 3
    settings.PROVISIONING_HTTP_BACKOFF = 0.01
    yield services
    for service in services.values():
        service.release.set()
    for server in servers:
        server.shutdown()
        server.server_close()


def service_env(services: dict[str, FakeService]) -> dict[str, str]:
    """Return the environment pointing a qcluster process at the fake services."""
    env = {
        "PROVISIONING_HTTP_TIMEOUT": "2",
        "PROVISIONING_HTTP_ATTEMPTS": "2",
        "PROVISIONING_HTTP_BACKOFF": "0.01",
    }
    for name, service in services.items():
        env[f"{name.upper()}_SERVICE_URL"] = service.url
        env[f"{name.upper()}_SERVICE_TOKEN"] = service.token
    return env


@pytest.fixture
def no_services(settings: Any) -> None:
    for name in SERVICES:
        setattr(settings, f"{name.upper()}_SERVICE_URL", "")


def unique_slug() -> str:
    return f"pv-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def new_project(db: None) -> Any:
    """A PROVISIONING project with a slug no other test uses (roles are cluster-wide)."""
    return factories.project(slug=unique_slug(), status=ProjectStatus.PROVISIONING)


def drop_tenant(name: str) -> None:
    """Drop schema and role `name` if they exist (committed leftovers of a test)."""
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)).as_string()
        )
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
        if cursor.fetchone():
            cursor.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)).as_string())
            cursor.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)).as_string())


@pytest.fixture
def committed_tenants(transactional_db: None) -> Iterator[list[str]]:
    """Collect tenant names a transactional test creates; drop them afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        drop_tenant(name)


def connect_as(role: str, password: str) -> psycopg.Connection[Any]:
    """Connect to the test database as `role` over the cluster's unix socket."""
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        dbname=db["NAME"],
        user=role,
        password=password,
        autocommit=True,
        connect_timeout=5,
    )


def ddl(template: str, name: str) -> str:
    """Return `template` with `name` quoted as an identifier in its `{}`."""
    return sql.SQL(template).format(sql.Identifier(name)).as_string()


def role_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
        return cursor.fetchone() is not None


def schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def run_job(job: Job) -> Job:
    """Execute `job` in this process exactly as a worker would; return it reloaded."""
    execute_job(str(job.pk))
    job.refresh_from_db()
    return job


def make_due(job: Job) -> None:
    """Make a job waiting for its retry due now (a test-only shortcut past the backoff)."""
    Job.objects.filter(pk=job.pk).update(scheduled_at=timezone.now() - timedelta(seconds=1))


ALL_SERVICES = {"auth": True, "realtime": True, "storage": True}


def provisioning_steps(project: Project) -> dict[str, tuple[str, int]]:
    """Return each step of the project's provisioning: name -> (status, attempts)."""
    return {
        s.name: (s.status, s.attempts) for s in ProvisioningStep.objects.filter(project=project)
    }


def provision_request(tenants: list[str], **kw: Any) -> tuple[Project, Job]:
    """Ask for a provisioning (all services unless told); its schema is dropped after the test."""
    project, job = project_provision_request(
        slug=kw.pop("slug", unique_slug()),
        name="Shop",
        services=kw.pop("services", ALL_SERVICES),
        actor=None,
        **kw,
    )
    tenants.append(project.schema_name)
    return project, job
