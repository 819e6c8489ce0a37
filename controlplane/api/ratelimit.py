"""Rate limits on django-ratelimit's counters, refused in the API's own envelope."""

from __future__ import annotations

from django_ratelimit.core import get_usage
from rest_framework.request import Request

from controlplane.api.errors import RateLimited


def enforce_rate_limit(request: Request, *, group: str, key: str, rate: str) -> None:
    """Count this request against `rate` for `key`; raise RateLimited (429) past it.

    `key` is anything django-ratelimit accepts ("ip", "header:x", a callable path).
    The counter lives in the shared cache, so every process sees the same count.
    """
    usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
    if usage is not None and usage["should_limit"]:
        raise RateLimited(retry_after=usage["time_left"])
