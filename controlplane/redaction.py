"""The one way secrets are kept out of logs and stored text (job errors, attempts, audit rows).

The secrets are every setting named `*_KEY`, `*_SECRET`, `*_TOKEN`, `*_PASSWORD` or
`*_PEPPER` (and their `*_PREVIOUS`), the database and Redis passwords, each in plain,
URL-encoded and JSON-escaped form; plus credentials that sit in URLs and auth headers.
`RedactingFilter` applies it to every log handler (settings.LOGGING).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

from django.conf import settings

REDACTED = "[redacted]"
# Shorter values would match ordinary words; no real secret is this short.
MIN_SECRET_LENGTH = 6
_SECRET_NAME = re.compile(r"^[A-Z0-9_]*(_KEY|_SECRET|_TOKEN|_PASSWORD|_PEPPER)(_PREVIOUS)?$")
# Named like secrets, but public values (a dotted path, a public key).
_NOT_SECRET = frozenset({"RATELIMIT_IP_META_KEY", "JWT_VERIFYING_KEY"})
# Credentials in a URL's query string, URL userinfo, and auth headers echoed in an error.
_QUERY_CREDENTIAL = re.compile(
    r"(?i)([?&;](?:key|api[_-]?key|token|access_token|password|secret|signature)=)[^\s&'\"]+"
)
_URL_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@")
# Looser, for text from third parties (a provider's error echoing a request): any value
# after a credential word, `key: sk-…` or `token=abc` alike.
_CREDENTIAL_WORD = re.compile(
    r"(?i)\b(key|api[_-]?key|token|access_token|x-goog-api-key|authorization|password|secret)"
    r"(\s*[=:]\s*)(bearer\s+)?[^\s&'\"]+"
)
_AUTH_HEADER = re.compile(
    r"(?i)\b(authorization|proxy-authorization|x-goog-api-key|x-api-key|x-cron-secret)"
    r"(\s*[=:]\s*)(bearer\s+|basic\s+|token\s+)?[^\s&'\",]+"
)


def _url_password(url: str) -> str:
    try:
        return unquote(urlsplit(url).password or "")
    except ValueError:
        return ""


def secret_setting_names() -> list[str]:
    """Return the names of the settings holding secrets (by the naming rule above)."""
    return sorted(
        name for name in dir(settings) if _SECRET_NAME.match(name) and name not in _NOT_SECRET
    )


@functools.lru_cache(maxsize=1)
def _forms() -> tuple[str, ...]:
    values = [getattr(settings, name, "") for name in secret_setting_names()]
    for alias in settings.DATABASES.values():
        values.append(alias.get("PASSWORD") or "")
    for name in ("DATABASE_URL", "REDIS_URL"):
        values.append(_url_password(str(getattr(settings, name, "") or "")))
    forms: set[str] = set()
    for value in values:
        if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
            forms.update(_variants(value))
    # Longest first, so a secret containing another is replaced whole.
    return tuple(sorted(forms, key=len, reverse=True))


def _variants(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}


def forget_secrets(**_: Any) -> None:
    """Drop the remembered secret values (on `setting_changed`, so tests can set canaries)."""
    _forms.cache_clear()


def redact(text: str, extra: Iterable[str] = (), *, credential_words: bool = False) -> str:
    """Return `text` with every known secret, each of `extra` and credentials in URLs replaced.

    `credential_words` also replaces any value after a word like `key`, `token` or
    `password` (for third parties' error text; too eager for our own log lines).
    """
    if not text:
        return text
    forms = list(_forms())
    for secret in extra:
        if secret and len(secret) >= MIN_SECRET_LENGTH:
            forms.extend(_variants(secret))
    for form in sorted(set(forms), key=len, reverse=True):
        if form in text:
            text = text.replace(form, REDACTED)
    text = _QUERY_CREDENTIAL.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    if credential_words:
        text = _CREDENTIAL_WORD.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


def redact_data(value: Any) -> Any:
    """Return a JSON-like value with every string in it redacted (for audit details)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """Redact a record's message, exception and stack text before any handler formats it."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw template
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record._redacted = True
        return True
