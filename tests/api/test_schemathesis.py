"""Property-based run of the whole API against its own OpenAPI document (schemathesis).

Bounded (a few examples per operation), seeded and derandomised (the same inputs on
every run), against a live server on the test database: zero 5xx, and every answer
matches the documented status codes, content types and shapes.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests import factories
from tests.conftest import project_token

MAX_EXAMPLES = 12


def _document() -> dict[str, Any]:
    return dict(SchemaGenerator().get_schema(request=None, public=True))


schema = schemathesis.openapi.from_dict(_document())
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=MAX_EXAMPLES,
    deterministic=True,
    database="none",
    no_shrink=True,
)


@pytest.fixture
def api_headers(transactional_db: None, settings: Any) -> dict[str, str]:
    """Return the headers of a project token whose project has a backup and a job."""
    # Plenty of room: the run, not the limits, is under test (429 is documented anyway).
    settings.BACKUPS_EXPORT_RATE_LIMIT = "10000/m"
    settings.PROVISIONING_TOKEN_RATE_LIMIT = "10000/m"
    settings.AUTH_STAFF_TOKEN_RATE_LIMIT = "10000/m"
    factories.project(slug="acme-shop")
    return {"Authorization": f"Bearer {project_token('acme-shop')}"}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api__conforms_to_its_schema(
    case: Any, live_server: Any, api_headers: dict[str, str]
) -> None:
    response = case.call(base_url=live_server.url, headers=api_headers)
    # Rules across fields (storage_path must lie under backups/<project_id>/) have no OpenAPI
    # form, so a schema-valid body may still be refused with 400; every other check applies.
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
