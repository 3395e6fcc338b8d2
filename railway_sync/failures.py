"""Driver errors turned into typed errors: which database failed, what happened, and the fix.

``CAUSES`` maps a SQLSTATE to its cause and fix, in one place; ``translate`` finds which
database raised an error during a sync and builds the one line; ``explain`` reads the errors
libpq raises while connecting, which carry no SQLSTATE, only words.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.utils import DatabaseError, InterfaceError, OperationalError

from railway_sync import conf, driver
from railway_sync.dburl import scrub
from railway_sync.errors import (
    ConnectionFailed,
    LockTimedOut,
    OutOfResources,
    QueryFailed,
    RailwaySyncError,
    StatementCancelled,
    TransactionConflict,
    WriteFailed,
)


def url_variable(alias: str) -> str:
    """The environment variable that configures ``alias`` in this project."""
    return "RAILWAY_DATABASE_URL" if alias == conf.railway_alias() else "DATABASE_URL"


def server_name(alias: str) -> str:
    """How a message names ``alias`` mid-sentence: "Railway" or "the local database"."""
    return "Railway" if alias == conf.railway_alias() else "the local database"


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


def _raw_error(exc: BaseException) -> BaseException:
    """The driver's exception behind Django's wrapper."""
    return exc.__cause__ or exc


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE the server sent with ``exc``; None for errors libpq raised itself."""
    return driver.sqlstate(_raw_error(exc))


def _aliases() -> list[str]:
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
    raw = driver.error_connection(_raw_error(exc))
    if raw is None:
        return None
    aliases = _aliases()
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


def _password(alias: str) -> str | None:
    return (settings.DATABASES.get(alias) or {}).get("PASSWORD") or None


def _first_line(exc: BaseException) -> str:
    text = driver.message(_raw_error(exc)).strip()
    return next((line.strip() for line in text.splitlines() if line.strip()), repr(exc))


def driver_words(exc: BaseException, alias: str) -> str:
    """The server's (or libpq's) own message for ``exc``, one line, no password."""
    diag = driver.diagnostics(_raw_error(exc))
    words = (getattr(diag, "message_primary", None) or "").strip() or _first_line(exc)
    return scrub(words, _password(alias))


def translate(
    exc: BaseException, *, table: str | None = None, outcome: str | None = None
) -> RailwaySyncError:
    """The typed error, with its one line, for a driver error raised during a sync.

    ``table`` is the table being synced; the error's own diagnostics win, since a deferred
    constraint fails when the transaction is checked, after the loop has moved on.
    ``outcome`` says what is left written, e.g. "nothing was written".
    """
    alias = failing_alias(exc) or conf.railway_alias()
    code = sqlstate(exc) or ""
    diag = driver.diagnostics(_raw_error(exc))
    table = getattr(diag, "table_name", None) or table
    railway = alias == conf.railway_alias()
    server = server_name(alias)
    fill = {"server": server, "Server": server[0].upper() + server[1:]}
    fill["variable"] = url_variable(alias)
    words = driver_words(exc, alias)
    where = f" while {'syncing' if railway else 'reading'} {table}" if table else " during the sync"
    left = f" ({outcome})" if outcome else ""
    if code == "55P03":
        gave_up = f"gave up after {conf.lock_timeout():g} s (RAILWAY_LOCK_TIMEOUT)"
        locked = f"{'Railway' if railway else 'The local'} table {table}" if table else ""
        return LockTimedOut(
            f"{locked or 'A table on ' + server} is locked by another session; {gave_up}"
            + (f" and {outcome}" if outcome else "")
            + ". Run the sync again once the lock is released (pg_stat_activity shows who "
            "holds it)."
        )
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
        text = f"{words}. {scrub(detail, _password(alias))}" if detail else words
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
    text = scrub(_first_line(exc), _password(alias))
    lowered = driver.message(_raw_error(exc)).lower()
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
    "failing_alias",
    "lock_holder",
    "sqlstate",
    "translate",
    "url_variable",
]


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
    reads): a statement cancelled while it waited for a lock names the table another session
    holds locked, asked of the server afterwards (a statement that fails does not say)."""
    try:
        yield
    except RailwaySyncError:
        raise
    except (DatabaseError, InterfaceError) as exc:
        locked = _locked_table(exc, tables) if sqlstate(exc) in ("55P03", "57014") else None
        raise translate(exc, table=locked or "", outcome=outcome) from None


def _locked_table(exc: BaseException, tables: Sequence[str]) -> str | None:
    """The one table of ``tables`` another session holds in ACCESS EXCLUSIVE mode (what
    blocks a read) on the database whose statement raised ``exc``; None if not just one, or
    if the connection cannot ask (its transaction failed with the statement)."""
    alias = failing_alias(exc) or conf.railway_alias()
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE l.granted AND l.mode = 'AccessExclusiveLock' "
                "AND l.pid <> pg_backend_pid() AND c.relname = ANY(%s) "
                "AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())",
                [list(tables)],
            )
            found = [row[0] for row in cursor.fetchall()]
    except (DatabaseError, InterfaceError):
        return None
    return found[0] if len(found) == 1 else None
