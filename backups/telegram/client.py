"""A small Telegram Bot API client: retries, rate limits, and a token kept out of every message.

The token is part of every Bot API URL (`/bot<token>/<method>`), so no URL, request or
httpx exception text leaves this module: errors are built from Telegram's own
`description`, with the token scrubbed from it too, and raised `from None`.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from backups.errors import TelegramError, TelegramRefused

logger = logging.getLogger("backups")

# 401/403/404 mean a bad token (or a bot removed from the chat); 400 a bad request such as
# an unknown chat; 413 a part larger than the server accepts. Retrying cannot help.
_PERMANENT = {400, 401, 403, 404, 413}
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """How long one request keeps trying before it gives up."""

    max_retries: int = 5
    max_retry_after: float = 300.0  # a longer rate-limit wait fails the attempt instead

    def backoff(self, attempt: int) -> float:
        """Return the pause before retry `attempt` (1-based): exponential with full jitter."""
        cap = min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** (attempt - 1))
        return random.uniform(0, cap)  # noqa: S311 -- jitter, not a secret


class BotApiError(Exception):
    """One refused call: Telegram's error code and description (never the URL)."""

    def __init__(self, code: int, description: str, retry_after: float | None = None) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.retry_after = retry_after


class BotApi:
    """Call Bot API methods of one bot, retrying what is worth retrying."""

    def __init__(
        self,
        *,
        token: str,
        base_url: str = "https://api.telegram.org",
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not token:
            raise TelegramRefused("TELEGRAM_BOT_TOKEN is not set.")
        self._token = token
        self._base = base_url.rstrip("/")
        self._retry = retry or RetryPolicy()
        self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def scrub(self, text: str) -> str:
        """Return `text` with the token replaced."""
        return text.replace(self._token, "<token>") if self._token else text

    def _method_url(self, method: str) -> str:
        return f"{self._base}/bot{self._token}/{method}"

    def call(
        self,
        method: str,
        *,
        data: dict[str, Any] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> Any:
        """Call `method` and return its `result`; raise TelegramRefused or TelegramError."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.post(self._method_url(method), data=data, files=files)
                return _result(response)
            except (BotApiError, httpx.HTTPError) as exc:
                self._pause_or_raise(method, attempt, exc)

    def iter_file(self, file_path: str) -> Iterator[bytes]:
        """Yield a file's bytes from `getFile`'s `file_path`, resuming after a dropped stream."""
        got = 0
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._download(file_path, skip=got) as chunks:
                    for chunk in chunks:
                        got += len(chunk)
                        yield chunk
                return
            except (BotApiError, httpx.HTTPError) as exc:
                self._pause_or_raise("file download", attempt, exc)

    def _pause_or_raise(self, method: str, attempt: int, exc: Exception) -> None:
        """Sleep before the next try, or raise the error that ends this attempt."""
        if isinstance(exc, BotApiError):
            problem = self.scrub(exc.description)
            if exc.code == 429 and exc.retry_after is not None:
                if exc.retry_after > self._retry.max_retry_after:
                    raise TelegramError(
                        f"Telegram {method}: rate limited for {exc.retry_after:g} s, longer "
                        "than BACKUPS_TELEGRAM_MAX_RETRY_AFTER; the job will retry later."
                    ) from None
                pause = exc.retry_after
            elif exc.code in _PERMANENT:
                raise TelegramRefused(self._refusal(method, exc.code, problem)) from None
            else:
                pause = self._retry.backoff(attempt)
            problem = f"{exc.code} {problem}"
        else:
            problem = type(exc).__name__
            pause = self._retry.backoff(attempt)
        if attempt > self._retry.max_retries:
            raise TelegramError(
                f"Telegram {method} failed {attempt} times "
                f"(BACKUPS_TELEGRAM_MAX_RETRIES); last: {problem}"
            ) from None
        logger.warning(
            "telegram %s: %s; retry %d of %d in %.1f s",
            method,
            problem,
            attempt,
            self._retry.max_retries,
            pause,
        )
        time.sleep(pause)

    def _refusal(self, method: str, code: int, problem: str) -> str:
        if code in (401, 404):
            return (
                f"Telegram refused {method} ({code} {problem}): "
                "check TELEGRAM_BOT_TOKEN (and TELEGRAM_API_BASE_URL)."
            )
        if code == 403:
            return f"Telegram refused {method} ({code} {problem}): is the bot in the chat?"
        if code == 413:
            return (
                f"Telegram refused {method} ({code} {problem}): a part is larger than the "
                "server accepts; lower BACKUPS_TELEGRAM_PART_BYTES."
            )
        return f"Telegram refused {method} ({code} {problem})."

    @contextlib.contextmanager
    def _download(self, file_path: str, *, skip: int = 0) -> Iterator[Iterator[bytes]]:
        """Yield the bytes of a file from `getFile`'s `file_path`, streamed, from `skip` on."""
        url = f"{self._base}/file/bot{self._token}/{file_path}"
        headers = {"Range": f"bytes={skip}-"} if skip else {}
        with self._http.stream("GET", url, headers=headers) as response:
            if response.status_code >= 400:
                response.read()
                _result(response)  # raises BotApiError with Telegram's description
            if skip and response.status_code != 206:
                yield _skipping(response.iter_bytes(), skip)
            else:
                yield response.iter_bytes()


def _skipping(chunks: Iterator[bytes], skip: int) -> Iterator[bytes]:
    for chunk in chunks:
        if skip >= len(chunk):
            skip -= len(chunk)
            continue
        yield chunk[skip:]
        skip = 0


def _result(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("ok") is True:
        return body.get("result")
    if isinstance(body, dict):
        params = body.get("parameters") or {}
        retry_after = params.get("retry_after") if isinstance(params, dict) else None
        raise BotApiError(
            int(body.get("error_code") or response.status_code),
            str(body.get("description") or "no description")[:300],
            float(retry_after) if isinstance(retry_after, int | float) else None,
        )
    raise BotApiError(response.status_code, f"HTTP {response.status_code} without a JSON body")
