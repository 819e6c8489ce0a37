"""A JSON parser with a size limit (413) and a nesting limit (400), which DRF lacks."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from controlplane.api.errors import PayloadTooLarge

# JSON strings (which may hold brackets) and the brackets outside them.
_STRING_OR_BRACKET = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Return whether arrays/objects in `body` nest deeper than `limit` (before parsing it)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


class LimitedJSONParser(JSONParser):
    """Parse JSON, reading no more than the configured size and nesting (DRF checks neither)."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(body) > limit:
            raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
        max_depth = settings.API_JSON_MAX_DEPTH
        if json_depth_exceeds(body, max_depth):
            raise ParseError(f"JSON nested deeper than {max_depth} levels.")
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {max_depth} levels.") from None
