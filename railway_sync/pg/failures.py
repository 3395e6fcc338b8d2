"""Driver errors turned into typed errors: which database failed, what happened, and the fix.

``CAUSES`` maps a SQLSTATE to its cause and fix, in one place; ``translate`` finds which
database raised an error during a sync and builds the one line; ``explain`` reads the errors
libpq raises while connecting, which carry no SQLSTATE, only words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.utils import DatabaseError, InterfaceError, OperationalError

from railway_sync import conf
from railway_sync.dburl import scrub
from railway_sync.errors import (
    ConnectionFailed,
    LockTimedOut,
    OutOfResources,
    PermissionMissing,
    QueryFailed,
    RailwaySyncError,
    StatementCancelled,
    TransactionConflict,
    WriteFailed,
)
from railway_sync.pg import driver


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
        return _lock_timed_out(exc, alias, table, outcome, tables)
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
    # Imported here: rights reads railway_facts, which needs this module loaded first.
    from railway_sync.engine.rights import SEQUENCE_RIGHTS, shown, table_grant

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
    "unresolved_private_host",
    "url_variable",
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
        locked = _locked_table(exc, tables) if sqlstate(exc) == "57014" else None
        raise translate(exc, table=locked or "", outcome=outcome, tables=tables) from None


def _locked_table(exc: BaseException, tables: Sequence[str]) -> str | None:
    """The one table of ``tables`` another session holds in ACCESS EXCLUSIVE mode (what
    blocks a read) on the database whose statement raised ``exc``; None if not just one."""
    alias = failing_alias(exc) or conf.railway_alias()
    found = {h.table for h in lock_holders(alias, tables) if h.mode == "AccessExclusiveLock"}
    return found.pop() if len(found) == 1 else None


# Table lock modes, weakest first: a stronger one blocks more (PostgreSQL's "Table-Level Lock
# Modes"), so the strongest lock another session holds is the likeliest cause of a wait.
LOCK_MODES = (
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
)
# Seconds to connect for the question "who holds it?", asked only after a lock wait failed.
HOLDER_CONNECT_TIMEOUT = 5
# Characters of the holder's query shown: enough to recognise it, never a whole statement.
QUERY_SHOWN = 80
_PASSWORD_LITERAL = re.compile(r"(password\s+)'(?:[^']|'')*'", re.IGNORECASE)
_RELATION_IN_CONTEXT = re.compile(r'in relation "([^"]+)"')


@dataclass(frozen=True)
class LockHolder:
    """A session holding a lock on a table, as ``pg_locks`` and ``pg_stat_activity`` say
    (the latter's fields are None where the role may not see other users' sessions)."""

    table: str
    mode: str
    pid: int
    user: str | None
    application: str | None
    transaction_seconds: float | None
    query_started: datetime | None
    query: str | None

    def describe(self, server: str, password: str | None = None) -> str:
        """``pid 4242 on Railway (user app, application psql; AccessExclusiveLock in a
        transaction open 45 s; its last query started 04:20:05 UTC: LOCK TABLE ...)``."""
        who = [f"user {self.user}"] if self.user else []
        if self.application:
            who.append(f"application {self.application}")
        what = self.mode
        if self.transaction_seconds is not None:
            what += f" in a transaction open {self.transaction_seconds:.0f} s"
        details = [", ".join(who), what]
        if self.query_started is not None:
            query = " ".join((self.query or "").split())
            query = _PASSWORD_LITERAL.sub(r"\1'***'", scrub(query, password))
            if len(query) > QUERY_SHOWN:
                query = query[: QUERY_SHOWN - 1] + "…"
            started = self.query_started.astimezone(UTC)
            details.append(f"its last query started {started:%H:%M:%S} UTC: {query}")
        return f"pid {self.pid} on {server} (" + "; ".join(d for d in details if d) + ")"


def _own_sessions(alias: str) -> list[int]:
    """This process's backend pids on the server behind ``alias`` (its locks are not
    another session's)."""
    pids = []
    for name in _aliases():
        raw = connections[name].connection
        try:
            pids.append(int(raw.info.backend_pid)) if raw is not None else None
        except Exception:  # a broken connection has no pid to give
            continue
    return pids


