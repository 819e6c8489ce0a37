"""Local fake HTTP servers speaking Gemini generateContent, OpenAI chat completions and ISBNdb."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from backfill.models import Provider
from backfill.providers import ProviderConfig


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any


Reply = tuple[int, Any]  # (status, JSON body or raw str)


@dataclass
class FakeServer:
    """Answer each request with the next scripted reply for its route (the last one repeats)."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    scripts: dict[str, list[Reply | Callable[[Request], Reply]]] = field(default_factory=dict)

    def script(self, route: str, *replies: Reply | Callable[[Request], Reply]) -> None:
        self.scripts[route] = list(replies)

    def reply(self, request: Request) -> Reply:
        for route, replies in self.scripts.items():
            if route in request.path:
                step = replies.pop(0) if len(replies) > 1 else replies[0]
                return step(request) if callable(step) else step
        return 404, {"error": {"code": 404, "message": "no such route"}}

    def calls(self, route: str) -> list[Request]:
        return [r for r in self.requests if route in r.path]


@contextmanager
def fake_server() -> Iterator[FakeServer]:
    state = FakeServer()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode()
            parts = urlsplit(self.path)
            request = Request(
                self.command, unquote(parts.path), parts.query, dict(self.headers), body
            )
            state.requests.append(request)
            status, payload = state.reply(request)
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- protocol shapes ------------------------------------------------------------------------

GEMINI_KEY = "gk-SECRET-gemini-123"
XAI_KEY = "xk-SECRET-xai-456"
ISBNDB_KEY = "ik-SECRET-isbndb-789"


def gemini_answer(text: str) -> Reply:
    return 200, {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 50},
    }


def google_error(code: int, status: str, message: str) -> Reply:
    return code, {"error": {"code": code, "message": message, "status": status}}


def chat_answer(text: str) -> Reply:
    return 200, {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "grok-3-mini",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
    }


def isbndb_books(*books: dict[str, Any]) -> Reply:
    return 200, {"total": len(books), "books": list(books)}


def isbndb_book(title: str, isbn13: str, *authors: str) -> dict[str, Any]:
    return {
        "title": title,
        "title_long": title,
        "isbn": isbn13[3:],
        "isbn13": isbn13,
        "authors": list(authors),
        "date_published": "2024-03-05",
    }


def configs(
    url: str, *, gemini: bool = True, xai: bool = True, isbndb: bool = True, quota: int = 100
) -> dict[Provider, ProviderConfig]:
    return {
        Provider.GEMINI: ProviderConfig(
            Provider.GEMINI, GEMINI_KEY if gemini else "", f"{url}/v1beta", quota, "gemini-test", 5
        ),
        Provider.XAI: ProviderConfig(
            Provider.XAI, XAI_KEY if xai else "", f"{url}/xai/v1", quota, "grok-test", 5
        ),
        Provider.ISBNDB: ProviderConfig(
            Provider.ISBNDB, ISBNDB_KEY if isbndb else "", f"{url}/isbndb", quota, "", 5
        ),
    }


# --- a small catalogue the fakes answer from --------------------------------------------------

GEMINI_ROUTE = ":generateContent"
XAI_ROUTE = "/chat/completions"
ISBNDB_ROUTE = "/isbndb/books/"
THREE_BOOKS = json.dumps(
    [
        {"title": "James", "author": "Percival Everett"},
        {"title": "The Women", "author": "Kristin Hannah"},
        {"title": "Unfindable Book", "author": "Nobody"},
    ]
)


def isbndb_catalogue(request: Request) -> Reply:
    """Answer ISBNdb searches for two known books; 404 (ISBNdb's 'no results') otherwise."""
    if "James" in request.path:
        return isbndb_books(
            isbndb_book("James: A Novel", "9780385550369", "Everett, Percival"),
        )
    if "The Women" in request.path:
        return isbndb_books(
            isbndb_book("Unrelated", "9780000000001"),
            isbndb_book("The Women", "978-1-250-17863-3", "Hannah, Kristin"),
        )
    return 404, {"errorMessage": "Not Found"}


def provider_settings(url: str) -> dict[str, str]:
    """Return the BACKFILL_* settings pointing every provider at the fake server at `url`."""
    return {
        "BACKFILL_GEMINI_API_KEY": GEMINI_KEY,
        "BACKFILL_GEMINI_BASE_URL": f"{url}/v1beta",
        "BACKFILL_GEMINI_MODEL": "gemini-test",
        "BACKFILL_XAI_API_KEY": XAI_KEY,
        "BACKFILL_XAI_BASE_URL": f"{url}/xai/v1",
        "BACKFILL_ISBNDB_API_KEY": ISBNDB_KEY,
        "BACKFILL_ISBNDB_BASE_URL": f"{url}/isbndb",
    }
