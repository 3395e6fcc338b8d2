"""Opening the two databases: retries within one deadline, the session set up the same way."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import DatabaseError, InterfaceError, OperationalError

from railway_sync import conf
from railway_sync.dburl import DEFAULT_CONNECTION_TIMEOUT
from railway_sync.errors import ConnectionFailed, NotConfigured, SameDatabase
from railway_sync.pg.error_source import url_variable
from railway_sync.pg.failures import explain, unresolved_private_host

logger = logging.getLogger(__name__)

# Row hashes and COPY text must read the same on both servers, whatever their defaults.
SESSION_SETTINGS = {
    "datestyle": "ISO,YMD",
    "intervalstyle": "postgres",
    "extra_float_digits": "3",
    "bytea_output": "hex",
}

# libpq treats a connect_timeout below 2 s as 2 s.
MIN_CONNECT_TIMEOUT = 2

# (seconds, setting) while inside connecting_within(); per thread, so per admin request.
_time_limit: ContextVar[tuple[float, str] | None] = ContextVar(
    "railway_sync_time_limit", default=None
)


def require_configured(alias: str) -> None:
    """Raise :class:`NotConfigured` unless ``alias`` is a usable database."""
    problem = conf.url_errors().get(alias)
    if problem:
        raise NotConfigured(problem)
    if alias not in settings.DATABASES:
        raise NotConfigured(
            f"No database alias {alias!r} in DATABASES. "
            f"Set {url_variable(alias)} (see .env.example)."
        )


def describe(alias: str) -> str:
    """``postgresql://user:***@host:port/name`` for ``alias``: enough to recognise, no secret."""
    entry = settings.DATABASES[alias]
    user = entry.get("USER") or ""
    password = ":***" if entry.get("PASSWORD") else ""
    host = entry.get("HOST") or (entry.get("OPTIONS") or {}).get("host") or "localhost"
    port = f":{entry['PORT']}" if entry.get("PORT") else ""
    at = f"{user}{password}@" if user else ""
    return f"postgresql://{at}{host}{port}/{entry.get('NAME', '')}"


TRANSIENT_MARKERS = (
    "connection refused",
    "timeout expired",
    "could not connect",
    "server closed the connection",
    "connection reset",
    "the database system is starting up",
    "the database system is shutting down",
    "could not translate host name",
    "no route to host",
)


def is_transient(exc: BaseException) -> bool:
    """Whether a connection error may go away by itself (never a wrong password or name,
    nor Railway's private address where it does not resolve: outside Railway it never will)."""
    if unresolved_private_host(exc):
        return False
    text = str(exc).lower()
    return any(marker in text for marker in TRANSIENT_MARKERS)


@contextmanager
def connecting_within(seconds: float, setting: str) -> Iterator[None]:
    """Connections opened inside give up after ``seconds`` in all, retries included, instead
    of the configured connection timeout; failures name ``setting`` as the one to raise.

    The admin uses it so that an unreachable Railway never holds a web worker for long.
    """
    token = _time_limit.set((seconds, setting))
    try:
        yield
    finally:
        _time_limit.reset(token)


def _time_allowed(alias: str) -> tuple[float, str]:
    """(seconds to spend connecting to ``alias`` in all, the setting that says so)."""
    limit = _time_limit.get()
    if limit is not None:
        return limit
    options = connections[alias].settings_dict.get("OPTIONS") or {}
    seconds = float(options.get("connect_timeout") or DEFAULT_CONNECTION_TIMEOUT)
    return seconds, "RAILWAY_CONNECTION_TIMEOUT"


@contextmanager
def _connect_timeout(connection: BaseDatabaseWrapper, seconds: int) -> Iterator[None]:
    """Open ``connection`` with libpq's ``connect_timeout`` at ``seconds``."""
    shared = connection.settings_dict
    # DATABASES is shared by every thread's connection: this one gets a copy of its own.
    options = {**(shared.get("OPTIONS") or {}), "connect_timeout": seconds}
    connection.settings_dict = {**shared, "OPTIONS": options}
    try:
        yield
    finally:
        connection.settings_dict = shared


