"""The one module that imports a PostgreSQL driver: psycopg 3 where Django's connections use
it, psycopg2 otherwise.

Django decides (``django.db.backends.postgresql.psycopg_any``: psycopg 3 when it imports, else
psycopg2), and this module follows, so the raw connection behind ``connections[alias]`` is
always of the driver imported here. Everything the app asks of a driver beyond DB-API goes
through these functions: connecting outside Django, server-side cursors, COPY in and out,
quoting a literal, the SQLSTATE and diagnostics of an error, which connection raised it, and
a connection's parameters. ``tests/test_driver.py`` fails if another module imports a driver.

Both drivers speak the same protocol here: statements go as simple queries (Django's
psycopg 3 cursors bind client-side, as psycopg2 does), server-side cursors are plain
``DECLARE``/``FETCH``/``CLOSE`` statements, and COPY streams row by row, so a command makes
the same round trips and reads the same text whichever driver runs it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Generator
from typing import IO, Any

from django.db.backends.postgresql.psycopg_any import is_psycopg3

if is_psycopg3:
    import psycopg as Database
    from psycopg.conninfo import conninfo_to_dict
else:
    import psycopg2 as Database
    from psycopg2.extensions import parse_dsn


class _CopyEndFailures(logging.Filter):
    """psycopg 3 logs a warning when a COPY that failed cannot be ended either (the
    connection is gone). The failure itself is raised and the command reports it in one line;
    the warning would print a second, with an object's repr, on stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.msg == "error ignored terminating %r: %s"
            and bool(record.args)
            and isinstance(record.args, tuple)
            and type(record.args[0]).__name__ == "Copy"
        )


if is_psycopg3:
    logging.getLogger("psycopg").addFilter(_CopyEndFailures())

# "psycopg" or "psycopg2", with its version: what the README's tables call the driver.
NAME = "psycopg" if is_psycopg3 else "psycopg2"
VERSION = str(Database.__version__).split()[0]

# The driver's own exception classes, for code that talks to a connection Django does not
# wrap (``connect`` below).
Error: type[Exception] = Database.Error
OperationalError: type[Exception] = Database.OperationalError

# How many bytes COPY moves per call: COPY FROM STDIN reads its source this much at a time,
# and what COPY TO STDOUT gives out a row at a time (as both drivers do) is gathered into
# pieces this big before it is written on. Row by row, and 8 KiB at a time, the relay's two
# threads kept taking turns at Python's lock and Railway's COPY waited for data: a COPY of
# 200,000 animals took 3.5 to 5.2 s this way (10 runs of 12 over 4.2 s) against 3.2 to 3.7 s
# with 64 KiB pieces and a wider pipe (``engine/load.stream_copy``); PostgreSQL alone loads
# them from a file in 2.9 s.
COPY_CHUNK = 1 << 16


def connect(*, autocommit: bool = False, **params: Any) -> Any:
    """A connection of the driver's own, outside Django (creating databases, tests), with
    libpq ``params`` (``host``, ``dbname``, ``user``, ``connect_timeout``...) or a ``dsn``.

    Its cursors bind parameters client-side under both drivers, so ``%s`` placeholders and
    several statements in one ``execute`` work alike.
    """
    dsn = params.pop("dsn", "")
    if is_psycopg3:
        return Database.connect(
            dsn, autocommit=autocommit, cursor_factory=Database.ClientCursor, **params
        )
    connection = Database.connect(dsn, **params)
    connection.autocommit = autocommit
    return connection


def server_cursor(raw: Any, sql: str, fetch_rows: int) -> Generator[list[tuple], None, None]:
    """The rows of ``sql`` on the raw connection ``raw``, ``fetch_rows`` at a time, through a
    server-side cursor (the last list is empty).

    ``DECLARE ... CURSOR FOR``, ``FETCH FORWARD n`` until nothing comes, ``CLOSE``: what
    psycopg2's named cursors send, written out so both drivers send it (psycopg 3's server
    cursors would add a round trip to describe the cursor). In autocommit the cursor is
    declared ``WITH HOLD``, as a named cursor outside a transaction must be.
    """
    name = f'"railway_sync_{uuid.uuid4().hex}"'
    hold = "WITH" if raw.autocommit else "WITHOUT"
    with raw.cursor() as cursor:
        cursor.execute(f"DECLARE {name} CURSOR {hold} HOLD FOR {sql}")
        try:
            while True:
                cursor.execute(f"FETCH FORWARD {int(fetch_rows)} FROM {name}")
                rows = cursor.fetchall()
                yield rows
                if not rows:
                    break
        finally:
            # After a failed statement the server has dropped the cursor already; closing it
            # again must not replace the real error.
            with contextlib.suppress(Exception):
                cursor.execute(f"CLOSE {name}")


