"""Change tracking: which rows may have changed since the last sync, without reading them all.

PostgreSQL stamps every row version with the id of the transaction that wrote it (``xmin``).
At each sync we record, per table, a watermark on each side: the oldest transaction id still
running when the sync read (local) or wrote (Railway), plus the id of our own Railway write
transaction. Next time, a row is a candidate when its ``xmin`` is at or after the watermark
(and, on Railway, is not our own write). Rows added or deleted on either side are found by
comparing id checksums per id range. Everything else is unchanged by construction.

``xmin`` is 32 bits and wraps around; the comparison (through ``age``) is modulo 2**32 and
is only trusted while fewer than 2**31 transactions separate the watermark from now (far more
than between syncs). Freezing keeps the raw ``xmin`` (PostgreSQL 9.4+), so frozen rows still compare
correctly. A watermark that is missing, too old, from another local database, or for other
columns makes the planner fall back to comparing every row.

Transaction ids only ever grow on one live cluster, but a local cluster restored from an
older backup starts again from the backup's ids, and after a few transactions its ids pass
the watermark while its rows are older than what Railway holds: nothing would look changed.
So each watermark also records local's WAL position and ``system_identifier``; a WAL position
behind the recorded one, another system identifier, or a watermark recorded before these were
(migration 0004) is not trusted, and every row is compared. One limit remains: WAL written
after the restore can pass the recorded position before the next sync looks (a restore
followed by much writing), and then only a full comparison (``railway_status --deep``,
``railway_sync --verify-all``) sees the difference.

Railway restored from a dump (a major version upgrade by dump and restore, a backup restore)
keeps ``railway_sync_state`` but starts its transaction ids again below the watermark; a
record row is written by the sync's own transaction, whose id it holds (``railway_xid``), so
a row whose ``xmin`` is another transaction's was rewritten since, and is not trusted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db import connections

from railway_sync.pg.columns import Column
from railway_sync.pg.connection import ServerIdentity
from railway_sync.pg.grants import STATE_TABLE
from railway_sync.pg.sql import literal, quote_name

# Watermark's fields as columns of the state table; the last two came with migration 0004.
STATE_COLUMNS = (
    "local_database",
    "local_watermark",
    "railway_watermark",
    "railway_xid",
    "columns_signature",
    "local_system_identifier",
    "local_wal_lsn",
    # What the last sync that found nothing to do saw (migration 0008; ``engine.quiet``).
    "quiet",
)
POSITION_COLUMN = "local_wal_lsn"
QUIET_COLUMN = "quiet"
XID_SPACE = 2**32
# Trust a watermark only this far back: well inside the 2**31 that modular comparison allows.
MAX_WATERMARK_AGE = 2**31 - 2**26


@dataclass(frozen=True)
class Watermark:
    """Where one table stood at its last sync."""

    local_database: str
    local_watermark: int
    railway_watermark: int
    railway_xid: int | None
    columns_signature: str
    # Where local's WAL stood and which cluster it was; None in rows written before 0004.
    local_system_identifier: int | None = None
    local_wal_position: str | None = None
    # Written by a sync that found nothing to do, for the next to repeat while nothing is
    # written on either side (``engine.quiet``); None otherwise, and before 0008.
    quiet: dict | None = None
    # The xmin of the record's row on Railway: ``railway_xid`` (modulo 2**32) when the sync
    # wrote it; another when the table was rewritten since (restored from a dump).
    record_xmin: int | None = None


def columns_signature(columns: list[Column]) -> str:
    # A generated column is marked, so that one turning plain (or back) is a change of
    # columns; the others' signatures are as they were before columns could be generated.
    text = ";".join(
        f"{c.name}:{c.type}:{c.not_null}" + (":generated" if c.generated else "") for c in columns
    )
    return hashlib.md5(text.encode()).hexdigest()


def local_identity(local: str) -> str:
    """A name for the local database that changes if DATABASE_URL points at another one."""
    with connections[local].cursor() as cursor:
        cursor.execute(
            "SELECT current_database(), (SELECT oid FROM pg_database "
            "WHERE datname = current_database()), coalesce(inet_server_port(), 0)"
        )
        name, oid, port = cursor.fetchone()
    return f"{name}#{oid}@{port}"


def snapshot_xmin(alias: str) -> int:
    """The oldest transaction id still running: every later change has an id at or above it."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        return int(cursor.fetchone()[0])