def connect(alias: str) -> None:
    """Open ``alias``, retrying transient failures with backoff; set the session up.

    All attempts and the pauses between them share one deadline, the connection timeout
    (``RAILWAY_CONNECTION_TIMEOUT``, or :func:`connecting_within`'s), so a host that never
    answers fails within the time the message states. Raises :class:`ConnectionFailed` (or
    :class:`NotConfigured`) with a one-line reason.
    """
    require_configured(alias)
    connection = connections[alias]
    allowed, setting = _time_allowed(alias)
    deadline = time.monotonic() + allowed
    attempts = conf.connect_attempts()
    delay = conf.connect_retry_delay()
    timeout = max(MIN_CONNECT_TIMEOUT, int(allowed))
    for attempt in range(1, attempts + 1):
        try:
            _send_settings_at_startup(connection)
            with _connect_timeout(connection, timeout):
                connection.ensure_connection()
            # Opened earlier (by Django itself), before the lock timeout changed.
            _settle(connection)
            return
        except (OperationalError, InterfaceError, DatabaseError) as exc:
            connection.close()
            # The time left after the pause; libpq cannot wait less than 2 s, so below that
            # another attempt would overrun the deadline.
            timeout = int(deadline - time.monotonic() - delay)
            if attempt < attempts and is_transient(exc) and timeout >= MIN_CONNECT_TIMEOUT:
                logger.warning(
                    "Connecting to %s failed (attempt %d of %d); retrying in %.1f s",
                    alias,
                    attempt,
                    attempts,
                    delay,
                )
                time.sleep(delay)
                delay *= 2
                continue
            tries = f" after {attempt} attempts" if attempt > 1 else ""
            reason = explain(alias, exc, timeout=allowed, timeout_setting=setting)
            raise ConnectionFailed(reason + tries) from None


def session_settings(connection: BaseDatabaseWrapper) -> dict[str, str]:
    """The settings every session on either database gets: ``SESSION_SETTINGS``, the lock
    timeout (``RAILWAY_LOCK_TIMEOUT``, read now) and Django's ``TimeZone``."""
    settings = {**SESSION_SETTINGS, "lock_timeout": f"{int(conf.lock_timeout() * 1000)}ms"}
    if connection.timezone_name:
        # Django would otherwise set it by a statement of its own once connected.
        settings["TimeZone"] = connection.timezone_name
    return settings


# Where a DATABASES entry remembers the options railway_sync put in front of the URL's own,
# so that they are replaced (a lock timeout changed since) and never added twice.
_OURS = "RAILWAY_SYNC_SESSION_OPTIONS"
_GIVEN_SETTING = re.compile(r"-c\s*([\w.]+)\s*=")


def _send_settings_at_startup(connection: BaseDatabaseWrapper) -> None:
    """Put the session settings in the connection's startup packet, where they cost no round
    trip (Railway is 50-150 ms away); settings the URL gives itself (``?options=-c ...``)
    come after ours and win.

    ``lock_timeout`` makes a table locked by another session fail the command, naming the
    table, instead of making it wait forever; ``TimeZone`` is Django's (``TIME_ZONE``).
    """
    settings_dict = connection.settings_dict
    options = settings_dict.setdefault("OPTIONS", {})
    given = str(options.get("options") or "")
    previous = settings_dict.get(_OURS)
    if previous and given.startswith(previous):
        given = given[len(previous) :].strip()
    ours = " ".join(f"-c {name}={value}" for name, value in session_settings(connection).items())
    options["options"] = f"{ours} {given}".strip()
    settings_dict[_OURS] = ours


def prepare_sessions() -> None:
    """Give every connection to the local database and Railway the session settings, however
    it is opened: by ``connect``, or first by Django itself (the run history, the admin's
    pages), which would otherwise wait forever for a locked table. Called once Django is
    set up (``apps.py``)."""
    for alias in (conf.local_alias(), conf.railway_alias()):
        if alias in settings.DATABASES:
            _send_settings_at_startup(connections[alias])


