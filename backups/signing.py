"""Signed, expiring download links for backup files (django.core.signing)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core import signing
from django.urls import reverse

_SALT = "backups.download.v1"


@dataclass(frozen=True)
class DownloadLink:
    """A path (and absolute URL when a base is configured) that expires at `expires_at`."""

    path: str
    expires_at: datetime

    def absolute(self, base: str | None = None) -> str:
        """Return the link prefixed with `base` or BACKUPS_PUBLIC_URL (the path if neither)."""
        base = (base if base is not None else settings.BACKUPS_PUBLIC_URL).rstrip("/")
        return f"{base}{self.path}"


@dataclass(frozen=True)
class DownloadGrant:
    """What a valid token allows: one backup, issued to `issued_to`."""

    backup_id: str
    issued_to: str


def download_link_issue(
    *, backup_id: str, issued_to: str, ttl: int | None = None, now: float | None = None
) -> DownloadLink:
    """Return a link that lets its holder download the backup until it expires."""
    ttl = settings.BACKUPS_DOWNLOAD_TTL if ttl is None else ttl
    expires = int((time.time() if now is None else now) + ttl)
    token = signing.dumps({"b": str(backup_id), "e": expires, "by": issued_to}, salt=_SALT)
    return DownloadLink(
        path=reverse("backups:file", kwargs={"token": token}),
        expires_at=datetime.fromtimestamp(expires, tz=UTC),
    )


def download_token_read(token: str, *, now: float | None = None) -> DownloadGrant | None:
    """Return the grant in `token`, or None when it is tampered with or expired."""
    try:
        payload = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("e"), int):
        return None
    if (time.time() if now is None else now) >= payload["e"]:
        return None
    return DownloadGrant(backup_id=str(payload.get("b")), issued_to=str(payload.get("by", "")))
