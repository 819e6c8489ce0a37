"""Errors a processor raises to steer what happens to its month, and secret scrubbing."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from jobs.errors import PermanentJobError

REDACTED = "[redacted]"
# Credentials that may sit in a URL's query string or a header echoed back in an error.
_CREDENTIAL_PARAM = re.compile(
    r"(?i)\b(key|api[_-]?key|token|access_token|x-goog-api-key|authorization)"
    r"(\s*[=:]\s*)(bearer\s+)?[^\s&'\"]+"
)


class MalformedPayload(PermanentJobError, ValueError):
    """A `backfill_month` payload that no attempt could ever process."""


class ProcessorError(Exception):
    """A month could not be processed this time; it is retried later."""


class PermanentProcessorError(ProcessorError, PermanentJobError):
    """A month cannot be processed until someone changes the configuration."""


class ProviderNotConfigured(PermanentProcessorError):
    """No API key is configured for any provider this processor needs."""


class ProviderError(ProcessorError):
    """A provider answered with an error, or with nothing usable."""

    def __init__(self, provider: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.status = status


class QuotaExhausted(ProcessorError):
    """A provider's daily quota (ours or theirs) is used up: the month waits, not a failure."""

    def __init__(self, provider: str, message: str = "") -> None:
        super().__init__(f"{provider}: quota exhausted{': ' + message if message else ''}")
        self.provider = provider


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Return `text` with every secret (raw or URL-encoded) and credential parameter redacted."""
    for secret in secrets:
        if not secret:
            continue
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, REDACTED)
    return _CREDENTIAL_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
