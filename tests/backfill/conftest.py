"""Backfill fixtures: a seeded queue, a cron-authenticated client, real qcluster processes."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from backfill.services import backfill_seed
from tests.jobs.conftest import qcluster  # noqa: F401  (real worker processes, for e2e tests)


@pytest.fixture
def seeded(db: None) -> Any:
    return backfill_seed()


@pytest.fixture
def cron_client(api_client: APIClient) -> APIClient:
    api_client.credentials(HTTP_X_CRON_SECRET=settings.CRON_SECRET)
    return api_client
