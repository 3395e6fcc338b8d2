"""Turn database URLs into Django ``DATABASES`` entries without ever leaking a password."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import dj_database_url

POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql", "postgis")
LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}
DEFAULT_CONNECTION_TIMEOUT = 30


class DatabaseUrlError(ValueError):
    """A database URL that cannot be used; the message is safe to show (no password)."""


def mask_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***`` (``postgresql://user:***@host/db``).

    Everything before the last ``@`` is taken as user information, so a password holding an
    unescaped ``@`` or ``/`` is still hidden whole.
    """
    url = url.strip()
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    if "@" not in rest:
        return url
    userinfo, _, host_part = rest.rpartition("@")
    user, has_password, _ = userinfo.partition(":")
    return f"{scheme}{separator}{user}{':***' if has_password else ''}@{host_part}"


def url_password(url: str) -> str | None:
    """The password written in ``url``, if any, so callers can scrub it from error text."""
    try:
        return urlsplit(url.strip()).password or None
    except ValueError:
        match = re.match(r"^[a-zA-Z][\w+.-]*://[^:/@]*:([^@]*)@", url.strip())
        return match.group(1) if match else None


# The two places a password stands in text: a URL's user information (scheme://user:PW@)
# and a libpq connection string's field (password=PW, or password='P W' with \' escapes).
URL_PASSWORD = re.compile(r"([a-zA-Z][\w+.-]*://[^:/@\s]*:)[^@\s]*@")
DSN_PASSWORD = re.compile(r"(\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s']+)")


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` with every password masked as ``***`` where one stands: in a URL or in a
    ``password=`` field. Everything else is left as the driver wrote it, even when a short
    password such as ``a`` or ``password`` occurs in its words.

    ``secrets`` are passwords known to be in play; where one stands in a URL it is masked
    whole, even when it holds an unescaped ``@`` or ``/``.
    """
    for secret in secrets:
        if secret:
            text = re.sub(r"(://[^:/@\s]*:)" + re.escape(secret) + "@", r"\1***@", text)
    text = URL_PASSWORD.sub(r"\1***@", text)
    return DSN_PASSWORD.sub(r"\1***", text)


def database_config(
    url: str, *, variable: str, connect_timeout: int = DEFAULT_CONNECTION_TIMEOUT
) -> dict[str, Any]:
    """Parse a PostgreSQL URL into a ``DATABASES`` entry.

    Remote hosts get ``sslmode=require`` unless the URL names an sslmode itself, and every
    connection gets ``connect_timeout`` so an unreachable host cannot hang a command.
    Raises :class:`DatabaseUrlError` naming ``variable`` when the URL is unusable.
    """
    url = url.strip()
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if not scheme:
        # Without a scheme we cannot tell where a password would be, so echo nothing.
        raise DatabaseUrlError(
            f"{variable} is not a database URL (it has no postgresql:// prefix). "
            "Use the form postgresql://user:password@host:5432/dbname."
        )
    if scheme not in POSTGRES_SCHEMES:
        where = (
            "Copy the PostgreSQL connection URL from the Railway dashboard."
            if variable == "RAILWAY_DATABASE_URL"
            else "Point it at the local PostgreSQL database."
        )
        raise DatabaseUrlError(
            f"{variable} must be a PostgreSQL URL (postgresql://...), not {scheme}://. {where}"
        )
    try:
        _ = urlsplit(url).port  # raises ValueError for a non-numeric port
        config = dj_database_url.parse(url, conn_max_age=0)
    except Exception as exc:  # dj-database-url raises several unrelated types
        raise DatabaseUrlError(
            f"{variable} is malformed ({mask_url(url)}): {scrub(str(exc), url_password(url))}. "
            "Use the form postgresql://user:password@host:5432/dbname."
        ) from None
    if not config.get("NAME"):
        raise DatabaseUrlError(
            f"{variable} names no database ({mask_url(url)}). "
            "Add the database name after the host: postgresql://user:password@host:5432/dbname."
        )
    options = dict(config.get("OPTIONS") or {})
    options.setdefault("connect_timeout", connect_timeout)
    # Keepalives notice a peer that vanished without closing the connection (a dropped
    # network path) in about a minute, instead of a read that never returns.
    options.setdefault("keepalives", 1)
    options.setdefault("keepalives_idle", 30)
    options.setdefault("keepalives_interval", 10)
    options.setdefault("keepalives_count", 3)
    host = config.get("HOST") or ""
    if host not in LOCAL_HOSTS and not host.startswith("/") and "sslmode" not in options:
        options["sslmode"] = "require"
    config["OPTIONS"] = options
    return dict(config)
