"""Driver errors turned into typed errors: which database failed, what happened, and the fix.

``CAUSES`` maps a SQLSTATE to its cause and fix, in one place; ``translate`` builds the one
line for an error raised during a sync, on the database ``error_source`` says raised it (a
lock wait that gave up is worded by ``lock_holders``, a refused right names its GRANT from
``grants``); ``explain`` reads the errors libpq raises while connecting, which carry no
SQLSTATE, only words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import connections
from django.db.utils import DatabaseError, InterfaceError, OperationalError

from railway_sync import conf
from railway_sync.dburl import scrub
from railway_sync.errors import (
    ConnectionFailed,
    OutOfResources,
    PermissionMissing,
    QueryFailed,
    RailwaySyncError,
    StatementCancelled,
    TransactionConflict,
    WriteFailed,
)
from railway_sync.pg import driver
from railway_sync.pg.error_source import (
    driver_words,
    failing_alias,
    first_line,
    password_of,
    raw_error,
    server_name,
    sqlstate,
    url_variable,
)
from railway_sync.pg.grants import SEQUENCE_RIGHTS, shown, table_grant
from railway_sync.pg.lock_holders import lock_timed_out, locked_table


@dataclass(frozen=True)
class Cause:
    """What a SQLSTATE means to someone running a sync. ``what`` and ``fix`` may name
    ``{server}`` (``{Server}`` to start a sentence) and ``{variable}``, its URL's variable."""

    error: type[RailwaySyncError]
    what: str
    fix: str
    # Advice for the local database where Railway's (a hosted plan) does not fit.
    local_fix: str = ""


LOST = Cause(
    ConnectionFailed,
    "Lost the connection to {server}",
    "Run the sync again once {server} is reachable (check {variable} and the network).",
)

# SQLSTATE, or its two-character class, -> cause; the codes are PostgreSQL's ("Appendix A.
# PostgreSQL Error Codes"). 55P03 (a lock wait gave up) has its own message in translate().
CAUSES: dict[str, Cause] = {
    "57014": Cause(
        StatementCancelled,
        "{Server} cancelled a statement",
        "Raise statement_timeout for the user in {variable}, or run the sync again.",
    ),
    "40P01": Cause(
        TransactionConflict,
        "{Server} ended the sync's transaction to break a deadlock",
        "Another session was locking the same rows; run the sync again.",
    ),
    "40001": Cause(
        TransactionConflict,
        "{Server} could not serialize the sync with another session's writes",
        "Another session changed the same rows meanwhile; run the sync again.",
    ),
    "53100": Cause(
        OutOfResources,
        "{Server} ran out of disk space",
        "Free space on Railway (delete data or upgrade the plan's volume), then run the sync "
        "again.",
        local_fix="Free disk space on the local database's server, then run the sync again.",
    ),
    "53200": Cause(
        OutOfResources,
        "{Server} ran out of memory",
        "Run the sync again with a smaller --batch-size, or give {server} more memory.",
    ),
    "53300": Cause(
        OutOfResources,
        "{Server} has no connection slots left",
        "Close idle connections to {server} or raise its max_connections, then run the sync again.",
    ),
    "53": Cause(
        OutOfResources,
        "{Server} ran out of a resource",
        "Check {server}'s log and free what it names, then run the sync again.",
    ),
    "25006": Cause(
        WriteFailed,
        "{Server} accepts no writes (a read-only transaction or a replica)",
        "Point {variable} at the primary database, then run the sync again.",
    ),
    "42501": Cause(
        QueryFailed,
        "{Server} refused the user in {variable}",
        "Grant that user rights on the synced tables, or use the owner's URL.",
    ),
    # The server ended the session: shut down, crashed, restarting, or pg_terminate_backend.
    "57P01": LOST,
    "57P02": LOST,
    "57P03": LOST,
    "08": LOST,
}


