"""Settings for the thin project around railway_sync; configured through environment variables.

DATABASE_URL          the local database (``default``); unset: an embedded PostgreSQL under
                      ``.embedded-postgres/`` in this folder, started on first use.
RAILWAY_DATABASE_URL  the Railway database (``railway``).
RAILWAY_CONNECTION_TIMEOUT  seconds to connect, all retries included (default 30).
RAILWAY_ADMIN_TIMEOUT       the same for admin pages (default 3).
RAILWAY_SYNC_TABLES         tables to sync, comma-separated (default: those of the guide's five
                            the local database has, with a warning naming the others).
RAILWAY_SYNC_EXCLUDE_COLUMNS  table.column names never synced, comma-separated.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from railway_sync.dburl import DEFAULT_CONNECTION_TIMEOUT, DatabaseUrlError, database_config
from railway_sync.pg import embedded

BASE_DIR = Path(__file__).resolve().parent.parent
# RAILWAY_SYNC_ENV_FILE lets tests and cron point at another file (or os.devnull).
load_dotenv(os.environ.get("RAILWAY_SYNC_ENV_FILE") or BASE_DIR / ".env")

EMBEDDED_DATA_DIR = BASE_DIR / ".embedded-postgres" / "data"
EMBEDDED_LOCAL_DATABASE = "railway_sync_local"

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "railway-sync-local-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles: runserver leaves static files to whitenoise, DEBUG on or off.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "railway_sync",
    "railway_sync.railway_schema",
]

# Where railway_makemigrations writes Railway's migrations (a folder of this project,
# committed like any other): RAILWAY_SYNC_MIGRATIONS_MODULE, default project.railway_migrations.
MIGRATION_MODULES = {
    "railway_schema": os.environ.get("RAILWAY_SYNC_MIGRATIONS_MODULE", "project.railway_migrations")
}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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


def _positive_number(variable: str, default: float, *, whole: bool = False) -> float:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = 0
    if value <= 0:
        kind = "a whole number" if whole else "a number"
        raise ImproperlyConfigured(f"{variable} must be {kind} above 0, not {raw!r}.")
    return value


RAILWAY_CONNECTION_TIMEOUT = int(
    _positive_number("RAILWAY_CONNECTION_TIMEOUT", DEFAULT_CONNECTION_TIMEOUT, whole=True)
)
RAILWAY_SYNC_CONNECT_ATTEMPTS = int(_positive_number("RAILWAY_CONNECT_ATTEMPTS", 3, whole=True))
RAILWAY_SYNC_CONNECT_RETRY_DELAY = _positive_number("RAILWAY_CONNECT_RETRY_DELAY", 1.0)
RAILWAY_SYNC_LOCK_TIMEOUT = _positive_number("RAILWAY_LOCK_TIMEOUT", 30)
RAILWAY_SYNC_ADMIN_TIMEOUT = _positive_number("RAILWAY_ADMIN_TIMEOUT", 3)
RAILWAY_SYNC_WAIT_TIMEOUT = _positive_number("RAILWAY_SYNC_WAIT_TIMEOUT", 60)
RAILWAY_SYNC_PRUNE_MAX_SHARE = _positive_number("RAILWAY_PRUNE_MAX_SHARE", 0.10)
RAILWAY_SYNC_URL_ERRORS: dict[str, str] = {}
# Which tables and columns are synced (comma-separated); unset: those of the guide's five
# tables the local database has.
if os.environ.get("RAILWAY_SYNC_TABLES", "").strip():
    RAILWAY_SYNC_TABLES = os.environ["RAILWAY_SYNC_TABLES"]
RAILWAY_SYNC_EXCLUDE_COLUMNS = os.environ.get("RAILWAY_SYNC_EXCLUDE_COLUMNS", "")

_local_url = os.environ.get("DATABASE_URL", "").strip()
if _local_url:
    try:
        _default = database_config(
            _local_url, variable="DATABASE_URL", connect_timeout=RAILWAY_CONNECTION_TIMEOUT
        )
    except DatabaseUrlError as exc:
        raise ImproperlyConfigured(str(exc)) from None
else:
    _default = embedded.database_settings(EMBEDDED_DATA_DIR, EMBEDDED_LOCAL_DATABASE)

DATABASES = {"default": _default}

_railway_url = os.environ.get("RAILWAY_DATABASE_URL", "").strip()
if not _railway_url:
    RAILWAY_SYNC_URL_ERRORS["railway"] = (
        "RAILWAY_DATABASE_URL environment variable not set. "
        "Add it to .env or export it (see .env.example)."
    )
else:
    try:
        DATABASES["railway"] = database_config(
            _railway_url,
            variable="RAILWAY_DATABASE_URL",
            connect_timeout=RAILWAY_CONNECTION_TIMEOUT,
        )
    except DatabaseUrlError as exc:
        RAILWAY_SYNC_URL_ERRORS["railway"] = str(exc)

DATABASE_ROUTERS = ["railway_sync.routers.RailwayRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# The synced tables use TIMESTAMP WITHOUT TIME ZONE; naive datetimes are what they hold.
USE_TZ = False
USE_I18N = True
# Static files (the admin's CSS and JS) are served by whitenoise with DEBUG off too, so
# `migrate`, `createsuperuser`, `runserver` give a styled admin. `collectstatic` copies them to
# STATIC_ROOT for a deployment; until it has run, whitenoise finds them in the apps instead.
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
# Without collectstatic there is no STATIC_ROOT yet, which the finders make up for.
warnings.filterwarnings("ignore", message="No directory at: ")

# RAILWAY_SYNC_LOG_LEVEL: how much railway_sync and Django's database layer log to stderr.
_log_level = os.environ.get("RAILWAY_SYNC_LOG_LEVEL", "WARNING").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "railway_sync": {"handlers": ["console"], "level": _log_level},
        "django.db": {"handlers": ["console"], "level": _log_level, "propagate": False},
    },
}
