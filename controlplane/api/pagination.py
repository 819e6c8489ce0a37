"""Cursor pagination rendered in the API envelope: {"data": [...], "pagination": {"next": ...}}."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from rest_framework.pagination import CursorPagination
from rest_framework.response import Response


class EnvelopeCursorPagination(CursorPagination):
    """Page newest first; `next` is the opaque cursor to pass back as `?cursor=`."""

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200
    ordering = ("-created_at", "-id")

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
