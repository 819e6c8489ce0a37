"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from controlplane.api.auth import issue_access_token
from controlplane.devenv import DEV_FALLBACK_SECRETS
from tests import factories

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def _secrets_for_subprocesses() -> None:
    """Hand this process's secrets to the processes tests start (qcluster, rundev).

    manage.py loads a developer's `.env` for what the environment lacks; its generated
    secrets would make a test's qcluster sign and read differently from the test itself.
    """
    from django.conf import settings

    for name in DEV_FALLBACK_SECRETS:
        os.environ.setdefault(name, getattr(settings, name))


@pytest.fixture(autouse=True)
def _isolated_cache(settings: Any) -> Iterator[None]:
    """Give each test a fresh cache namespace, so rate-limit counters never leak between tests."""
    from django.core.cache import cache

    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"t{os.urandom(4).hex()}"},
    }
    yield
    cache.close()


@pytest.fixture(autouse=True)
def _token_checks_uncached(settings: Any) -> None:
    """Re-check every token on every request: no test waits for a cache to expire."""
    settings.AUTH_TOKEN_RECHECK_SECONDS = 0


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def project(db: None) -> Any:
    return factories.project(slug="acme-shop")


@pytest.fixture
def staff_user(db: None) -> Any:
    return factories.staff(username="operator", perms=factories.API_PERMISSIONS)


def project_token(project_id: str) -> str:
    """Return a token for a new API key of the project (a made-up key when it doesn't exist)."""
    from controlplane.models import Project
    from provisioning.services import api_key_issue

    found = Project.objects.filter(slug=project_id).first()
    key_id = api_key_issue(project=found, name="test")[0].pk if found is not None else 0
    return str(issue_access_token(project_id=project_id, api_key_id=key_id)["access_token"])


def bearer(client: APIClient, *, project_id: str | None = None, user: Any = None) -> APIClient:
    """Authenticate `client` with a freshly issued token."""
    if project_id is not None:
        token = project_token(project_id)
    else:
        token = issue_access_token(user=user)["access_token"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def project_client(api_client: APIClient, project: Any) -> APIClient:
    return bearer(api_client, project_id=project.slug)


@pytest.fixture
def staff_client(api_client: APIClient, staff_user: Any) -> APIClient:
    return bearer(api_client, user=staff_user)


def logged_in(client: Any, *perms: str, superuser: bool = False) -> Any:
    """Log `client` into the admin as a staff user with `perms` (or as a superuser)."""
    if superuser:
        user = factories.user(username="root", is_staff=True, is_superuser=True)
    else:
        user = factories.staff(perms=perms)
    client.force_login(user)
    return client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def scratch_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    """Yield a folder under the project that an unprivileged PostgreSQL can traverse."""
    base = PROJECT_ROOT / ".embedded" / "scratch"
    base.mkdir(parents=True, exist_ok=True)
    folder = base / f"{request.node.name[:40]}-{os.urandom(3).hex()}"
    folder.mkdir()
    yield folder
    # An embedded cluster whose socket path would be too long lives in a /tmp twin.
    for link in folder.rglob("runtime"):
        if link.is_symlink():
            shutil.rmtree(link.resolve(), ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)


# --- a real browser (Debian's chromium driven by Playwright; one per test session) ---------

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    # Playwright's sync API keeps an idle event loop in this thread for the whole session;
    # the tests' database calls are still synchronous, so Django's async guard does not apply.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Debian's chromium is needed for browser tests: `make test` installs it.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
