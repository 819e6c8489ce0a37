"""The client's IP address, as rate limits and login lockouts count it.

`X-Forwarded-For` is believed only as far as TRUSTED_PROXIES allows: a number of proxies in
front of the app (each appends the address it saw), or the proxies' own addresses/networks.
Without it the peer address is the client, whatever the header says.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from django.http import HttpRequest

# Where a request's address is unknown (a unix socket with no trusted proxy): one shared bucket.
UNKNOWN_CLIENT = "0.0.0.0"  # noqa: S104 (a placeholder address, never bound)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _parse_trusted(value: str) -> int | tuple[Network, ...]:
    """Return the number of trusted proxies, or their networks (TRUSTED_PROXIES)."""
    value = value.strip()
    if not value:
        return 0
    if value.isdigit():
        return int(value)
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in value.split(","))


def trusted_proxies_problem(value: str) -> str | None:
    """Return why a TRUSTED_PROXIES value is unusable, or None."""
    try:
        _parse_trusted(value)
    except ValueError as exc:
        return f"TRUSTED_PROXIES must be a number of proxies or a list of addresses: {exc}"
    return None


def _address(text: str) -> str | None:
    text = text.strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _is_trusted(address: str | None, trusted: tuple[Network, ...]) -> bool:
    # An empty peer is a unix socket: only a process on this host can be at its other end.
    if address is None:
        return True
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in trusted)


def client_ip(request: HttpRequest) -> str:
    """Return the client's address: the peer's, or the one the trusted proxies forwarded."""
    peer = _address(request.META.get("REMOTE_ADDR") or "")
    trusted = _parse_trusted(settings.TRUSTED_PROXIES)
    if not trusted or (peer is None and not request.META.get("HTTP_X_FORWARDED_FOR")):
        return peer or UNKNOWN_CLIENT
    forwarded = [_address(item) for item in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    # Nearest hop last: the header as the proxies appended to it, then the peer itself.
    chain = [*forwarded, peer]
    if isinstance(trusted, int):
        # The last `trusted` hops are our proxies; the one before them is the client.
        candidate = chain[-(trusted + 1)] if len(chain) > trusted else chain[0]
        return candidate or peer or UNKNOWN_CLIENT
    for hop in reversed(chain):
        if not _is_trusted(hop, trusted):
            return hop or UNKNOWN_CLIENT
    return next((hop for hop in chain if hop), UNKNOWN_CLIENT)
