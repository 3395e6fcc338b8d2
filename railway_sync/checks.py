"""System checks: catch a misconfigured project before any sync runs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

from railway_sync import conf

ROUTER = "railway_sync.routers.RailwayRouter"


def _database_identity(entry: dict[str, Any]) -> tuple[str, str, str]:
    options = entry.get("OPTIONS") or {}
    host = entry.get("HOST") or options.get("host") or "localhost"
    if host in ("127.0.0.1", "::1"):
        host = "localhost"
    return host, str(entry.get("PORT") or 5432), entry.get("NAME") or ""


# Not tagged Tags.database: Django 6.1 runs database checks only for `check --database`, and
# these read settings, never a database, so every `check` (and every command) must run them.
@register(Tags.compatibility, conf.SYSTEM_CHECK_TAG)
def check_configuration(app_configs: Any = None, **kwargs: Any) -> list:
    """railway_sync.E001-E003: aliases and router."""
    problems: list = []
    local, railway = conf.local_alias(), conf.railway_alias()
    url_error = conf.url_errors().get(railway)
    # An alias missing because RAILWAY_DATABASE_URL is unset or malformed is not a code
    # problem: every railway_* command reports it as its one-line error, and other commands
    # (migrate, runserver) must still run.
    if railway not in settings.DATABASES and not url_error:
        problems.append(
            Error(
                f"DATABASES has no {railway!r} alias, so there is nothing to sync to.",
                hint=f"Add DATABASES[{railway!r}] (for example from RAILWAY_DATABASE_URL "
                "with dj_database_url), or set RAILWAY_SYNC_RAILWAY_ALIAS.",
                id="railway_sync.E001",
            )
        )
    if ROUTER not in getattr(settings, "DATABASE_ROUTERS", []):
        problems.append(
            Error(
                "railway_sync's router is not installed, so migrate would put Django's tables "
                "on Railway and Railway's tables on the local database.",
                hint=f"Add {ROUTER!r} to DATABASE_ROUTERS.",
                id="railway_sync.E002",
            )
        )
    databases = settings.DATABASES
    if (
        railway in databases
        and local in databases
        and _database_identity(databases[local]) == _database_identity(databases[railway])
    ):
        problems.append(
            Error(
                f"The {railway!r} and {local!r} aliases point at the same database, so a sync "
                "would copy it onto itself.",
                hint="Point RAILWAY_DATABASE_URL at the Railway database, not the local one.",
                id="railway_sync.E003",
            )
        )
    return problems