def translate(
    exc: BaseException,
    *,
    table: str | None = None,
    outcome: str | None = None,
    tables: Sequence[str] = (),
) -> RailwaySyncError:
    """The typed error, with its one line, for a driver error raised during a sync.

    ``table`` is the table being synced; the error's own diagnostics win, since a deferred
    constraint fails when the transaction is checked, after the loop has moved on.
    ``outcome`` says what is left written, e.g. "nothing was written". A lock that never
    came is named with the session holding it, looked for among ``tables`` (the statement
    read them all) when ``table`` is not known.
    """
    alias = failing_alias(exc) or conf.railway_alias()
    code = sqlstate(exc) or ""
    diag = driver.diagnostics(raw_error(exc))
    table = getattr(diag, "table_name", None) or table
    railway = alias == conf.railway_alias()
    server = server_name(alias)
    fill = {"server": server, "Server": server[0].upper() + server[1:]}
    fill["variable"] = url_variable(alias)
    words = driver_words(exc, alias)
    where = f" while {'syncing' if railway else 'reading'} {table}" if table else " during the sync"
    left = f" ({outcome})" if outcome else ""
    if code == "55P03":
        return lock_timed_out(exc, alias, table, outcome, tables)
    if code == "42501":
        denied = _permission_denied(words, alias, table, outcome, fill)
        if denied is not None:
            return denied
    cause = CAUSES.get(code) or CAUSES.get(code[:2])
    if cause is None and not code and isinstance(exc, OperationalError | InterfaceError):
        cause = LOST  # libpq's own errors carry no SQLSTATE: the connection is gone
    if cause is not None:
        fix = cause.local_fix if cause.local_fix and not railway else cause.fix
        return cause.error(
            f"{cause.what.format(**fill)}{where}: {words}{left}. {fix.format(**fill)}"
        )
    if railway:
        detail = (getattr(diag, "message_detail", None) or "").strip()
        text = f"{words}. {scrub(detail, password_of(alias))}" if detail else words
        of = f" of {table}" if table else ""
        left = f"{outcome}; " if outcome else ""
        return WriteFailed(
            f"Railway rejected a row{of}: {text} ({left}fix the row locally, or the "
            "constraint on Railway, then sync again)."
        )
    return QueryFailed(
        f"{fill['Server']} failed{where}: {words}{left}. Check {fill['variable']} and that "
        "database, then run the sync again."
    )


# What PostgreSQL says it refused (its words), and the GRANT for each.
_DENIED_TABLE = re.compile(r'permission denied for (?:table|relation|view) "?([^"\s]+)"?')
_DENIED_SEQUENCE = re.compile(r'permission denied for sequence "?([^"\s]+)"?')
_DENIED_SCHEMA = re.compile(r'permission denied for schema "?([^"\s]+)"?')
_DENIED_TEMPORARY = re.compile(
    r'permission denied to create temporary tables in database "([^"]+)"'
)


def _permission_denied(
    words: str, alias: str, table: str | None, outcome: str | None, fill: dict[str, str]
) -> PermissionMissing | None:
    """The one line for a right the user lacks, with the GRANT that gives it; None when the
    server's words do not say which."""
    railway = alias == conf.railway_alias()
    user = shown(str(settings.DATABASES.get(alias, {}).get("USER") or "")) or "that user"
    if found := _DENIED_TABLE.search(words):
        grant = table_grant(found.group(1), user, railway=railway)
    elif found := _DENIED_SEQUENCE.search(words):
        grant = f"GRANT {', '.join(SEQUENCE_RIGHTS)} ON SEQUENCE {found.group(1)} TO {user};"
    elif found := _DENIED_SCHEMA.search(words):
        grant = f"GRANT USAGE ON SCHEMA {found.group(1)} TO {user};"
    elif found := _DENIED_TEMPORARY.search(words):
        grant = f"GRANT TEMPORARY ON DATABASE {shown(found.group(1))} TO {user};"
    else:
        return None
    where = f" while {'syncing' if railway else 'reading'} {table}" if table else ""
    left = f" ({outcome})" if outcome else ""
    return PermissionMissing(
        f"{fill['Server']} refused the user in {fill['variable']} ({user}){where}: {words}"
        f"{left}. Run on {fill['server']} as the owner: {grant}"
    )


