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
columns makes the engine fall back to comparing every row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db import connections
from django.db.utils import DatabaseError

from railway_sync.schema import Column

STATE_TABLE = "railway_sync_state"
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


def columns_signature(columns: list[Column]) -> str:
    text = ";".join(f"{c.name}:{c.type}:{c.not_null}" for c in columns)
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


def read_state(railway: str) -> dict[str, Watermark]:
    """Every table's watermark on Railway ({} before the first sync or migration 0003)."""
    with connections[railway].cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [STATE_TABLE])
        if not cursor.fetchone()[0]:
            return {}
        cursor.execute(
            f"SELECT table_name, local_database, local_watermark, railway_watermark, "
            f"railway_xid, columns_signature FROM {STATE_TABLE}"
        )
        return {row[0]: Watermark(*row[1:]) for row in cursor.fetchall()}


def usable(
    state: Watermark | None,
    *,
    identity: str,
    signature: str,
    local_next: int,
    railway_next: int,
) -> bool:
    """Whether ``state`` can be trusted to name every row changed since it was written."""
    if state is None:
        return False
    return (
        state.local_database == identity
        and state.columns_signature == signature
        and 0 <= local_next - state.local_watermark < MAX_WATERMARK_AGE
        and 0 <= railway_next - state.railway_watermark < MAX_WATERMARK_AGE
    )


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


def write_state(
    railway: str,
    table: str,
    *,
    identity: str,
    local_watermark: int,
    railway_watermark: int,
    signature: str,
) -> None:
    """Record ``table``'s watermarks inside the transaction that wrote it.

    ``railway_xid`` is this transaction's own id: its rows are ours, not the site's.
    """
    with connections[railway].cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {STATE_TABLE} (table_name, local_database, local_watermark,
                railway_watermark, railway_xid, columns_signature, synced_at)
            VALUES (%s, %s, %s, %s, pg_current_xact_id()::text::bigint, %s, now())
            ON CONFLICT (table_name) DO UPDATE SET
                local_database = EXCLUDED.local_database,
                local_watermark = EXCLUDED.local_watermark,
                railway_watermark = EXCLUDED.railway_watermark,
                railway_xid = EXCLUDED.railway_xid,
                columns_signature = EXCLUDED.columns_signature,
                synced_at = EXCLUDED.synced_at
            """,
            [table, identity, local_watermark, railway_watermark, signature],
        )


def state_table_present(railway: str) -> bool:
    try:
        with connections[railway].cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [STATE_TABLE])
            return bool(cursor.fetchone()[0])
    except DatabaseError:
        return False
