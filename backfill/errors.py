"""Errors a processor raises to steer what happens to its month."""

from __future__ import annotations

from jobs.errors import PermanentJobError


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
