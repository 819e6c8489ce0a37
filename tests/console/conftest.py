"""Console fixtures: its test handlers (and the jobs ones), staff users, job rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from jobs.models import Job, JobStatus
from tests import factories
from tests.console import sample_handlers  # noqa: F401 (registers the test handlers)
from tests.jobs import sample_handlers as jobs_sample_handlers  # noqa: F401

HANDLERS_MODULES = "tests.console.sample_handlers,tests.jobs.sample_handlers"


def viewer(username: str = "viewer", password: str = "viewer-pass-123") -> Any:
    """Return a staff user who may view jobs, projects and the audit log (no superuser)."""
    user = factories.staff(username=username, password=password)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_job", "view_project", "view_auditlog", "view_task"]
        )
    )
    return user


@pytest.fixture
def viewer_user(db: None) -> Any:
    return viewer()


def ended_job(
    *,
    type: str = "test.echo",
    status: str = JobStatus.COMPLETED,
    completed_at: datetime,
    seconds: float = 1.0,
    **kw: Any,
) -> Job:
    """Write a finished job row as the worker would have left it (test data only)."""
    return Job.objects.create(
        type=type,
        status=status,
        attempts=1,
        started_at=completed_at - timedelta(seconds=seconds),
        completed_at=completed_at,
        created_at=completed_at - timedelta(seconds=seconds + 1),
        **kw,
    )


def running_job(*, type: str = "test.progress", progress: dict[str, Any] | None = None) -> Job:
    now = timezone.now()
    return Job.objects.create(
        type=type,
        status=JobStatus.RUNNING,
        attempts=1,
        started_at=now - timedelta(seconds=5),
        worker="host-1:4242",
        lease_expires_at=now + timedelta(seconds=28),
        progress=progress,
    )


SCREENSHOTS = Path(__file__).resolve().parents[2] / ".embedded" / "screenshots"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def shot_on_failure(request: pytest.FixtureRequest, page: Any) -> Iterator[Any]:
    """Yield the page; save a full-page screenshot under .embedded/screenshots if the test fails."""
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{request.node.name[:80]}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot saved: {path}")
