"""Cursor pagination rendered in the API envelope: {"data": [...], "pagination": {"next": ...}}."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

INVALID_CURSOR = "The cursor is not valid: pass back `pagination.next` unchanged."


class EnvelopeCursorPagination(CursorPagination):
    """Page newest first; `next` is the opaque cursor to pass back as `?cursor=`."""

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200
    ordering = ("-created_at", "-id")

    def decode_cursor(self, request: Request) -> Cursor | None:
        """Return the cursor of `?cursor=`; anything but one we issued is a 400."""
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
        # The position is the created_at of a row: anything else would reach the database.
        if cursor is not None and cursor.position is not None:
            try:
                valid = parse_datetime(str(cursor.position)) is not None
            except ValueError:
                valid = False
            if not valid:
                raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]})
        return cursor

    def get_page_size(self, request: Request) -> int:
        """Return `?limit=` (1-200); a limit that is not such a number is a 400."""
        raw = request.query_params.get(self.page_size_query_param or "limit")
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {"limit": [f"limit must be a whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def next_cursor(self) -> str | None:
        """Return the cursor of the next page, or None on the last page."""
        link = self.get_next_link()
        if not link:
            return None
        values = parse_qs(urlsplit(link).query).get(self.cursor_query_param)
        return values[0] if values else None

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"data": data, "pagination": {"next": self.next_cursor()}})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["data", "pagination"],
            "properties": {
                "data": schema,
                "pagination": {
                    "type": "object",
                    "properties": {"next": {"type": "string", "nullable": True}},
                },
            },
        }
