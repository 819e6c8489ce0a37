"""Settings for the control plane, read from the environment (README lists every variable)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from controlplane.clientip import trusted_proxies_problem
from controlplane.devenv import DEV_FALLBACK_SECRETS
from controlplane.embedded_pg import default_cluster

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

# Secrets: development gets fixed, obviously-local values; production must set
# each one, strong enough, or start-up stops naming the variable.
_MIN_SECRET_BYTES = {
    "SECRET_KEY": 50,
    "JWT_SECRET": 32,
    "CRON_SECRET": 32,
    "API_KEY_PEPPER": 32,
    "PROVISIONING_ENCRYPTION_KEY": 32,
}


def secret(name: str) -> str:
    """Return the secret `name`, refusing a missing or weak one outside DEBUG."""
    value = os.environ.get(name, "")
    if DEBUG and not value:
        return DEV_FALLBACK_SECRETS[name]
    minimum = _MIN_SECRET_BYTES[name]
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is off.")
    if len(value.encode()) < minimum or len(set(value)) < 5:
        raise ImproperlyConfigured(
            f"{name} is too weak: use at least {minimum} bytes of random characters."
        )
    return value


SECRET_KEY = secret("SECRET_KEY")
JWT_SECRET = secret("JWT_SECRET")
CRON_SECRET = secret("CRON_SECRET")
# Accepted alongside CRON_SECRET while callers move to a new secret.
CRON_SECRET_PREVIOUS = env_str("CRON_SECRET_PREVIOUS")
API_KEY_PEPPER = secret("API_KEY_PEPPER")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # The console's AdminSite replaces django's default one; every admin.site.register works.
    "console.apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "controlplane",
    # Before django_q: jobs' own `qcluster` command (which adds the dispatcher) wins.
    "jobs",
    "provisioning",
    "backups",
    "backfill",
    "console",
    "django_q",
    "axes",
]

MIDDLEWARE = [
    "controlplane.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a lockout into its page (the API answers 429 in its own envelope).
    "controlplane.lockout.LockoutMiddleware",
]

# Login throttling (django-axes) on /admin/login/ and POST /api/auth/staff-token: this many
# failures per username, or per client IP, lock that username or IP out for AUTH_LOCKOUT_SECONDS.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AUTH_LOCKOUT_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(seconds=env_int("AUTH_LOCKOUT_SECONDS", 900))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "controlplane.clientip.client_ip"
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_TEMPLATE = "admin/lockout.html"
AXES_COOLOFF_MESSAGE = "Too many failed logins: try again later."
# Our LockoutMiddleware is axes' own, subclassed to leave /api/ answers alone.
SILENCED_SYSTEM_CHECKS = ["axes.W002"]

ROOT_URLCONF = "controlplane.urls"
WSGI_APPLICATION = "controlplane.wsgi.application"
ASGI_APPLICATION = "controlplane.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -----------------------------------------------------------
# DATABASE_URL, or the embedded cluster that `make run` starts (see controlplane/embedded_pg.py).
DATABASE_URL = env_str("DATABASE_URL") or default_cluster().url()
DATABASES: dict[str, Any] = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        # Persistent connections: without them the job queue drains ~10x slower.
        conn_max_age=env_int("CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
DATABASES["default"].setdefault("OPTIONS", {}).update(
    {"connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT", 5)}
)
# Control-plane tables live in `public`; tenants live in `tenant_<slug>` schemas,
# so a tenant dump (pg_dump --schema=tenant_x) never contains control-plane rows.
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache (rate limits) -------------------------------------------------
# Shared by every process with an atomic increment: Redis when configured,
# otherwise a PostgreSQL table (controlplane.cache).
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "controlplane"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "controlplane.cache.PostgresCache",
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "controlplane"),
        }
    }
# Per-process memory, for what may be a few seconds stale (the token re-checks below).
CACHES["local"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "controlplane-local",
}
RATELIMIT_USE_CACHE = "default"
# Proxies in front of the app whose X-Forwarded-For is believed: a count ("1": one TLS proxy)
# or their addresses/networks ("10.0.0.0/8,192.0.2.7"). Empty: the peer address is the client.
TRUSTED_PROXIES = env_str("TRUSTED_PROXIES")
if _proxies_problem := trusted_proxies_problem(TRUSTED_PROXIES):
    raise ImproperlyConfigured(_proxies_problem)
RATELIMIT_IP_META_KEY = "controlplane.clientip.client_ip"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".static"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / ".media")))

STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- security (manage.py check --deploy passes with DEBUG off) ------------
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("SECURE_PROXY_SSL_HEADER", False) else None
)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe health over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
X_FRAME_OPTIONS = "DENY"

# --- email ----------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "controlplane@localhost")

# --- API ------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["controlplane.api.auth.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["controlplane.api.permissions.ApiAccess"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["controlplane.api.parsers.LimitedJSONParser"],
    "EXCEPTION_HANDLER": "controlplane.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

# Deepest nesting of arrays/objects a JSON body may have (deeper: 400 before parsing).
API_JSON_MAX_DEPTH = env_int("API_JSON_MAX_DEPTH", 32)

JWT_ALGORITHM = env_str("JWT_ALGORITHM", "HS256")
JWT_ISSUER = env_str("JWT_ISSUER") or None
JWT_AUDIENCE = env_str("JWT_AUDIENCE") or None
JWT_ACCESS_TOKEN_LIFETIME = env_int("JWT_ACCESS_TOKEN_LIFETIME", 3600)
# How long a process may trust its last look at a project token's API key and project
# status (seconds): revocation, rotation expiry and suspension bite within this. 0: every request.
AUTH_TOKEN_RECHECK_SECONDS = env_int("AUTH_TOKEN_RECHECK_SECONDS", 5)
# Password guesses per client IP at POST /api/auth/staff-token.
AUTH_STAFF_TOKEN_RATE_LIMIT = env_str("AUTH_STAFF_TOKEN_RATE_LIMIT", "10/m")
SIMPLE_JWT = {
    "ALGORITHM": JWT_ALGORITHM,
    "SIGNING_KEY": JWT_SECRET,
    # For RS*/ES* algorithms JWT_SECRET is the private key and this the public one.
    "VERIFYING_KEY": env_str("JWT_VERIFYING_KEY") or None,
    "ISSUER": JWT_ISSUER,
    "AUDIENCE": JWT_AUDIENCE,
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=JWT_ACCESS_TOKEN_LIFETIME),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    # Staff tokens carry a digest of the password hash: a password change kills them.
    "CHECK_REVOKE_TOKEN": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Control plane API",
    "DESCRIPTION": "Backups, jobs and backfill for the multi-tenant PostgreSQL platform.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI assets come from the installed sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several apps have a "status": name each choice set once.
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "jobs.models.JobStatus",
        "BackfillStatusEnum": "backfill.models.BackfillStatus",
    },
}

# --- workers (django-q2) ----------------------------------------------------
Q_CLUSTER: dict[str, Any] = {
    "name": "controlplane",
    "workers": env_int("Q_WORKERS", 2),
    "timeout": env_int("Q_TIMEOUT", 3600),
    # Must exceed timeout, or a long task is handed out twice.
    "retry": env_int("Q_TIMEOUT", 3600) + 60,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": env_int("Q_SAVE_LIMIT", 250),
    "ack_failures": True,
    "poll": 0.2,
    # Tasks the pusher takes per round trip; a crashed cluster's batch is redelivered
    # by the job dispatcher (JOBS_REDELIVER_AFTER), so a larger batch risks no job.
    "bulk": env_int("Q_BULK", 10),
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    # The ORM broker with one statement per dequeued batch and acks folded into job claims.
    Q_CLUSTER["broker_class"] = "jobs.engine.broker.JobsORMBroker"

# --- logging ----------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "controlplane.middleware.RequestIdLogFilter"},
        # On every handler: no secret setting's value reaches a log line (controlplane.redaction).
        "redact": {"()": "controlplane.redaction.RedactingFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact", "request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Django's defaults give these loggers handlers of their own as well as propagating
        # to ours, so each line printed twice (once bare); here they print once, formatted.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        # At INFO they log every request URL, query string (and so any key in it) included.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # Failures and lockouts are WARNING; its INFO lines (a banner per process) are noise.
        "axes": {"level": "WARNING"},
    },
}

# --- app settings (each app appends its own block below, prefixed JOBS_/BACKUPS_/...) ------

# --- provisioning (tenant schema and role, service registration, API keys) -------------------
# Encrypts tenant database passwords at rest (Fernet key derived with HKDF). The previous key
# stays readable while stored passwords are re-encrypted after a change.
PROVISIONING_ENCRYPTION_KEY = secret("PROVISIONING_ENCRYPTION_KEY")
PROVISIONING_ENCRYPTION_KEY_PREVIOUS = env_str("PROVISIONING_ENCRYPTION_KEY_PREVIOUS")
# Where tenants connect (reported in the provisioning result); defaults to our own database.
PROVISIONING_TENANT_DB_HOST = env_str("PROVISIONING_TENANT_DB_HOST")
PROVISIONING_TENANT_DB_PORT = env_int("PROVISIONING_TENANT_DB_PORT", 0)
PROVISIONING_MAX_API_KEYS = env_int("PROVISIONING_MAX_API_KEYS", 10)
# Connections one tenant's database role may hold at once (CONNECTION LIMIT; -1: no limit).
PROVISIONING_TENANT_CONNECTION_LIMIT = env_int("PROVISIONING_TENANT_CONNECTION_LIMIT", 20)
# How long a newly generated key waits, encrypted, for its one reveal in the admin.
PROVISIONING_KEY_REVEAL_TTL = env_int("PROVISIONING_KEY_REVEAL_TTL", 7 * 24 * 3600)
PROVISIONING_TOKEN_RATE_LIMIT = env_str("PROVISIONING_TOKEN_RATE_LIMIT", "30/m")
PROVISIONING_HTTP_TIMEOUT = float(env_str("PROVISIONING_HTTP_TIMEOUT", "10"))
PROVISIONING_HTTP_ATTEMPTS = env_int("PROVISIONING_HTTP_ATTEMPTS", 3)
PROVISIONING_HTTP_BACKOFF = float(env_str("PROVISIONING_HTTP_BACKOFF", "0.5"))
# Admin endpoints of the platform services; an empty URL means "not deployed" (recorded skipped).
AUTH_SERVICE_URL = env_str("AUTH_SERVICE_URL")
AUTH_SERVICE_TOKEN = env_str("AUTH_SERVICE_TOKEN")
REALTIME_SERVICE_URL = env_str("REALTIME_SERVICE_URL")
REALTIME_SERVICE_TOKEN = env_str("REALTIME_SERVICE_TOKEN")
STORAGE_SERVICE_URL = env_str("STORAGE_SERVICE_URL")
STORAGE_SERVICE_TOKEN = env_str("STORAGE_SERVICE_TOKEN")

# --- jobs ---------------------------------------------------------------------
# A running job's lease: a worker that stops renewing it (heartbeat) for this long is lost.
JOBS_LEASE_SECONDS = env_int("JOBS_LEASE_SECONDS", 30)
JOBS_DEFAULT_TIMEOUT = env_int("JOBS_DEFAULT_TIMEOUT", 600)
# How often the dispatcher hands due jobs to django-q2 (seconds, fractions allowed).
JOBS_DISPATCH_INTERVAL = float(env_str("JOBS_DISPATCH_INTERVAL", "0.25"))
JOBS_RESCUE_INTERVAL = float(env_str("JOBS_RESCUE_INTERVAL", "5"))
# A handed-off job nobody claimed within this many seconds is handed off again.
JOBS_REDELIVER_AFTER = env_int("JOBS_REDELIVER_AFTER", 60)
JOBS_PROGRESS_INTERVAL = float(env_str("JOBS_PROGRESS_INTERVAL", "1"))
# On SIGTERM a qcluster lets running jobs finish for this long, then kills its workers and
# sends their jobs back to pending. Keep it below systemd's TimeoutStopSec.
JOBS_STOP_GRACE = float(env_str("JOBS_STOP_GRACE", "30"))
JOBS_RETENTION_DAYS = env_int("JOBS_RETENTION_DAYS", 30)
JOBS_FAILED_RETENTION_DAYS = env_int("JOBS_FAILED_RETENTION_DAYS", 90)
# Extra modules holding @job_handler functions (besides every app's handlers.py).
JOBS_EXTRA_HANDLER_MODULES = env_list("JOBS_EXTRA_HANDLER_MODULES", [])

# --- backfill (book-catalogue backfill; provider keys never reach logs or errors) ---------
BACKFILL_GEMINI_API_KEY = env_str("BACKFILL_GEMINI_API_KEY")
BACKFILL_GEMINI_BASE_URL = env_str(
    "BACKFILL_GEMINI_BASE_URL", "https://generativelanguage.googleapis.com/v1beta"
)
BACKFILL_GEMINI_MODEL = env_str("BACKFILL_GEMINI_MODEL", "gemini-2.0-flash")
BACKFILL_GEMINI_DAILY_QUOTA = env_int("BACKFILL_GEMINI_DAILY_QUOTA", 1000)
BACKFILL_XAI_API_KEY = env_str("BACKFILL_XAI_API_KEY")
BACKFILL_XAI_BASE_URL = env_str("BACKFILL_XAI_BASE_URL", "https://api.x.ai/v1")
BACKFILL_XAI_MODEL = env_str("BACKFILL_XAI_MODEL", "grok-3-mini")
BACKFILL_XAI_DAILY_QUOTA = env_int("BACKFILL_XAI_DAILY_QUOTA", 1000)
BACKFILL_ISBNDB_API_KEY = env_str("BACKFILL_ISBNDB_API_KEY")
BACKFILL_ISBNDB_BASE_URL = env_str("BACKFILL_ISBNDB_BASE_URL", "https://api2.isbndb.com")
BACKFILL_ISBNDB_DAILY_QUOTA = env_int("BACKFILL_ISBNDB_DAILY_QUOTA", 5000)
BACKFILL_HTTP_TIMEOUT = env_int("BACKFILL_HTTP_TIMEOUT", 30)
# Longest a backfill_month job may run (a month makes up to batch_size + 2 provider calls).
BACKFILL_JOB_TIMEOUT = env_int("BACKFILL_JOB_TIMEOUT", 1800)
# The django-q2 schedule that runs the scheduler (off by default; every N minutes).
BACKFILL_SCHEDULE_ENABLED = env_bool("BACKFILL_SCHEDULE_ENABLED", False)
BACKFILL_SCHEDULE_MINUTES = env_int("BACKFILL_SCHEDULE_MINUTES", 15)
BACKFILL_SCHEDULE_MAX_MONTHS = env_int("BACKFILL_SCHEDULE_MAX_MONTHS", 1)
BACKFILL_SCHEDULE_BATCH_SIZE = env_int("BACKFILL_SCHEDULE_BATCH_SIZE", 20)

# --- backups (backups/) -----------------------------------------------------
# Dump files go to STORAGES["backups"]: a private folder by default, an S3-compatible
# bucket through django-storages when BACKUPS_S3_BUCKET is set, or a Telegram chat.
BACKUPS_ROOT = Path(env_str("BACKUPS_ROOT", str(BASE_DIR / ".media" / "backups")))
BACKUPS_S3_BUCKET = env_str("BACKUPS_S3_BUCKET")
# A setting of its own (not only inside STORAGES), so the redaction finds it by name.
BACKUPS_S3_SECRET_ACCESS_KEY = env_str("BACKUPS_S3_SECRET_ACCESS_KEY")
BACKUPS_STORAGE = env_str("BACKUPS_STORAGE", "s3" if BACKUPS_S3_BUCKET else "filesystem")
if BACKUPS_STORAGE not in ("filesystem", "s3", "telegram"):
    raise ImproperlyConfigured('BACKUPS_STORAGE must be "filesystem", "s3" or "telegram".')
if BACKUPS_STORAGE == "s3":
    if not BACKUPS_S3_BUCKET:
        raise ImproperlyConfigured("BACKUPS_STORAGE=s3 needs BACKUPS_S3_BUCKET.")
    STORAGES["backups"] = {
        "BACKEND": "backups.s3.BackupS3Storage",
        "OPTIONS": {
            "bucket_name": BACKUPS_S3_BUCKET,
            "endpoint_url": env_str("BACKUPS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("BACKUPS_S3_REGION") or None,
            "access_key": env_str("BACKUPS_S3_ACCESS_KEY_ID") or None,
            "secret_key": BACKUPS_S3_SECRET_ACCESS_KEY or None,
            "location": env_str("BACKUPS_S3_PREFIX"),
            "default_acl": "private",
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }
elif BACKUPS_STORAGE == "telegram":
    TELEGRAM_BOT_TOKEN = env_str("TELEGRAM_BOT_TOKEN")
    TELEGRAM_CHAT_ID = env_str("TELEGRAM_CHAT_ID")
    if not TELEGRAM_BOT_TOKEN or not TELEGRAM_CHAT_ID:
        raise ImproperlyConfigured(
            "BACKUPS_STORAGE=telegram needs TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID."
        )
    STORAGES["backups"] = {
        "BACKEND": "backups.telegram.storage.TelegramStorage",
        "OPTIONS": {
            "token": TELEGRAM_BOT_TOKEN,
            "chat_id": TELEGRAM_CHAT_ID,
            # A self-hosted Bot API server (telegram-bot-api --local) lifts the size limits.
            "api_base_url": env_str("TELEGRAM_API_BASE_URL", "https://api.telegram.org"),
            # Under the 20 MB a bot may download from api.telegram.org.
            "part_bytes": env_int("BACKUPS_TELEGRAM_PART_BYTES", 19 * 1024 * 1024),
            "max_retries": env_int("BACKUPS_TELEGRAM_MAX_RETRIES", 5),
            "max_retry_after": env_int("BACKUPS_TELEGRAM_MAX_RETRY_AFTER", 300),
            "timeout": env_int("BACKUPS_TELEGRAM_TIMEOUT", 120),
        },
    }
else:
    STORAGES["backups"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": BACKUPS_ROOT,
            "base_url": None,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }
BACKUPS_MAX_BYTES = env_int("BACKUPS_MAX_BYTES", 10 * 1024**3)
BACKUPS_TIMEOUT = env_int("BACKUPS_TIMEOUT", 1800)
BACKUPS_DOWNLOAD_TTL = env_int("BACKUPS_DOWNLOAD_TTL", 3600)
BACKUPS_RETENTION_DAYS = env_int("BACKUPS_RETENTION_DAYS", 30)
# Retention stops trying to delete a file after this many failures (a refusal counts as all).
BACKUPS_DELETE_MAX_ATTEMPTS = env_int("BACKUPS_DELETE_MAX_ATTEMPTS", 3)
# gzip level 1: dumps compress well already and export throughput matters more.
BACKUPS_GZIP_LEVEL = env_int("BACKUPS_GZIP_LEVEL", 1)
# What `compress: true` means when a request names no `compression`: gzip or zstd.
BACKUPS_DEFAULT_COMPRESSION = env_str("BACKUPS_DEFAULT_COMPRESSION", "gzip")
if BACKUPS_DEFAULT_COMPRESSION not in ("gzip", "zstd"):
    raise ImproperlyConfigured('BACKUPS_DEFAULT_COMPRESSION must be "gzip" or "zstd".')
# zstd level 1: as fast as `pg_dump | zstd -1`, and smaller than gzip -1 already.
BACKUPS_ZSTD_LEVEL = env_int("BACKUPS_ZSTD_LEVEL", 1)
# Folder holding pg_dump/pg_restore/psql; empty = the closest version at or above the server's.
BACKUPS_PG_BIN_DIR = env_str("BACKUPS_PG_BIN_DIR") or env_str("PG_BIN_DIR")
# Absolute base for download links in emails and job results (e.g. https://cp.example.com).
BACKUPS_PUBLIC_URL = env_str("BACKUPS_PUBLIC_URL", "http://localhost:8000" if DEBUG else "")
# POST /api/backup/export per project token (per client IP without one); "<n>/<s|m|h|d>".
BACKUPS_EXPORT_RATE_LIMIT = env_str("BACKUPS_EXPORT_RATE_LIMIT", "10/m")
