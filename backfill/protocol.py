"""The contract between the month consumer and a pluggable processor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from backfill.models import Provider


@dataclass
class ProviderUsage:
    """External calls made while processing a month, counted even when the month fails."""

    gemini_calls: int = 0
    xai_calls: int = 0
    isbndb_calls: int = 0

    def count(self, provider: Provider) -> None:
        """Count one call to `provider`."""
        attribute = f"{provider.value}_calls"
        setattr(self, attribute, getattr(self, attribute) + 1)


@dataclass(frozen=True)
class MonthResult:
    books_generated: int
    isbns_resolved: int


class MonthProcessor(Protocol):
    """Process one month; raise backfill.errors types to steer the month's next state."""

    def process(
        self, *, year: int, month: int, batch_size: int, prompt_variant: str, usage: ProviderUsage
    ) -> MonthResult: ...
