"""Development settings in `.env`: written once, loaded by manage.py only, never overriding."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dotenv import dotenv_values

from controlplane.devenv import DEV_FALLBACK_SECRETS, dotenv_write
from controlplane.management.commands.rundev import served_url
from tests.conftest import PROJECT_ROOT

SHOW = (
    "import os; print(os.environ['DEBUG'], os.environ['LOG_LEVEL'], len(os.environ['JWT_SECRET']))"
)


def test_dotenv_write__generates_strong_secrets_once(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    assert dotenv_write(path) is True
    first = dotenv_values(path)
    assert first["DEBUG"] == "1" and path.stat().st_mode & 0o777 == 0o600
    for name, fallback in DEV_FALLBACK_SECRETS.items():
        assert first[name] and first[name] != fallback and len(first[name].encode()) >= 50
    assert dotenv_write(path) is False  # an existing file is never touched
    assert dotenv_values(path) == first


def manage(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a copy of manage.py whose BASE_DIR (its folder) is `tmp_path`."""
    shutil.copy(PROJECT_ROOT / "manage.py", tmp_path / "manage.py")
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", *DEV_FALLBACK_SECRETS}}
    return subprocess.run(
        [sys.executable, str(tmp_path / "manage.py"), *args],
        env={**clean, "PYTHONPATH": str(PROJECT_ROOT), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_manage__loads_dotenv_without_overriding_the_environment(tmp_path: Path) -> None:
    dotenv_write(tmp_path / ".env")
    with open(tmp_path / ".env", "a") as out:
        out.write("LOG_LEVEL=DEBUG\n")
    result = manage(tmp_path, "shell", "-v", "0", "-c", SHOW, env={"LOG_LEVEL": "WARNING"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "WARNING", "64"]
    # The log line names what was loaded, never a value.
    assert "loaded DEBUG, SECRET_KEY, JWT_SECRET" in result.stderr
    assert str(tmp_path / ".env") in result.stderr and "LOG_LEVEL" not in result.stderr
    secret = dotenv_values(tmp_path / ".env")["JWT_SECRET"]
    assert secret and secret not in result.stderr + result.stdout


def test_manage__without_dotenv_refuses_missing_secrets(tmp_path: Path) -> None:
    result = manage(tmp_path, "check", env={})
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    ("addrport", "url"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("8001", "http://127.0.0.1:8001"),
        ("0.0.0.0:9000", "http://127.0.0.1:9000"),
        ("[::]:9000", "http://[::1]:9000"),
        ("localhost:8080", "http://localhost:8080"),
    ],
)
def test_served_url__links_to_the_address_served(addrport: str, url: str) -> None:
    assert served_url(addrport) == url
