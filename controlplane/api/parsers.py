"""A JSON parser that refuses bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (413)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.parsers import JSONParser

from controlplane.api.errors import PayloadTooLarge


class LimitedJSONParser(JSONParser):
    """Parse JSON, reading no more than the configured limit (DRF skips Django's check)."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None:
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
            stream = io.BytesIO(body)
        return super().parse(stream, media_type, parser_context)