def settle_session(sender: object, connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    """``connection_created``: a new session on either database that did not get the current
    settings in its startup packet gets them by one statement."""
    if connection.alias in (conf.local_alias(), conf.railway_alias()):
        _settle(connection, just_opened=True)


# The session settings a connection has been given, as the "-c ..." text, on its wrapper.
_APPLIED = "railway_sync_session"


def _settle(connection: BaseDatabaseWrapper, *, just_opened: bool = False) -> None:
    """Give the open ``connection`` the current session settings unless it has them; settings
    its URL gives itself (``?options=-c ...``) stay."""
    wanted = session_settings(connection)
    ours = " ".join(f"-c {name}={value}" for name, value in wanted.items())
    # A session just opened is new: what an earlier one of this wrapper was given says nothing.
    if not just_opened and getattr(connection, _APPLIED, None) == ours:
        return
    given = str((connection.settings_dict.get("OPTIONS") or {}).get("options") or "")
    if just_opened and given.startswith(ours):
        setattr(connection, _APPLIED, ours)  # sent in the startup packet
        return
    previous = str(connection.settings_dict.get(_OURS) or "")
    url_part = given[len(previous) :] if previous and given.startswith(previous) else given
    own = set(_GIVEN_SETTING.findall(url_part))
    missing = {name: value for name, value in wanted.items() if name not in own}
    if missing:
        with connection.connection.cursor() as cursor:
            cursor.execute(
                "SELECT " + ", ".join("set_config(%s, %s, false)" for _ in missing),
                [part for item in missing.items() for part in item],
            )
    setattr(connection, _APPLIED, ours)


def server_version(alias: str) -> tuple[str, str]:
    """``(server version, current database)`` of ``alias``, which must be connected."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version'), current_database()")
        version, database = cursor.fetchone()
    return version, database


@dataclass(frozen=True)
class ServerIdentity:
    """Which PostgreSQL cluster, server and database a connection reached, and where the
    cluster's WAL stood when asked."""

    # Chosen by initdb; copies of the data folder (backups, replicas) keep it. None when not
    # asked for, or when the role may not call pg_control_system() (some hosted servers
    # revoke it).
    system_identifier: int | None
    database_oid: int
    database: str
    started_at: datetime
    # pg_current_wal_lsn(), or pg_last_wal_replay_lsn() on a standby, as pg_lsn text.
    wal_position: str

    def same_database(self, other: ServerIdentity) -> bool:
        """Whether both were read from one database of one running server.

        The start time of the server tells it from a copy (which shares the system identifier
        and every oid), and stands in for the system identifier where it cannot be read.
        """
        if (
            self.system_identifier is not None
            and other.system_identifier is not None
            and self.system_identifier != other.system_identifier
        ):
            return False
        return (self.database_oid, self.database, self.started_at) == (
            other.database_oid,
            other.database,
            other.started_at,
        )


def server_identity(alias: str, *, system_identifier: bool = True) -> ServerIdentity:
    """What the server behind ``alias`` (connected) says about itself; read-only, and safe
    inside a transaction: nothing here can fail for want of a privilege.

    The system identifier takes a second round trip; without ``system_identifier`` it is
    not read (None).
    """
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE'), "
            "(SELECT oid FROM pg_database WHERE datname = current_database()), "
            "current_database(), pg_postmaster_start_time(), "
            "(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
            "ELSE pg_current_wal_lsn() END)::text"
        )
        may_read_control, oid, database, started_at, wal_position = cursor.fetchone()
        identifier = None
        if system_identifier and may_read_control:
            # A separate statement: a refused function call would abort the transaction.
            cursor.execute("SELECT system_identifier FROM pg_control_system()")
            identifier = int(cursor.fetchone()[0])
    return ServerIdentity(identifier, int(oid), database, started_at, wal_position)


def refuse_same_database(
    local: str, railway: str, railway_identity: ServerIdentity | None = None
) -> None:
    """Raise :class:`SameDatabase` when ``railway`` reaches the very database ``local`` does.

    Settings cannot tell (a socket path and a host name, two names for one host); what the
    two servers say about themselves can. Both aliases must be connected;
    ``railway_identity``, when the caller read it already (``railway_facts``), saves asking.
    """

    def identity(alias: str, *, system_identifier: bool = True) -> ServerIdentity:
        try:
            return server_identity(alias, system_identifier=system_identifier)
        except (OperationalError, InterfaceError) as exc:
            raise ConnectionFailed(explain(alias, exc)) from None

    here = identity(local)
    # Railway is far away: its system identifier (a second round trip) is read only to
    # confirm a match.
    first_look = railway_identity or identity(railway, system_identifier=False)
    if here.same_database(first_look) and here.same_database(identity(railway)):
        raise SameDatabase(
            f"{url_variable(railway)} reaches the local database ({here.database} on the same "
            f"PostgreSQL server as {url_variable(local)}); nothing was changed. Point "
            f"{url_variable(railway)} at the Railway database, not the local one."
        )


__all__ = [
    "connect",
    "connecting_within",
    "describe",
    "refuse_same_database",
    "require_configured",
    "server_identity",
    "server_version",
]
