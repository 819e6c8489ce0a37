"""Development settings in `BASE_DIR/.env`: written once by `make run`, loaded by manage.py.

Only `manage.py` loads the file (never wsgi/asgi, never the tests), and a variable already
set in the environment always wins over the file. Run `python -m controlplane.devenv init`
to write it; an existing file is never touched.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from dotenv import dotenv_values

BASE_DIR = Path(__file__).resolve().parent.parent
DOTENV_PATH = BASE_DIR / ".env"

# What settings falls back to in DEBUG when a secret is unset (refused outside DEBUG).
DEV_FALLBACK_SECRETS = {
    "SECRET_KEY": "dev-only-insecure-secret-key-do-not-use-in-production-0123456789",
    "JWT_SECRET": "dev-only-insecure-jwt-secret-0123456789abcdef",
    "CRON_SECRET": "dev-only-insecure-cron-secret-0123456789abcdef",
    "API_KEY_PEPPER": "dev-only-insecure-api-key-pepper-0123456789abc",
    "PROVISIONING_ENCRYPTION_KEY": "dev-only-insecure-provisioning-key-0123456789abc",
}

HEADER = """\
# Development settings, written once by `make run` (git-ignored; delete it to get new ones).
# manage.py loads this file; a variable already set in the environment wins over it.
# wsgi/asgi (production) never read it: set real secrets in the environment there.
"""


def dotenv_write(path: Path = DOTENV_PATH) -> bool:
    """Write a development `.env` with freshly generated secrets unless one exists."""
    lines = [HEADER, "DEBUG=1"]
    lines += [f"{name}={secrets.token_urlsafe(48)}" for name in DEV_FALLBACK_SECRETS]
    # Data made before this file existed was encrypted with the fixed development key.
    previous = DEV_FALLBACK_SECRETS["PROVISIONING_ENCRYPTION_KEY"]
    lines.append(f"PROVISIONING_ENCRYPTION_KEY_PREVIOUS={previous}")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")
    return True


def dotenv_load(path: Path = DOTENV_PATH) -> list[str]:
    """Set each variable of `path` the environment lacks; return the names set."""
    if not path.is_file():
        return []
    loaded = []
    for name, value in dotenv_values(path).items():
        if value is not None and name not in os.environ:
            os.environ[name] = value
            loaded.append(name)
    return loaded


def main(argv: list[str]) -> int:
    """Handle `python -m controlplane.devenv init [PATH]`."""
    if not argv or argv[0] != "init":
        print("usage: python -m controlplane.devenv init [PATH]", file=sys.stderr)
        return 2
    path = Path(argv[1]) if len(argv) > 1 else DOTENV_PATH
    if dotenv_write(path):
        print(f"Wrote development settings with new secrets to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
