"""The book-catalogue processor: ask Gemini (xAI as fallback) for a month's books, resolve ISBNs."""

from __future__ import annotations

import calendar
from collections.abc import Mapping

import httpx

from backfill.errors import ProcessorError, ProviderError, ProviderNotConfigured, QuotaExhausted
from backfill.models import PromptVariant, Provider
from backfill.parsing import BookCandidate, parse_book_candidates
from backfill.protocol import MonthResult, ProviderUsage
from backfill.providers import (
    GeminiClient,
    IsbndbClient,
    ProviderConfig,
    XaiClient,
    provider_configs,
)
from backfill.services import book_record, provider_quota_consume

LANGUAGE_MODELS = (Provider.GEMINI, Provider.XAI)
_ANSWER_SHAPE = (
    'Answer with JSON only: an array of objects with the string fields "title" and "author".'
)


def build_prompt(*, year: int, month: int, batch_size: int, prompt_variant: str) -> str:
    """Return the prompt asking for `batch_size` books of the month, worded per variant."""
    when = f"{calendar.month_name[month]} {year}"
    if prompt_variant == PromptVariant.CONTEMPORARY_NOTABLE:
        ask = (
            f"List {batch_size} notable books first published in {when} that received "
            "significant critical attention, awards or bestseller placement."
        )
    else:
        ask = f"List {batch_size} notable books first published in {when}."
    return f"{ask} Use the exact published title and the author's full name. {_ANSWER_SHAPE}"


class BookCatalogueProcessor:
    """Generate candidate books with a language model, then resolve each through ISBNdb."""

    def __init__(
        self,
        configs: Mapping[Provider, ProviderConfig] | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.configs = dict(configs) if configs is not None else provider_configs()
        self.transport = transport

    def process(
        self, *, year: int, month: int, batch_size: int, prompt_variant: str, usage: ProviderUsage
    ) -> MonthResult:
        """Store the month's resolved books; return how many were generated and resolved."""
        models = [self.configs[p] for p in LANGUAGE_MODELS if self.configs[p].configured]
        if not models:
            raise ProviderNotConfigured(
                "no language-model provider is configured "
                "(set BACKFILL_GEMINI_API_KEY or BACKFILL_XAI_API_KEY)"
            )
        isbndb_config = self.configs[Provider.ISBNDB]
        if not isbndb_config.configured:
            raise ProviderNotConfigured("ISBNdb is not configured (set BACKFILL_ISBNDB_API_KEY)")
        prompt = build_prompt(
            year=year, month=month, batch_size=batch_size, prompt_variant=prompt_variant
        )
        timeout = max(c.timeout for c in self.configs.values())
        with httpx.Client(
            timeout=timeout, follow_redirects=False, transport=self.transport
        ) as http:
            candidates, source = self._generate(http, models, prompt, batch_size, usage)
            isbndb = IsbndbClient(isbndb_config, http)
            resolved = 0
            for candidate in candidates:
                self._spend(isbndb_config, usage)
                match = isbndb.search(title=candidate.title, author=candidate.author)
                if match is None:
                    continue
                book_record(
                    title=match.title or candidate.title,
                    author=match.author or candidate.author,
                    isbn=match.isbn,
                    year=year,
                    month=month,
                    source=source,
                )
                resolved += 1
        return MonthResult(books_generated=len(candidates), isbns_resolved=resolved)

    def _generate(
        self,
        http: httpx.Client,
        models: list[ProviderConfig],
        prompt: str,
        batch_size: int,
        usage: ProviderUsage,
    ) -> tuple[list[BookCandidate], Provider]:
        """Return candidates from the first model that gives usable ones, and which model it was."""
        errors: list[ProcessorError] = []
        exhausted: list[str] = []
        for config in models:
            generator: GeminiClient | XaiClient = (
                GeminiClient(config, http)
                if config.provider == Provider.GEMINI
                else XaiClient(config, http)
            )
            try:
                self._spend(config, usage)
                candidates = parse_book_candidates(generator.generate(prompt), limit=batch_size)
                if not candidates:
                    raise ProviderError(config.provider, "the answer held no usable books")
                return candidates, config.provider
            except QuotaExhausted as exc:
                errors.append(exc)
                exhausted.append(exc.provider)
            except ProcessorError as exc:
                errors.append(exc)
        # Only when every model is out of quota does the month wait; otherwise it is an error.
        if len(exhausted) == len(errors):
            raise QuotaExhausted("+".join(exhausted), "; ".join(str(e) for e in errors))
        raise ProviderError("language models", "; ".join(str(e) for e in errors))

    def _spend(self, config: ProviderConfig, usage: ProviderUsage) -> None:
        """Take one call from the provider's daily quota and count it; raise when none is left."""
        if not provider_quota_consume(provider=config.provider, limit=config.daily_quota):
            raise QuotaExhausted(
                config.provider, f"daily quota of {config.daily_quota} calls used up"
            )
        usage.count(config.provider)
