"""Service registration over real HTTP against a fake service that can fail, refuse or hang."""

from __future__ import annotations

from typing import Any

import pytest

from provisioning.models import RegistrationStatus, ServiceRegistration
from provisioning.service_client import (
    ServiceCallError,
    deregister_tenant,
    register_tenant,
    service_endpoint,
)
from provisioning.services import service_registrations_run, service_registrations_undo
from tests.provisioning.conftest import FakeService

ALL = {"auth": True, "realtime": True, "storage": True}


def test_register_tenant__sends_tenant_and_token(fake_services: dict[str, FakeService]) -> None:
    auth = fake_services["auth"]
    external_id = register_tenant(
        service_endpoint("auth"), tenant_id="acme-shop", schema_name="tenant_acme_shop", region="eu"
    )
    assert external_id == auth.tenants["acme-shop"]
    assert auth.requests[-1]["body"] == {
        "tenant_id": "acme-shop",
        "schema": "tenant_acme_shop",
        "region": "eu",
    }


def test_register_tenant__already_registered_returns_same_id(
    fake_services: dict[str, FakeService],
) -> None:
    endpoint = service_endpoint("auth")
    first = register_tenant(endpoint, tenant_id="acme-shop", schema_name="s", region="r")
    second = register_tenant(endpoint, tenant_id="acme-shop", schema_name="s", region="r")
    assert first == second


def test_register_tenant__retries_transient_failures(
    fake_services: dict[str, FakeService],
) -> None:
    auth = fake_services["auth"]
    auth.fail_next = 2
    register_tenant(service_endpoint("auth"), tenant_id="acme-shop", schema_name="s", region="r")
    assert len(auth.requests) == 3 and "acme-shop" in auth.tenants


def test_register_tenant__gives_up_after_bounded_attempts(
    fake_services: dict[str, FakeService],
) -> None:
    auth = fake_services["auth"]
    auth.mode = "fail"
    with pytest.raises(ServiceCallError, match="after 3 attempt") as caught:
        register_tenant(service_endpoint("auth"), tenant_id="x-1", schema_name="s", region="r")
    assert caught.value.retryable is True
    assert len(auth.requests) == 3


def test_register_tenant__hanging_service_times_out(
    fake_services: dict[str, FakeService], settings: Any
) -> None:
    settings.PROVISIONING_HTTP_TIMEOUT = 0.2
    settings.PROVISIONING_HTTP_ATTEMPTS = 2
    fake_services["auth"].mode = "hang"
    with pytest.raises(ServiceCallError, match="ReadTimeout") as caught:
        register_tenant(service_endpoint("auth"), tenant_id="x-1", schema_name="s", region="r")
    assert caught.value.retryable is True
    assert len(fake_services["auth"].requests) == 2


def test_register_tenant__refusal_is_not_retried(fake_services: dict[str, FakeService]) -> None:
    fake_services["auth"].mode = "refuse"
    with pytest.raises(ServiceCallError, match="HTTP 403") as caught:
        register_tenant(service_endpoint("auth"), tenant_id="x-1", schema_name="s", region="r")
    assert caught.value.retryable is False
    assert len(fake_services["auth"].requests) == 1


def test_register_tenant__wrong_token_refused(
    fake_services: dict[str, FakeService], settings: Any
) -> None:
    settings.AUTH_SERVICE_TOKEN = "not-the-token"
    with pytest.raises(ServiceCallError, match="HTTP 401"):
        register_tenant(service_endpoint("auth"), tenant_id="x-1", schema_name="s", region="r")


def test_service_error__never_carries_the_token(
    fake_services: dict[str, FakeService], caplog: pytest.LogCaptureFixture
) -> None:
    fake_services["auth"].mode = "fail"
    with pytest.raises(ServiceCallError) as caught:
        register_tenant(service_endpoint("auth"), tenant_id="x-1", schema_name="s", region="r")
    token = fake_services["auth"].token
    assert token not in str(caught.value) and token not in repr(service_endpoint("auth"))
    assert caplog.records and token not in caplog.text


def test_deregister_tenant__unknown_counts_as_removed(
    fake_services: dict[str, FakeService],
) -> None:
    deregister_tenant(service_endpoint("storage"), tenant_id="never-registered")
    assert fake_services["storage"].requests[-1]["method"] == "DELETE"


def test_registrations_run__records_each_service(
    new_project: Any, fake_services: dict[str, FakeService], settings: Any
) -> None:
    settings.STORAGE_SERVICE_URL = ""
    service_registrations_run(project=new_project, services={**ALL, "realtime": False})
    rows = {r.service: r for r in ServiceRegistration.objects.filter(project=new_project)}
    assert set(rows) == {"auth", "storage"}
    assert rows["auth"].status == RegistrationStatus.REGISTERED
    assert rows["auth"].external_id == fake_services["auth"].tenants[new_project.slug]
    assert rows["auth"].registered_at is not None
    # Not configured: recorded as skipped, never faked as registered.
    assert rows["storage"].status == RegistrationStatus.SKIPPED and not rows["storage"].external_id
    assert not fake_services["realtime"].requests and not fake_services["storage"].requests


def test_registrations_run__resumes_after_a_failure(
    new_project: Any, fake_services: dict[str, FakeService]
) -> None:
    fake_services["realtime"].mode = "fail"
    with pytest.raises(ServiceCallError):
        service_registrations_run(project=new_project, services=ALL)
    statuses = dict(
        ServiceRegistration.objects.filter(project=new_project).values_list("service", "status")
    )
    assert statuses == {"auth": "registered", "realtime": "failed"}
    fake_services["realtime"].mode = "ok"
    auth_calls = len(fake_services["auth"].requests)
    service_registrations_run(project=new_project, services=ALL)
    assert len(fake_services["auth"].requests) == auth_calls  # not called again
    statuses = dict(
        ServiceRegistration.objects.filter(project=new_project).values_list("service", "status")
    )
    assert statuses == {"auth": "registered", "realtime": "registered", "storage": "registered"}


def test_registrations_undo__deregisters_everywhere(
    new_project: Any, fake_services: dict[str, FakeService]
) -> None:
    service_registrations_run(project=new_project, services=ALL)
    assert service_registrations_undo(project=new_project) == []
    assert all(not s.tenants for s in fake_services.values())
    assert set(
        ServiceRegistration.objects.filter(project=new_project).values_list("status", flat=True)
    ) == {"deregistered"}


def test_registrations_undo__reports_what_it_could_not_undo(
    new_project: Any, fake_services: dict[str, FakeService]
) -> None:
    service_registrations_run(project=new_project, services=ALL)
    fake_services["storage"].mode = "fail"
    failures = service_registrations_undo(project=new_project)
    assert len(failures) == 1 and "storage" in failures[0]
    row = ServiceRegistration.objects.get(project=new_project, service="storage")
    assert row.status == RegistrationStatus.REGISTERED and "storage" in row.error
