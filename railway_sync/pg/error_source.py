"""Which database a driver error came from, what it said, and how a message names that side.

Every failure message (``failures``, ``lock_holders``) starts here: the alias whose connection
raised the error, its SQLSTATE, the server's own words without the password, and the
environment variable that configures that database.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connections

from railway_sync import conf
from railway_sync.dburl import scrub
from railway_sync.pg import driver


def url_variable(alias: str) -> str:
    """The environment variable that configures ``alias`` in this project."""
    return "RAILWAY_DATABASE_URL" if alias == conf.railway_alias() else "DATABASE_URL"


def server_name(alias: str) -> str:
    """How a message names ``alias`` mid-sentence: "Railway" or "the local database"."""
    return "Railway" if alias == conf.railway_alias() else "the local database"


def raw_error(exc: BaseException) -> BaseException:
    """The driver's exception behind Django's wrapper."""
    return exc.__cause__ or exc


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE the server sent with ``exc``; None for errors libpq raised itself."""
    return driver.sqlstate(raw_error(exc))


def synced_aliases() -> list[str]:
    """The sync's two aliases (Railway, local) that this project configures."""
    return [a for a in (conf.railway_alias(), conf.local_alias()) if a in settings.DATABASES]


def _same_database(params: dict[str, str], settings_dict: dict[str, Any]) -> bool:
    wanted = {
        "dbname": settings_dict.get("NAME"),
        "host": settings_dict.get("HOST"),
        "port": settings_dict.get("PORT"),
    }
    return all(str(params.get(key, "")) == str(value) for key, value in wanted.items() if value)


def failing_alias(exc: BaseException) -> str | None:
    """The alias (local or Railway) whose connection raised ``exc``; None if it cannot tell
    (an error raised outside a statement, such as a failed commit)."""
    raw = driver.error_connection(raw_error(exc))
    if raw is None:
        return None
    aliases = synced_aliases()
    for alias in aliases:
        if connections[alias].connection is raw:
            return alias
    # Django drops a connection whose rollback failed (a lost one) before the error gets
    # here; the parameters the driver connected with still say which database it was.
    params = driver.connection_parameters(raw)
    matches = [a for a in aliases if _same_database(params, connections[a].settings_dict)]
    return matches[0] if len(matches) == 1 else None


def lock_holder(exc: BaseException) -> str | None:
    """The alias whose connection raised a lock timeout (``55P03``), or None if it is not one."""
    if sqlstate(exc) != "55P03":
        return None
    return failing_alias(exc) or conf.railway_alias()


def password_of(alias: str) -> str | None:
    """The password ``alias`` connects with, to keep it out of any message."""
    return (settings.DATABASES.get(alias) or {}).get("PASSWORD") or None


def first_line(exc: BaseException) -> str:
    """The driver's message for ``exc``, its first non-blank line."""
    text = driver.message(raw_error(exc)).strip()
    return next((line.strip() for line in text.splitlines() if line.strip()), repr(exc))


def driver_words(exc: BaseException, alias: str) -> str:
    """The server's (or libpq's) own message for ``exc``, one line, no password."""
    diag = driver.diagnostics(raw_error(exc))
    words = (getattr(diag, "message_primary", None) or "").strip() or first_line(exc)
    return scrub(words, password_of(alias))
