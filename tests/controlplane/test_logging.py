"""The log format: each line once, formatted, with the id of the request it belongs to."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """Point the configured console handler at a buffer for the test."""
    (handler,) = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def test_django_request_warning__printed_once_with_its_request_id(
    api_client: APIClient,
    console: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    settings: Any,
) -> None:
    settings.DEBUG = True  # Django's own bare console handler printed only in DEBUG
    response = api_client.get("/api/nope", HTTP_X_REQUEST_ID="req-log-1")
    assert response.status_code == 404
    lines = [line for line in console.getvalue().splitlines() if "Not Found" in line]
    assert len(lines) == 1, console.getvalue()
    assert "WARNING django.request [req-log-1] Not Found: /api/nope" in lines[0]
    assert "Not Found" not in capsys.readouterr().err


def handlers_emitting(record: logging.LogRecord) -> list[logging.Handler]:
    """Return the handlers that would print `record`, walking the loggers as logging does."""
    found: list[logging.Handler] = []
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        found += [
            h
            for h in logger.handlers
            if record.levelno >= h.level
            and h.filter(record)
            and not type(h).__module__.startswith("_pytest")  # pytest's own capture
        ]
        logger = logger.parent if logger.propagate else None
    return found


@pytest.mark.parametrize(
    ("name", "level", "message"),
    [
        ("django.utils.autoreload", logging.INFO, "Watching for file changes with StatReloader"),
        ("django.server", logging.INFO, '"GET /healthz HTTP/1.1" 200 2'),
        ("django.request", logging.WARNING, "Not Found: /api/nope"),
    ],
)
def test_django_lines__one_handler_prints_them(
    settings: Any, name: str, level: int, message: str
) -> None:
    settings.DEBUG = True  # Django's own handlers print some of these only in DEBUG
    record = logging.getLogger(name).makeRecord(name, level, __file__, 1, message, (), None)
    assert [h.get_name() for h in handlers_emitting(record)] == ["console"]
