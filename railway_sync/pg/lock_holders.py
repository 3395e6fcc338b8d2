"""Who holds the lock a statement gave up waiting for, and the one line that names them.

Asked of ``pg_locks`` and ``pg_stat_activity`` through a connection of its own, only after a
lock wait failed (``55P03``) or a statement was cancelled while it waited: the session
holding the strongest lock, its user, application, transaction age and last query (no
password), and the fix (wait for it, or ``pg_terminate_backend``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connections

from railway_sync import conf
from railway_sync.dburl import scrub
from railway_sync.errors import LockTimedOut
from railway_sync.pg.error_source import (
    failing_alias,
    password_of,
    raw_error,
    server_name,
    synced_aliases,
)

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
    for name in synced_aliases():
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


def lock_timed_out(
    exc: BaseException,
    alias: str,
    table: str | None,
    outcome: str | None,
    tables: Sequence[str],
) -> LockTimedOut:
    """The one line for a lock wait that gave up: the side, the table, who holds it, the fix."""
    railway = alias == conf.railway_alias()
    server = server_name(alias)
    context = getattr(getattr(raw_error(exc), "diag", None), "context", None) or ""
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
        f"{line} Held{on} by {holder.describe(server, password_of(alias))}. Run it again once "
        f"that session ends, or end it with SELECT pg_terminate_backend({holder.pid}) on "
        f"{server}."
    )


def locked_table(exc: BaseException, tables: Sequence[str]) -> str | None:
    """The one table of ``tables`` another session holds in ACCESS EXCLUSIVE mode (what
    blocks a read) on the database whose statement raised ``exc``; None if not just one."""
    alias = failing_alias(exc) or conf.railway_alias()
    found = {h.table for h in lock_holders(alias, tables) if h.mode == "AccessExclusiveLock"}
    return found.pop() if len(found) == 1 else None
