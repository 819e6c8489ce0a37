"""The book-catalogue processor and its clients against local fakes of Gemini, xAI and ISBNdb."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from backfill.catalogue import BookCatalogueProcessor
from backfill.errors import ProviderError, ProviderNotConfigured, QuotaExhausted
from backfill.handlers import backfill_month_run
from backfill.models import BackfillStatus, Book, Provider, ProviderQuota
from backfill.protocol import ProviderUsage
from tests.backfill import factories
from tests.backfill.fakes import (
    GEMINI_KEY,
    GEMINI_ROUTE,
    ISBNDB_KEY,
    ISBNDB_ROUTE,
    THREE_BOOKS,
    XAI_KEY,
    XAI_ROUTE,
    FakeServer,
    chat_answer,
    configs,
    fake_server,
    gemini_answer,
    google_error,
    isbndb_catalogue,
)
from tests.conftest import free_port

pytestmark = pytest.mark.django_db
KEYS = (GEMINI_KEY, XAI_KEY, ISBNDB_KEY)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with fake_server() as fake:
        fake.script(ISBNDB_ROUTE, isbndb_catalogue)
        yield fake


def run(server: FakeServer, usage: ProviderUsage | None = None, **config: Any) -> Any:
    processor = BookCatalogueProcessor(configs(server.url, **config))
    return processor.process(
        year=2024,
        month=3,
        batch_size=20,
        prompt_variant="contemporary-notable",
        usage=usage if usage is not None else ProviderUsage(),
    )


def assert_no_keys(text: str) -> None:
    for key in KEYS:
        assert key not in text


def test_catalogue__gemini_answer_resolved_through_isbndb(server: FakeServer) -> None:
    server.script(GEMINI_ROUTE, gemini_answer(f"```json\n{THREE_BOOKS}\n```\nEnjoy!"))
    usage = ProviderUsage()
    result = run(server, usage)

    assert (result.books_generated, result.isbns_resolved) == (3, 2)
    assert (usage.gemini_calls, usage.xai_calls, usage.isbndb_calls) == (1, 0, 3)
    books = {b.isbn: b for b in Book.objects.all()}
    assert set(books) == {"9780385550369", "9781250178633"}
    assert books["9781250178633"].source == Provider.GEMINI
    assert (books["9781250178633"].year, books["9781250178633"].month) == (2024, 3)

    (call,) = server.calls(GEMINI_ROUTE)
    assert call.method == "POST" and call.path == "/v1beta/models/gemini-test:generateContent"
    assert call.headers["x-goog-api-key"] == GEMINI_KEY and GEMINI_KEY not in call.query
    assert "March 2024" in call.body["contents"][0]["parts"][0]["text"]
    lookup = server.calls(ISBNDB_ROUTE)[0]
    assert lookup.method == "GET" and lookup.headers["Authorization"] == ISBNDB_KEY
    assert lookup.path == "/isbndb/books/James Percival Everett"
    assert ProviderQuota.objects.get(provider=Provider.ISBNDB).used == 3


def test_catalogue__rerun_is_idempotent_on_isbn(server: FakeServer) -> None:
    server.script(GEMINI_ROUTE, gemini_answer(THREE_BOOKS))
    run(server)
    second = run(server)
    assert second.isbns_resolved == 2 and Book.objects.count() == 2


@pytest.mark.parametrize(
    "gemini_reply",
    [
        google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded"),
        google_error(503, "UNAVAILABLE", "The model is overloaded"),
        (200, "<html>not json</html>"),
        gemini_answer("Sorry, I cannot help with that."),
        (200, {"promptFeedback": {"blockReason": "SAFETY"}}),
    ],
    ids=["429", "503", "not-json", "no-books", "blocked"],
)
def test_catalogue__xai_is_the_fallback(server: FakeServer, gemini_reply: Any) -> None:
    server.script(GEMINI_ROUTE, gemini_reply)
    server.script(XAI_ROUTE, chat_answer(f"Here you go: {THREE_BOOKS} -- hope this helps"))
    usage = ProviderUsage()
    result = run(server, usage)
    assert result.isbns_resolved == 2
    assert (usage.gemini_calls, usage.xai_calls) == (1, 1)
    assert set(Book.objects.values_list("source", flat=True)) == {Provider.XAI}
    (call,) = server.calls(XAI_ROUTE)
    assert call.path == "/xai/v1/chat/completions"
    assert call.headers["Authorization"] == f"Bearer {XAI_KEY}"
    assert call.body["model"] == "grok-test" and call.body["messages"][-1]["role"] == "user"


def test_catalogue__both_models_failing_is_an_error_without_keys(server: FakeServer) -> None:
    server.script(GEMINI_ROUTE, google_error(400, "INVALID_ARGUMENT", f"API key {GEMINI_KEY} bad"))
    server.script(
        XAI_ROUTE,
        (401, {"error": {"message": f"Incorrect API key provided: {XAI_KEY}", "type": "auth"}}),
    )
    with pytest.raises(ProviderError) as caught:
        run(server)
    message = str(caught.value)
    assert "HTTP 400" in message and "HTTP 401" in message
    assert_no_keys(message)


def test_catalogue__both_models_rate_limited_defers(server: FakeServer) -> None:
    server.script(GEMINI_ROUTE, google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded"))
    server.script(XAI_ROUTE, (429, {"error": {"message": "rate limit"}}))
    with pytest.raises(QuotaExhausted):
        run(server)


def test_catalogue__isbndb_rate_limit_defers(server: FakeServer) -> None:
    server.script(GEMINI_ROUTE, gemini_answer(THREE_BOOKS))
    server.script(ISBNDB_ROUTE, (429, {"message": "Too many requests"}))
    with pytest.raises(QuotaExhausted) as caught:
        run(server)
    assert caught.value.provider == "isbndb"


def test_catalogue__isbndb_server_error_is_retryable(server: FakeServer) -> None:
    server.script(GEMINI_ROUTE, gemini_answer(THREE_BOOKS))
    server.script(ISBNDB_ROUTE, (502, "Bad Gateway"))
    with pytest.raises(ProviderError, match="HTTP 502"):
        run(server)


def test_catalogue__daily_quota_skips_gemini_without_calling_it(server: FakeServer) -> None:
    server.script(XAI_ROUTE, chat_answer(THREE_BOOKS))
    cfg = configs(server.url)
    cfg[Provider.GEMINI] = cfg[Provider.GEMINI].__class__(
        Provider.GEMINI, GEMINI_KEY, f"{server.url}/v1beta", 0, "gemini-test", 5
    )
    usage = ProviderUsage()
    result = BookCatalogueProcessor(cfg).process(
        year=2024, month=3, batch_size=5, prompt_variant="baseline", usage=usage
    )
    assert result.isbns_resolved == 2
    assert server.calls(GEMINI_ROUTE) == [] and usage.gemini_calls == 0


def test_catalogue__all_quotas_used_up_defers(server: FakeServer) -> None:
    with pytest.raises(QuotaExhausted):
        run(server, quota=0)
    assert server.requests == []


@pytest.mark.parametrize(
    ("config", "needle"),
    [({"gemini": False, "xai": False}, "BACKFILL_GEMINI_API_KEY"), ({"isbndb": False}, "ISBNdb")],
)
def test_catalogue__no_provider_configured_is_permanent(
    server: FakeServer, config: dict[str, bool], needle: str
) -> None:
    with pytest.raises(ProviderNotConfigured, match=needle):
        run(server, **config)
    assert server.requests == []


def test_catalogue__unreachable_provider_error_names_no_url_or_key(db: None) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ProviderError) as caught:
        run(FakeServer(url=url), xai=False)
    assert "transport error" in str(caught.value)
    assert_no_keys(str(caught.value))
    assert "127.0.0.1" not in str(caught.value)


def test_month_job__end_to_end_from_settings(server: FakeServer, settings: Any) -> None:
    settings.BACKFILL_GEMINI_API_KEY = GEMINI_KEY
    settings.BACKFILL_GEMINI_BASE_URL = f"{server.url}/v1beta"
    settings.BACKFILL_XAI_API_KEY = XAI_KEY
    settings.BACKFILL_XAI_BASE_URL = f"{server.url}/xai/v1"
    settings.BACKFILL_ISBNDB_API_KEY = ISBNDB_KEY
    settings.BACKFILL_ISBNDB_BASE_URL = f"{server.url}/isbndb"
    server.script(GEMINI_ROUTE, google_error(503, "UNAVAILABLE", f"overloaded {GEMINI_KEY}"))
    server.script(XAI_ROUTE, (500, {"error": {"message": f"boom key={XAI_KEY}"}}))
    row = factories.month(2024, 3, status=BackfillStatus.PROCESSING)
    job_id = row.last_job_id
    assert job_id is not None
    payload = {"year": 2024, "month": 3, "batch_size": 20, "prompt_variant": "contemporary-notable"}

    with pytest.raises(ProviderError):  # raised on: the job's policy retries it
        backfill_month_run(payload, job_id=job_id)
    row.refresh_from_db()
    assert row.status == BackfillStatus.RETRY
    assert "HTTP 503" in row.error_message and "HTTP 500" in row.error_message
    assert_no_keys(row.error_message)
    assert (row.gemini_calls, row.xai_calls, row.isbndb_calls) == (1, 1, 0)

    server.script(GEMINI_ROUTE, gemini_answer(THREE_BOOKS))
    done = backfill_month_run(payload, job_id=job_id, attempt=2)
    row.refresh_from_db()
    assert done["outcome"] == "completed" and row.status == BackfillStatus.COMPLETED
    assert (row.books_generated, row.isbns_resolved, row.resolution_rate) == (
        3,
        2,
        pytest.approx(66.67, abs=0.01),
    )
    assert (row.gemini_calls, row.xai_calls, row.isbndb_calls) == (2, 1, 3)
