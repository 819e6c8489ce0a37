"""Production settings refuse missing or weak secrets; the deploy checklist passes."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

SETTINGS = Path(__file__).resolve().parents[2] / "controlplane" / "settings.py"
STRONG = {
    "SECRET_KEY": "k" * 20 + "Zq8#xLm2@pR7!vW4^tY9&bN3*cJ6(fH1)dG5",
    "JWT_SECRET": "jwt-secret-for-tests-0123456789-abcdefgh",
    "CRON_SECRET": "cron-secret-for-tests-0123456789-abcdefg",
    "API_KEY_PEPPER": "pepper-for-tests-0123456789-abcdefghijkl",
    "PROVISIONING_ENCRYPTION_KEY": "fernet-source-for-tests-0123456789-abcd",
}
SECRET_NAMES = sorted(STRONG)


def production_env(**overrides: str | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in STRONG and k not in {"DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(STRONG, DEBUG="0", ALLOWED_HOSTS="cp.example.com")
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def load_settings(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> dict[str, object]:
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(str(SETTINGS))


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_settings__missing_secret_refused_without_debug(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=name):
        load_settings(monkeypatch, production_env(**{name: None}))


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_settings__weak_secret_refused_without_debug(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=f"{name} is too weak"):
        load_settings(monkeypatch, production_env(**{name: "short-secret"}))


def test_settings__jwt_secret_of_31_bytes_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImproperlyConfigured, match="JWT_SECRET"):
        load_settings(monkeypatch, production_env(JWT_SECRET="abcdefghij" * 3 + "k"))
    ok = load_settings(monkeypatch, production_env(JWT_SECRET="abcdefghij" * 3 + "kl"))
    assert ok["JWT_SECRET"] == "abcdefghij" * 3 + "kl"


def test_settings__debug_uses_local_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    values = load_settings(monkeypatch, {"DEBUG": "1", "PATH": os.environ["PATH"]})
    assert str(values["SECRET_KEY"]).startswith("dev-only-insecure")
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"


def test_settings__database_url_and_persistent_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    values = load_settings(
        monkeypatch, production_env(DATABASE_URL="postgres://u:p@db.internal:6543/cp")
    )
    db = values["DATABASES"]["default"]
    assert (db["HOST"], db["PORT"], db["NAME"]) == ("db.internal", 6543, "cp")
    assert db["CONN_MAX_AGE"] == 600 and db["CONN_HEALTH_CHECKS"] is True


def test_settings__redis_url_switches_cache_and_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    plain_env = production_env(REDIS_URL=None)
    values = load_settings(monkeypatch, production_env(REDIS_URL="redis://127.0.0.1:6379/3"))
    assert values["CACHES"]["default"]["BACKEND"].endswith("RedisCache")
    assert values["Q_CLUSTER"]["redis"] == "redis://127.0.0.1:6379/3"
    plain = load_settings(monkeypatch, plain_env)
    assert plain["CACHES"]["default"]["BACKEND"] == "controlplane.cache.PostgresCache"


def test_settings__bad_boolean_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImproperlyConfigured, match="DEBUG must be a boolean"):
        load_settings(monkeypatch, production_env(DEBUG="maybe"))


def test_check_deploy__passes_with_production_settings() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=SETTINGS.parents[1],
        env=production_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_start_up__refuses_with_the_variable_named() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=SETTINGS.parents[1],
        # Empty, not absent: manage.py would fill an absent one from a developer's .env.
        env=production_env(CRON_SECRET=""),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "CRON_SECRET must be set when DEBUG is off" in result.stderr