def next_xid(alias: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
        return int(cursor.fetchone()[0])


def wal_offset(position: str) -> int:
    """A pg_lsn's text (``16/B374D848``) as the byte offset it stands for, to compare."""
    high, _, low = position.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def why_untrusted(
    state: Watermark | None,
    *,
    identity: str,
    local_server: ServerIdentity,
    signature: str,
    local_next: int,
    railway_next: int,
) -> str | None:
    """Why ``state`` cannot be trusted to name every row changed since it was written, as a
    phrase for the report; None when it can."""
    if state is None:
        return "no earlier sync of this table is recorded"
    if state.local_database != identity:
        return f"the last sync read another local database ({state.local_database}, now {identity})"
    if state.local_wal_position is None:
        return "the last sync did not record local's WAL position (an older railway_sync)"
    if (
        state.local_system_identifier is not None
        and local_server.system_identifier is not None
        and state.local_system_identifier != local_server.system_identifier
    ):
        return (
            f"local database is another PostgreSQL cluster (system identifier "
            f"{local_server.system_identifier}, {state.local_system_identifier} at the last "
            "sync; restored or recreated?)"
        )
    if wal_offset(local_server.wal_position) < wal_offset(state.local_wal_position):
        return (
            f"local database went back in time (WAL {local_server.wal_position} < "
            f"{state.local_wal_position} at the last sync; restored from a backup?)"
        )
    if local_next < state.local_watermark:
        return (
            f"local transaction ids went backwards ({local_next} < {state.local_watermark} at "
            "the last sync; restored from a backup?)"
        )
    if local_next - state.local_watermark >= MAX_WATERMARK_AGE:
        return "the last sync was more than two billion local transactions ago"
    if railway_next < state.railway_watermark:
        return (
            f"Railway's transaction ids went backwards ({railway_next} < "
            f"{state.railway_watermark} at the last sync; Railway restored from a backup?)"
        )
    if railway_next - state.railway_watermark >= MAX_WATERMARK_AGE:
        return "the last sync was more than two billion Railway transactions ago"
    if state.columns_signature != signature:
        return "the table's columns changed since the last sync"
    if (
        state.record_xmin is not None
        and state.railway_xid is not None
        and state.record_xmin != state.railway_xid % XID_SPACE
    ):
        # A restored Railway keeps the record but starts its transaction ids again: the
        # watermark would hide every change made there before its ids pass it.
        return (
            "Railway's record of the last sync was rewritten since it was made (Railway "
            "restored from a dump, or upgraded by one?)"
        )
    return None


def changed_since(watermark: int, exclude_xid: int | None = None) -> str:
    """A WHERE clause: rows written by a transaction at or after ``watermark``.

    ``age(xmin)`` counts transactions back from a reference id that PostgreSQL keeps fixed
    for the whole statement; the bound is computed from that same reference inside the
    statement (``age('3'::xid) + 3``), so the comparison is exact modulo 2**32. Rows from
    transactions newer than the reference have a negative age and are included.
    """
    bound = (
        f"(SELECT ((age('3'::xid)::bigint + 3 - {watermark % XID_SPACE}) % {XID_SPACE} "
        f"+ {XID_SPACE}) % {XID_SPACE})"
    )
    clause = f"age(xmin) <= {bound}"
    if exclude_xid is not None:
        clause += f" AND xmin <> '{exclude_xid % XID_SPACE}'::xid"
    return clause


def write_state_sql(
    railway: str,
    table: str,
    *,
    identity: str,
    local_server: ServerIdentity,
    local_watermark: int,
    railway_watermark: int,
    signature: str,
) -> str:
    """SQL recording ``table``'s watermarks; run it in the transaction that wrote the table
    (or, nothing written, with the run's other bookkeeping).

    ``railway_xid`` is that transaction's own id: its rows are ours, not the site's.
    """

    def text(value: object) -> str:
        return "NULL" if value is None else literal(railway, str(value))

    return f"""
        INSERT INTO {quote_name(STATE_TABLE)} (table_name, local_database, local_watermark,
            railway_watermark, railway_xid, columns_signature, local_system_identifier,
            local_wal_lsn, synced_at)
        VALUES ({text(table)}, {text(identity)}, {int(local_watermark)},
            {int(railway_watermark)}, pg_current_xact_id()::text::bigint, {text(signature)},
            {text(local_server.system_identifier)}::bigint, {text(local_server.wal_position)}::pg_lsn,
            now())
        ON CONFLICT (table_name) DO UPDATE SET
            local_database = EXCLUDED.local_database,
            local_watermark = EXCLUDED.local_watermark,
            railway_watermark = EXCLUDED.railway_watermark,
            railway_xid = EXCLUDED.railway_xid,
            columns_signature = EXCLUDED.columns_signature,
            local_system_identifier = EXCLUDED.local_system_identifier,
            local_wal_lsn = EXCLUDED.local_wal_lsn,
            quiet = NULL,
            synced_at = EXCLUDED.synced_at
        """
