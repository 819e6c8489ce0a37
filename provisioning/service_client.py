"""Call the platform services' admin endpoints (auth, realtime, storage) over HTTP.

Protocol: `POST {URL}/admin/tenants` with `{"tenant_id", "schema", "region"}` registers a
tenant and answers `{"id": ...}` (201/200; 409 means already registered);
`DELETE {URL}/admin/tenants/{tenant_id}` deregisters it (404 means already gone). Both
carry `Authorization: Bearer {TOKEN}` when a token is configured.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings

from jobs.errors import PermanentJobError

logger = logging.getLogger("provisioning.services")

_RETRY_STATUSES = {429, 502, 503, 504, 500}


@dataclass(frozen=True)
class ServiceEndpoint:
    service: str
    url: str
    token: str = ""

    def __repr__(self) -> str:
        # Keeps the token out of tracebacks and logs that print the endpoint.
        return f"ServiceEndpoint(service={self.service!r}, url={self.url!r})"


class ServiceCallError(Exception):
    """Raise when a service call fails for now (down, timing out): the job retries it."""

    @property
    def retryable(self) -> bool:
        return not isinstance(self, PermanentJobError)


class ServiceRefused(ServiceCallError, PermanentJobError):
    """Raise when a service refused the call: retrying cannot help."""


def service_endpoint(service: str) -> ServiceEndpoint | None:
    """Return the configured endpoint of `service`, or None when it has no URL."""
    url = getattr(settings, f"{service.upper()}_SERVICE_URL", "")
    if not url:
        return None
    token = getattr(settings, f"{service.upper()}_SERVICE_TOKEN", "")
    return ServiceEndpoint(service=service, url=url.rstrip("/"), token=token)


def _request(
    endpoint: ServiceEndpoint, method: str, path: str, *, json: dict[str, Any] | None = None
) -> httpx.Response:
    """Send one request with timeouts, retrying transient failures a bounded number of times."""
    headers = {"Accept": "application/json"}
    if endpoint.token:
        headers["Authorization"] = f"Bearer {endpoint.token}"
    attempts = max(1, settings.PROVISIONING_HTTP_ATTEMPTS)
    failure = ""
    with httpx.Client(
        timeout=httpx.Timeout(settings.PROVISIONING_HTTP_TIMEOUT), follow_redirects=False
    ) as client:
        for attempt in range(1, attempts + 1):
            try:
                response = client.request(method, endpoint.url + path, json=json, headers=headers)
            except httpx.TransportError as exc:
                failure = f"{type(exc).__name__}"
            else:
                if response.status_code not in _RETRY_STATUSES:
                    return response
                failure = f"HTTP {response.status_code}"
            logger.warning(
                "%s service %s %s failed (%s), attempt %d of %d",
                endpoint.service,
                method,
                path,
                failure,
                attempt,
                attempts,
            )
            if attempt < attempts:
                time.sleep(min(settings.PROVISIONING_HTTP_BACKOFF * 2 ** (attempt - 1), 10.0))
    raise ServiceCallError(
        f"{endpoint.service} service {method} {path} failed after {attempts} attempt(s): {failure}"
    )


def register_tenant(
    endpoint: ServiceEndpoint, *, tenant_id: str, schema_name: str, region: str
) -> str:
    """Register the tenant with the service; return the service's id for it."""
    path = "/admin/tenants"
    body = {"tenant_id": tenant_id, "schema": schema_name, "region": region}
    response = _request(endpoint, "POST", path, json=body)
    if response.status_code in (200, 201, 409):
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        external_id = payload.get("id") if isinstance(payload, dict) else None
        return str(external_id or tenant_id)
    raise ServiceRefused(
        f"{endpoint.service} service refused the registration of {tenant_id}: "
        f"HTTP {response.status_code}"
    )


def deregister_tenant(endpoint: ServiceEndpoint, *, tenant_id: str) -> None:
    """Remove the tenant from the service; an unknown tenant counts as removed."""
    path = f"/admin/tenants/{quote(tenant_id, safe='')}"
    response = _request(endpoint, "DELETE", path)
    if response.status_code in (200, 202, 204, 404):
        return
    raise ServiceRefused(
        f"{endpoint.service} service refused the deregistration of {tenant_id}: "
        f"HTTP {response.status_code}"
    )
