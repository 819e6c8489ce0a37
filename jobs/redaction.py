"""Keep secrets out of what a job stores: last_error, attempt errors and tracebacks."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings

_SETTINGS_SECRETS = (
    "SECRET_KEY",
    "JWT_SECRET",
    "CRON_SECRET",
    "CRON_SECRET_PREVIOUS",
    "API_KEY_PEPPER",
    "EMAIL_HOST_PASSWORD",
)
REDACTED = "[redacted]"


def known_secrets() -> list[str]:
    """Return the configured secrets worth scrubbing (long enough to be unambiguous)."""
    values = [getattr(settings, name, "") for name in _SETTINGS_SECRETS]
    values.append(settings.DATABASES["default"].get("PASSWORD", ""))
    return [v for v in values if isinstance(v, str) and len(v) >= 6]


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """Return `text` with every known secret (and each of `extra`) replaced."""
    for secret in [*known_secrets(), *extra]:
        if secret and len(secret) >= 6:
            text = text.replace(secret, REDACTED)
    return text