# Railway's private network: a service's address there, reachable only from services in the
# same Railway project and environment (its DATABASE_URL; DATABASE_PUBLIC_URL is the proxy).
RAILWAY_PRIVATE_SUFFIX = ".railway.internal"
UNRESOLVED_HOST = re.compile(r'could not translate host name "([^"]+)"')


def unresolved_private_host(exc: BaseException) -> str | None:
    """The Railway private address (``postgres.railway.internal``) ``exc`` failed to resolve,
    if that is what it says: run outside Railway, such a name never resolves, so it is not
    worth a retry. None for any other error (a private address that resolved connects as any
    other host)."""
    match = UNRESOLVED_HOST.search(str(exc))
    host = match.group(1).lower().rstrip(".") if match else ""
    return host if host.endswith(RAILWAY_PRIVATE_SUFFIX) else None


def private_network_line(alias: str, host: str) -> str:
    """What to do about ``host``, Railway's private address, unresolvable here."""
    return (
        f"{host} is Railway's private network address, reachable only from services in the "
        f"same Railway project; from outside Railway, set {url_variable(alias)} to the "
        "database's DATABASE_PUBLIC_URL (its Variables tab)."
    )


def explain(
    alias: str,
    exc: BaseException,
    *,
    timeout: float | None = None,
    timeout_setting: str = "RAILWAY_CONNECTION_TIMEOUT",
) -> str:
    """A one-line, password-free explanation of a connection error on ``alias``, with the fix.

    ``timeout`` is the time connecting was given in all, which ``timeout_setting`` sets.
    """
    variable = url_variable(alias)
    private_host = unresolved_private_host(exc)
    if private_host:
        return private_network_line(alias, private_host)
    text = scrub(first_line(exc), password_of(alias))
    lowered = driver.message(raw_error(exc)).lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        hint = f"Check the user and password in {variable}."
    elif "database" in lowered and "does not exist" in lowered:
        hint = f"Check the database name at the end of {variable}."
    elif "timeout expired" in lowered:
        if timeout is None:
            options = connections[alias].settings_dict.get("OPTIONS") or {}
            timeout = float(options.get("connect_timeout") or 0)
        hint = (
            f"No answer within {timeout:g} s: check the host and port in {variable} and the "
            f"network, or raise {timeout_setting}."
        )
    elif "could not translate host name" in lowered or "connection refused" in lowered:
        hint = f"Check the host and port in {variable} and that the database is running."
    elif "server closed the connection" in lowered or "connection already closed" in lowered:
        hint = "The connection was lost; run the command again once the database is reachable."
    else:
        hint = f"Check {variable} and that the database is reachable."
    return f"{text} ({hint})"


__all__ = [
    "CAUSES",
    "explain",
    "on_table",
    "on_tables",
    "one_line",
    "translate",
    "unresolved_private_host",
]


def one_line(exc: BaseException, *, table: str = "") -> str:
    """An error as a page shows it, in one line: a lock that never came names the table
    (``table``, if the page knows it), the session holding it and the fix."""
    if not isinstance(exc, RailwaySyncError) and sqlstate(exc) == "55P03":
        return str(translate(exc, table=table))
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@contextmanager
def on_table(table: str, outcome: str) -> Iterator[None]:
    """Name the table, the database and the cause when a statement on ``table`` fails;
    ``outcome`` says what is left written ("nothing in animals was written")."""
    try:
        yield
    except RailwaySyncError:
        raise
    except (DatabaseError, InterfaceError) as exc:
        raise translate(exc, table=table, outcome=outcome) from None


@contextmanager
def on_tables(tables: Sequence[str], outcome: str) -> Iterator[None]:
    """As ``on_table``, for statements that read several tables at once (the run's batched
    reads): a statement that gave up waiting for a lock names the table another session
    holds locked, asked of the server afterwards (a statement that fails does not say)."""
    try:
        yield
    except RailwaySyncError:
        raise
    except (DatabaseError, InterfaceError) as exc:
        # A statement cancelled (statement_timeout) while it waited names the one table
        # another session holds against reads, if there is one.
        locked = locked_table(exc, tables) if sqlstate(exc) == "57014" else None
        raise translate(exc, table=locked or "", outcome=outcome, tables=tables) from None