def lock_holders(alias: str, tables: Sequence[str]) -> list[LockHolder]:
    """The sessions, other than this process's, holding a lock on ``tables`` of ``alias``'s
    database (any table when ``tables`` is empty), strongest lock first.

    Asked through a connection of its own: the statement that gave up has usually failed
    its transaction. Empty when it cannot be asked; never raises.
    """
    wrapper = connections.create_connection(alias)
    options = {**(wrapper.settings_dict.get("OPTIONS") or {})}
    options["connect_timeout"] = HOLDER_CONNECT_TIMEOUT
    wrapper.settings_dict = {**wrapper.settings_dict, "OPTIONS": options}
    try:
        with wrapper.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname, l.mode, l.pid, a.usename, a.application_name, "
                "extract(epoch FROM now() - a.xact_start), a.query_start, a.query "
                "FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.granted AND l.locktype = 'relation' "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND l.pid <> pg_backend_pid() AND NOT l.pid = ANY(%s) "
                "AND (cardinality(%s::text[]) = 0 OR c.relname = ANY(%s::text[])) "
                "AND c.relkind IN ('r', 'p') "
                "ORDER BY a.xact_start NULLS LAST, l.pid",
                [_own_sessions(alias), list(tables), list(tables)],
            )
            rows = cursor.fetchall()
    except Exception:  # only ever a detail of another failure
        return []
    finally:
        with suppress(Exception):
            wrapper.close()
    holders = [
        LockHolder(
            table,
            mode,
            int(pid),
            user,
            application or None,
            None if seconds is None else float(seconds),
            started,
            query,
        )
        for table, mode, pid, user, application, seconds, started, query in rows
    ]
    strength = {mode: rank for rank, mode in enumerate(LOCK_MODES)}
    return sorted(holders, key=lambda holder: -strength.get(holder.mode, 0))


def _lock_timed_out(
    exc: BaseException,
    alias: str,
    table: str | None,
    outcome: str | None,
    tables: Sequence[str],
) -> LockTimedOut:
    """The one line for a lock wait that gave up: the side, the table, who holds it, the fix."""
    railway = alias == conf.railway_alias()
    server = server_name(alias)
    context = getattr(getattr(_raw_error(exc), "diag", None), "context", None) or ""
    found = _RELATION_IN_CONTEXT.search(context)
    table = table or (found.group(1) if found else "")
    # The table named first, then the tables the statement read, then any table (Railway's
    # own bookkeeping tables, django_migrations).
    holders: list[LockHolder] = []
    for candidates in ([table] if table else [], list(tables), []):
        if candidates or not holders:
            holders = lock_holders(alias, candidates)
        if holders:
            break
    if not table and holders:
        table = holders[0].table
    locked = f"{'Railway' if railway else 'The local'} table {table}" if table else ""
    gave_up = f"gave up after {conf.lock_timeout():g} s (RAILWAY_LOCK_TIMEOUT)"
    line = (
        f"{locked or 'A table on ' + server} is locked by another session; {gave_up}"
        + (f" and {outcome}" if outcome else "")
        + "."
    )
    if not holders:
        return LockTimedOut(
            line + " Run it again once the lock is released (pg_stat_activity on "
            f"{server} shows who holds it)."
        )
    holder = holders[0]
    on = f" {holder.table}" if holder.table != table else ""
    return LockTimedOut(
        f"{line} Held{on} by {holder.describe(server, _password(alias))}. Run it again once "
        f"that session ends, or end it with SELECT pg_terminate_backend({holder.pid}) on "
        f"{server}."
    )
