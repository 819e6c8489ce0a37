"""A local fake of the Telegram Bot API (real HTTP on 127.0.0.1) for the storage's tests.

It speaks the documented shapes: `POST /bot<token>/<method>` with form or multipart
bodies, answers `{"ok": true, "result": ...}` or `{"ok": false, "error_code",
"description", "parameters": {"retry_after"}}`, and serves files at
`/file/bot<token>/<file_path>`. Like the real one, it answers a bad token with 401, an
unknown chat with 400, a document over its upload limit with 413, and keeps answering 429
until `retry_after` has passed.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class FakeBotApi:
    token: str
    chat_id: str
    max_upload: int = 50 * 1024 * 1024
    files: dict[str, bytes] = field(default_factory=dict)
    messages: dict[int, str] = field(default_factory=dict)  # message_id -> file_id
    undeletable: set[int] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)  # method names, in order
    raw_paths: list[str] = field(default_factory=list)
    rate_limit_next: int = 0  # answer this many more calls with 429
    retry_after: int = 1
    fail_next: int = 0  # answer this many more calls with 502
    url: str = ""
    on_send: Callable[[bytes], None] | None = None  # sees each document as it arrives
    _blocked_until: float = 0.0
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1000))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def rate_limited(self) -> tuple[int, dict[str, Any]] | None:
        with self._lock:
            now = time.monotonic()
            if now < self._blocked_until:  # came back too early: still limited
                left = max(1, int(self._blocked_until - now + 0.999))
                return 429, _error(429, f"Too Many Requests: retry after {left}", left)
            if self.rate_limit_next > 0:
                self.rate_limit_next -= 1
                self._blocked_until = now + self.retry_after
                return 429, _error(
                    429, f"Too Many Requests: retry after {self.retry_after}", self.retry_after
                )
            if self.fail_next > 0:
                self.fail_next -= 1
                return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        return None

    def handle(self, method: str, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.calls.append(method)
        limited = self.rate_limited()
        if limited:
            return limited
        if method == "getFile":
            file_id = form.get("file_id", "")
            if file_id not in self.files:
                return 400, _error(400, "Bad Request: invalid file_id")
            result = {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_size": len(self.files[file_id]),
                "file_path": f"documents/{file_id}.bin",
            }
            return 200, {"ok": True, "result": result}
        if form.get("chat_id") != self.chat_id:
            return 400, _error(400, "Bad Request: chat not found")
        if method == "sendDocument":
            document = form.get("document")
            if not isinstance(document, tuple):
                return 400, _error(400, "Bad Request: there is no document in the request")
            filename, data = document
            if len(data) > self.max_upload:
                return 413, _error(413, "Request Entity Too Large")
            if not data:
                return 400, _error(400, "Bad Request: file must be non-empty")
            if self.on_send is not None:
                self.on_send(data)
            file_id = f"F{uuid.uuid4().hex}"
            message_id = next(self._ids)
            self.files[file_id] = data
            self.messages[message_id] = file_id
            result = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": int(self.chat_id), "type": "channel"},
                "document": {
                    "file_name": filename,
                    "mime_type": "application/octet-stream",
                    "file_id": file_id,
                    "file_unique_id": f"u{file_id}",
                    "file_size": len(data),
                },
            }
            return 200, {"ok": True, "result": result}
        if method == "deleteMessage":
            message_id = int(form.get("message_id", "0"))
            if message_id in self.undeletable:
                return 400, _error(400, "Bad Request: message can't be deleted")
            if message_id not in self.messages:
                return 400, _error(400, "Bad Request: message to delete not found")
            self.files.pop(self.messages.pop(message_id), None)
            return 200, {"ok": True, "result": True}
        return 404, _error(404, "Not Found")


def _error(code: int, description: str, retry_after: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return body


def _multipart(body: bytes, content_type: str) -> dict[str, Any]:
    boundary = content_type.split("boundary=", 1)[1].strip().strip('"').encode()
    form: dict[str, Any] = {}
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk[2:].partition(b"\r\n\r\n")
        data = data[:-2]  # the CRLF before the next boundary
        disposition = next(
            line for line in head.decode().split("\r\n") if line.lower().startswith("content-")
        )
        params = dict(p.strip().split("=", 1) for p in disposition.split(";")[1:] if "=" in p)
        name = params["name"].strip('"')
        if "filename" in params:
            form[name] = (params["filename"].strip('"'), data)
        else:
            form[name] = data.decode()
    return form


def _handler(api: FakeBotApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, json.dumps(body).encode(), "application/json")

        def _token_ok(self, prefix: str) -> str | None:
            path = urlsplit(self.path).path
            api.raw_paths.append(path)
            if not path.startswith(prefix):
                return None
            token, _, rest = path[len(prefix) :].partition("/")
            return rest if token == api.token else None

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            method = self._token_ok("/bot")
            if method is None:
                self._json(401, _error(401, "Unauthorized"))
                return
            ctype = self.headers.get("Content-Type", "")
            if ctype.startswith("multipart/form-data"):
                form = _multipart(body, ctype)
            else:
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            status, answer = api.handle(method, form)
            self._json(status, answer)

        def do_GET(self) -> None:
            rest = self._token_ok("/file/bot")
            if rest is None:
                self._json(401, _error(401, "Unauthorized"))
                return
            limited = api.rate_limited()
            if limited:
                self._json(*limited)
                return
            file_id = rest.removeprefix("documents/").removesuffix(".bin")
            if file_id not in api.files:
                self._json(404, _error(404, "Not Found"))
                return
            self._send(200, api.files[file_id], "application/octet-stream")

    return Handler


@contextmanager
def fake_bot_api(*, token: str, chat_id: str = "-1001234567890", **kw: Any) -> Iterator[FakeBotApi]:
    """Run a fake Bot API on 127.0.0.1 (a free port); yield its state, `url` set."""
    api = FakeBotApi(token=token, chat_id=chat_id, **kw)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
