"""HTTP clients for Gemini, xAI (OpenAI-compatible) and ISBNdb; errors never carry a key or URL."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings

from backfill.errors import ProviderError, QuotaExhausted
from backfill.models import Provider
from controlplane.redaction import redact

MAX_ERROR_DETAIL = 300
_ISBN = re.compile(r"^([0-9]{9}[0-9X]|[0-9]{13})$")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class ProviderConfig:
    provider: Provider
    api_key: str = field(repr=False)
    base_url: str
    daily_quota: int
    model: str = ""
    timeout: float = 30.0

    @property
    def configured(self) -> bool:
        return bool(self.api_key and self.base_url)


def provider_configs() -> dict[Provider, ProviderConfig]:
    """Return each provider's configuration from settings (BACKFILL_<PROVIDER>_*)."""
    timeout = float(settings.BACKFILL_HTTP_TIMEOUT)
    return {
        Provider.GEMINI: ProviderConfig(
            Provider.GEMINI,
            settings.BACKFILL_GEMINI_API_KEY,
            settings.BACKFILL_GEMINI_BASE_URL,
            settings.BACKFILL_GEMINI_DAILY_QUOTA,
            settings.BACKFILL_GEMINI_MODEL,
            timeout,
        ),
        Provider.XAI: ProviderConfig(
            Provider.XAI,
            settings.BACKFILL_XAI_API_KEY,
            settings.BACKFILL_XAI_BASE_URL,
            settings.BACKFILL_XAI_DAILY_QUOTA,
            settings.BACKFILL_XAI_MODEL,
            timeout,
        ),
        Provider.ISBNDB: ProviderConfig(
            Provider.ISBNDB,
            settings.BACKFILL_ISBNDB_API_KEY,
            settings.BACKFILL_ISBNDB_BASE_URL,
            settings.BACKFILL_ISBNDB_DAILY_QUOTA,
            "",
            timeout,
        ),
    }


class _Client:
    """Send one request, turning every failure into ProviderError/QuotaExhausted, keys scrubbed."""

    def __init__(self, config: ProviderConfig, http: httpx.Client) -> None:
        self.config = config
        self.http = http

    @property
    def name(self) -> str:
        return str(self.config.provider)

    def _url(self, path: str) -> str:
        return self.config.base_url.rstrip("/") + path

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, self._url(path), **kwargs)
        except httpx.TimeoutException:
            # `from None`: the chained httpx error names the URL (and any key in it).
            raise ProviderError(self.name, "request timed out") from None
        except httpx.HTTPError as exc:
            raise ProviderError(self.name, f"transport error ({type(exc).__name__})") from None
        if response.status_code == 429:
            raise QuotaExhausted(self.name, "HTTP 429 " + self._detail(response))
        if response.status_code >= 400:
            raise ProviderError(
                self.name,
                f"HTTP {response.status_code} {self._detail(response)}".strip(),
                status=response.status_code,
            )
        return response

    def _detail(self, response: httpx.Response) -> str:
        """Return the provider's error message (scrubbed, short), or ''."""
        try:
            body = response.json()
        except ValueError:
            return ""
        message: Any = ""
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, dict):
                message = error.get("message") or error.get("status") or ""
            else:
                message = error or body.get("errorMessage") or body.get("message") or ""
        return redact(str(message), [self.config.api_key], credential_words=True)[:MAX_ERROR_DETAIL]

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ProviderError(self.name, "response is not JSON") from None


class GeminiClient(_Client):
    """Gemini `models/{model}:generateContent`, the key in the x-goog-api-key header."""

    def generate(self, prompt: str) -> str:
        """Return the text of the first candidate's answer to `prompt`."""
        body = {
            "contents": [{"role": "user", "parts": [{"text": prompt}]}],
            "generationConfig": {"responseMimeType": "application/json", "temperature": 0.2},
        }
        model = quote(self.config.model, safe="-._")
        response = self._send(
            "POST",
            f"/models/{model}:generateContent",
            json=body,
            headers={"x-goog-api-key": self.config.api_key},
        )
        data = self._json(response)
        try:
            parts = data["candidates"][0]["content"]["parts"]
            return "".join(p["text"] for p in parts if isinstance(p.get("text"), str))
        except (KeyError, IndexError, TypeError, AttributeError):
            blocked = data.get("promptFeedback", {}) if isinstance(data, dict) else {}
            reason = blocked.get("blockReason", "") if isinstance(blocked, dict) else ""
            raise ProviderError(self.name, f"no answer in response {reason}".strip()) from None


class XaiClient(_Client):
    """xAI's OpenAI-compatible `chat/completions`, the key as a bearer token."""

    def generate(self, prompt: str) -> str:
        """Return the assistant message's content for `prompt`."""
        body = {
            "model": self.config.model,
            "messages": [
                {"role": "system", "content": "You answer with JSON only, no prose."},
                {"role": "user", "content": prompt},
            ],
            "temperature": 0.2,
        }
        response = self._send(
            "POST",
            "/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {self.config.api_key}"},
        )
        data = self._json(response)
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ProviderError(self.name, "no answer in response") from None
        if not isinstance(content, str):
            raise ProviderError(self.name, "answer is not text")
        return content


@dataclass(frozen=True)
class IsbnMatch:
    isbn: str
    title: str
    author: str


class IsbndbClient(_Client):
    """ISBNdb `GET /books/{query}`, the key in the Authorization header."""

    def search(self, *, title: str, author: str) -> IsbnMatch | None:
        """Return the best match for the book, or None when ISBNdb knows no such title."""
        query = quote(f"{title} {author}".strip()[:200], safe="")
        try:
            response = self._send(
                "GET",
                f"/books/{query}",
                params={"page": 1, "pageSize": 10},
                headers={"Authorization": self.config.api_key},
            )
        except ProviderError as exc:
            if exc.status == 404:
                return None
            raise
        data = self._json(response)
        books = data.get("books") if isinstance(data, dict) else None
        if not isinstance(books, list):
            return None
        return _best_match(books, title=title)


def normalise_isbn(raw: Any) -> str | None:
    """Return the ISBN with separators removed, or None unless it is a 10- or 13-digit ISBN."""
    if not isinstance(raw, str):
        return None
    isbn = raw.replace("-", "").replace(" ", "").upper()
    return isbn if _ISBN.fullmatch(isbn) else None


def _fold(text: str) -> str:
    return _NON_ALNUM.sub(" ", text.casefold()).strip()


def _best_match(books: list[Any], *, title: str) -> IsbnMatch | None:
    """Return the first result whose title matches `title` and that carries a valid ISBN."""
    wanted = _fold(title)
    for book in books:
        if not isinstance(book, dict) or not isinstance(book.get("title"), str):
            continue
        found = _fold(book["title"])
        # Whole words only: "It" must not match "The Kite Runner".
        if (
            not wanted
            or not found
            or (f" {wanted} " not in f" {found} " and f" {found} " not in f" {wanted} ")
        ):
            continue
        isbn = normalise_isbn(book.get("isbn13")) or normalise_isbn(book.get("isbn"))
        if isbn is None:
            continue
        authors = book.get("authors")
        author = (
            ", ".join(a for a in authors if isinstance(a, str)) if isinstance(authors, list) else ""
        )
        return IsbnMatch(isbn=isbn, title=book["title"][:500], author=author[:300])
    return None