class _Gathering:
    """Hands what is written to it on to ``writer`` in pieces of ``COPY_CHUNK`` bytes or more
    (the last one as ``flush`` is called)."""

    def __init__(self, writer: IO[bytes]) -> None:
        self.writer = writer
        self.pending = bytearray()

    def write(self, data: bytes) -> int:
        self.pending += data
        if len(self.pending) >= COPY_CHUNK:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.pending:
            piece, self.pending = self.pending, bytearray()
            self.writer.write(piece)


def copy_out(cursor: Any, sql: str, writer: IO[bytes]) -> None:
    """Run ``COPY ... TO STDOUT`` ``sql`` on ``cursor`` (Django's or the driver's), writing
    what comes to ``writer`` in pieces of ``COPY_CHUNK`` bytes (a whole row may be split)."""
    gathering = _Gathering(writer)
    if is_psycopg3:
        with cursor.copy(sql) as copy:
            for data in copy:
                gathering.write(data)
    else:
        cursor.copy_expert(sql, gathering)
    gathering.flush()


def copy_in(cursor: Any, sql: str, reader: IO[bytes]) -> None:
    """Run ``COPY ... FROM STDIN`` ``sql`` on ``cursor`` (Django's or the driver's), reading
    what it loads from ``reader`` until it ends."""
    if is_psycopg3:
        with cursor.copy(sql) as copy:
            while data := reader.read(COPY_CHUNK):
                copy.write(data)
    else:
        cursor.copy_expert(sql, reader, COPY_CHUNK)


def quote_literal(raw: Any, value: str) -> str:
    """``value`` as an SQL string literal, quoted by the driver for the raw connection ``raw``
    (its encoding and ``standard_conforming_strings``)."""
    if is_psycopg3:
        return Database.ClientCursor(raw).mogrify("%s", [value])
    with raw.cursor() as cursor:
        return str(cursor.mogrify("%s", [value]).decode())


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE the server sent with the driver's ``error``; None for errors libpq or the
    driver raised itself."""
    if is_psycopg3:
        return getattr(error, "sqlstate", None)
    return getattr(error, "pgcode", None)


# psycopg 3 puts the libpq call that failed before libpq's own words ("sending copy data
# failed: server closed the connection unexpectedly"); psycopg2 gives libpq's words alone.
_LIBPQ_CALL = re.compile(r"^[a-z][a-z_ ]* failed: ")


def message(error: BaseException) -> str:
    """The driver's ``error`` as text, in the same words under both drivers: the server's
    message, or libpq's for errors it raised itself (a lost connection, a refused one)."""
    text = str(error)
    if is_psycopg3 and sqlstate(error) is None:
        text = _LIBPQ_CALL.sub("", text.lstrip(), count=1)
    return text


def diagnostics(error: BaseException) -> Any:
    """The server's fields of the driver's ``error`` (``message_primary``, ``message_detail``,
    ``table_name``...), or None. Both drivers name them alike."""
    return getattr(error, "diag", None)


def error_connection(error: BaseException) -> Any:
    """The raw connection whose statement raised the driver's ``error``; None when no
    statement did (a failed commit, a failed connection attempt).

    psycopg2 errors name their cursor. psycopg 3 errors do not, so the cursor (or COPY) is
    found where it raised the error, in the frames the error passed through.
    """
    if not is_psycopg3:
        return getattr(getattr(error, "cursor", None), "connection", None)
    traceback = error.__traceback__
    found = None
    while traceback is not None:
        owner = traceback.tb_frame.f_locals.get("self")
        if isinstance(owner, Database.Cursor | Database.Copy):
            connection = owner.connection
            if isinstance(connection, Database.Connection):
                found = connection
        traceback = traceback.tb_next
    return found


def connection_parameters(raw: Any) -> dict[str, str]:
    """The libpq parameters ``raw`` was opened with (``dbname``, ``host``, ``port``...); empty
    when the driver cannot say any more (psycopg 3, once the connection is closed)."""
    try:
        dsn = raw.info.dsn if is_psycopg3 else raw.dsn
    except Error:
        return {}
    return parse_conninfo(dsn)


def parse_conninfo(dsn: str) -> dict[str, str]:
    """A libpq connection string (``host=... dbname=...``) or URL as a dict of its fields."""
    if is_psycopg3:
        return {key: str(value) for key, value in conninfo_to_dict(dsn).items()}
    return dict(parse_dsn(dsn))


def backend_pid(raw: Any) -> int:
    """The server process behind the raw connection ``raw``."""
    return int(raw.info.backend_pid if is_psycopg3 else raw.get_backend_pid())
