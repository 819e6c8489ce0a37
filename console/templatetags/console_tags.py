"""Template filters of the console's pages: the shared status badge and exact times."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils.safestring import SafeString

from controlplane.admin_helpers import exact_time, status_badge

register = template.Library()


@register.filter
def badge(obj: Any) -> SafeString | str:
    """Render a row's status (anything with `status` and `get_status_display`) as a badge."""
    if obj is None:
        return "—"
    return status_badge(obj.status, obj.get_status_display())


@register.filter
def exact(value: datetime | None) -> SafeString | str:
    """Render a time with seconds and how long ago (or until) it is."""
    return exact_time(value)
