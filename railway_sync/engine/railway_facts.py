"""What a run must know about Railway before it plans, asked in two round trips.

Railway is 50 to 150 ms away, so each question costs more than its answer. A sync or a status
asks up front, and everything later (the schema check, change tracking, the survey, the
bookkeeping after a write) reads these answers instead of asking again:

1. ``read`` (one statement): who the server is (to refuse a Railway that is the local
   database), the run lock (a sync), the next transaction id, which synced tables exist and
   their columns, the foreign keys between them, and whether railway_sync's own tables and
   Django's migration table are there;
2. knowing what exists (one more statement): the watermarks, the applied migrations, each
   table's smallest and largest id (the survey's ranges) and its id sequence.

The run lock is asked for in the first statement and the rest is read in the second, after
it is held: a sync that just finished has committed everything by the time we see its lock
free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connections

from railway_sync.engine.tracking import POSITION_COLUMN, QUIET_COLUMN, STATE_COLUMNS, Watermark
from railway_sync.pg import write_log
from railway_sync.pg.columns import Column
from railway_sync.pg.connection import ServerIdentity
from railway_sync.pg.grants import OWNED_TABLE, STATE_TABLE
from railway_sync.pg.locks import RUN_LOCK_KEY, release_run_lock
from railway_sync.pg.sql import CURRENT_SCHEMA, quote_name
from railway_sync.pg.write_log import WRITE_LOG_TABLE
from railway_sync.schema.tables import FOREIGN_KEY_COLUMNS, FOREIGN_KEYS, ForeignKey

# The migration apps whose applied migrations say which Railway columns the sync created.
MIGRATION_APPS = ("railway_sync", "railway_schema")


@dataclass(frozen=True)
class RailwayFacts:
    """Railway as one run found it before planning."""

    # Without the system identifier (a second statement; read only to confirm a match).
    identity: ServerIdentity
    # The run lock: True taken by this statement, False held by another sync, None not asked.
    run_lock: bool | None
    next_xid: int
    # Per synced table its columns in order, None when Railway lacks the table.
    columns: dict[str, list[Column] | None]
    # The single-column foreign keys between synced tables, as Railway enforces them.
    foreign_keys: list[ForeignKey]
    state_columns: frozenset[str]
    owned_present: bool
    states: dict[str, Watermark]
    applied_migrations: frozenset[tuple[str, str]]
    # table -> (smallest id, largest id), (None, None) when empty; tables present only.
    id_bounds: dict[str, tuple[int | None, int | None]]
    # table -> its primary key's sequence (quoted, as pg_get_serial_sequence gives it) or None.
    sequences: dict[str, str | None]
    # The synced tables Railway's ownership record has ids for.
    recorded: frozenset[str] = frozenset()
    # When every synced table was last synced, as Railway's own record says (the oldest of
    # their ``synced_at``); None before the first sync.
    synced_at: datetime | None = None
    # Who the connection is (quoted as an identifier), and what it may write: per table
    # (synced and railway_sync's own) which of INSERT, UPDATE, DELETE; per synced table
    # whether it may read and move its id sequence (None: no sequence); whether it may create the
    # temporary staging tables.
    user: str = ""
    writes: dict[str, frozenset[str]] = field(default_factory=dict)
    sequence_writable: dict[str, bool | None] = field(default_factory=dict)
    may_create_temporary: bool = True
    # The synced tables whose writes Railway's write log notes, and those it has notes for
    # (``pg.write_log``); both empty before migration 0008.
    logged: frozenset[str] = frozenset()
    written: frozenset[str] = frozenset()

    @property
    def present_tables(self) -> tuple[str, ...]:
        return tuple(table for table, columns in self.columns.items() if columns is not None)

    def behind(self) -> str | None:
        """What Railway's own tables lack that this version writes; None when current."""
        if not self.state_columns:
            return f"no {STATE_TABLE} table"
        if POSITION_COLUMN not in self.state_columns:
            return f"{STATE_TABLE} has no {POSITION_COLUMN} column"
        if not self.owned_present:
            return f"no {OWNED_TABLE} table"
        if QUIET_COLUMN not in self.state_columns:
            return f"{STATE_TABLE} has no {QUIET_COLUMN} column"
        return None


def read(
    railway: str, names: tuple[str, ...], keys: dict[str, str], *, take_run_lock: bool = False
) -> RailwayFacts:
    """Ask Railway (connected) everything a run needs before planning the tables ``names``
    (``keys``: each one's primary key column), in two statements; ``take_run_lock`` also
    tries the run lock (without waiting: ``locks.exclusive_run`` waits)."""
    lock = f"pg_try_advisory_lock({RUN_LOCK_KEY})" if take_run_lock else "NULL::boolean"
    with connections[railway].cursor() as cursor:
        cursor.execute(
            f"""
            SELECT (SELECT oid FROM pg_database WHERE datname = current_database()),
                current_database(), pg_postmaster_start_time(),
                (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                 ELSE pg_current_wal_lsn() END)::text,
                {lock},
                pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
                (SELECT json_agg(json_build_array(c.relname, a.attname,
                        format_type(a.atttypid, a.atttypmod), a.attnotnull,
                        a.attgenerated <> '')
                    ORDER BY c.relname, a.attnum)
                 FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
                 WHERE c.relname = ANY(%(tables)s) AND c.relnamespace = {CURRENT_SCHEMA}
                   AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped),
                (SELECT json_agg(json_build_array({FOREIGN_KEY_COLUMNS})
                    ORDER BY child.relname, k.conname)
                 {FOREIGN_KEYS}
                   AND child.relname = ANY(%(names)s) AND parent.relname = ANY(%(names)s)),
                to_regclass('django_migrations') IS NOT NULL,
                quote_ident(current_user),
                has_database_privilege(current_database(), 'TEMPORARY'),
                (SELECT json_agg(json_build_array(c.relname,
                        has_table_privilege(c.oid, 'INSERT'), has_table_privilege(c.oid, 'UPDATE'),
                        has_table_privilege(c.oid, 'DELETE')))
                 FROM pg_class c
                 WHERE c.relname = ANY(%(tables)s) AND c.relnamespace = {CURRENT_SCHEMA}
                   AND c.relkind IN ('r', 'p')),
                coalesce(has_table_privilege(to_regclass(%(log)s), 'SELECT'), false)
            """,
            {
                "tables": [*names, STATE_TABLE, OWNED_TABLE, WRITE_LOG_TABLE],
                "names": list(names),
                "log": WRITE_LOG_TABLE,
            },
        )
        (
            oid,
            database,
            started_at,
            wal_position,
            run_lock,
            next_xid,
            columns,
            fks,
            migrations,
            user,
            temporary,
            writes,
            log_readable,
        ) = cursor.fetchone()
    found: dict[str, list[Column]] = {}
    for table, *column in columns or []:
        found.setdefault(table, []).append(Column(*column))
    state_columns = frozenset(column.name for column in found.get(STATE_TABLE, []))
    try:
        details = _details(
            railway,
            [n for n in names if any(c.name == keys.get(n, "id") for c in found.get(n, []))],
            keys,
            state_columns,
            migrations,
            owned_present=OWNED_TABLE in found,
            log_present=WRITE_LOG_TABLE in found and log_readable,
        )
    except BaseException:
        if run_lock:
            release_run_lock(railway)  # nobody else will: the caller never saw it taken
        raise
    return RailwayFacts(
        identity=ServerIdentity(None, int(oid), database, started_at, wal_position),
        run_lock=run_lock,
        next_xid=int(next_xid),
        columns={name: found.get(name) for name in names},
        foreign_keys=[ForeignKey(*fk) for fk in fks or []],
        state_columns=state_columns,
        owned_present=OWNED_TABLE in found,
        user=user,
        may_create_temporary=bool(temporary),
        writes={
            table: frozenset(
                right
                for right, held in zip(("INSERT", "UPDATE", "DELETE"), rights, strict=True)
                if held
            )
            for table, *rights in writes or []
        },
        **details,
    )


def _details(
    railway: str,
    tables: list[str],
    keys: dict[str, str],
    state_columns: frozenset[str],
    migrations: bool,
    *,
    owned_present: bool,
    log_present: bool = False,
) -> dict:
    """The second statement: what depends on which tables and columns exist."""
    parts = {
        "states": "NULL::json",
        "applied": "NULL::json",
        "synced_at": "NULL::timestamptz",
        "recorded": "NULL::json",
        "logged": "NULL::json",
        "written": "NULL::json",
    }
    if log_present:
        parts["logged"] = write_log.logged_tables_sql("%(names)s")
        parts["written"] = write_log.written_tables_sql("%(names)s")
    if owned_present:
        parts["recorded"] = (
            f"(SELECT json_agg(table_name) FROM {quote_name(OWNED_TABLE)} "
            "WHERE table_name = ANY(%(names)s))"
        )
    if state_columns:
        selected = ["table_name"]
        for column in STATE_COLUMNS:
            if column not in state_columns:
                selected.append("NULL")  # Railway is not migrated yet; the sync will refuse
            elif column == POSITION_COLUMN:
                selected.append(f"{quote_name(column)}::text")
            else:
                selected.append(quote_name(column))
        # Which transaction wrote the record: the sync's own (railway_xid), unless the table
        # was rewritten since (a dump restored, an upgrade by dump and restore).
        selected.append("xmin::text::bigint")
        parts["states"] = (
            f"(SELECT json_agg(json_build_array({', '.join(selected)})) "
            f"FROM {quote_name(STATE_TABLE)})"
        )
        parts["synced_at"] = (
            f"(SELECT min(synced_at) FROM {quote_name(STATE_TABLE)} "
            "WHERE table_name = ANY(%(names)s))"
        )
    if migrations:
        parts["applied"] = (
            "(SELECT json_agg(json_build_array(app, name)) FROM django_migrations "
            "WHERE app = ANY(%(apps)s))"
        )
    per_table = [
        f"json_build_array(%(table_{n})s, "
        f"(SELECT json_build_array(min({quote_name(keys[t])}), max({quote_name(keys[t])})) "
        f"FROM {quote_name(t)}), "
        f"pg_get_serial_sequence(%(quoted_{n})s, %(key_{n})s), "
        f"has_sequence_privilege(pg_get_serial_sequence(%(quoted_{n})s, %(key_{n})s), 'SELECT') "
        f"AND has_sequence_privilege(pg_get_serial_sequence(%(quoted_{n})s, %(key_{n})s), "
        "'UPDATE'))"
        for n, t in enumerate(tables)
    ]
    params: dict[str, str | list[str]] = {"apps": list(MIGRATION_APPS), "names": list(tables)}
    for n, table in enumerate(tables):
        params.update(
            {f"table_{n}": table, f"quoted_{n}": quote_name(table), f"key_{n}": keys[table]}
        )
    tables_sql = f"json_build_array({', '.join(per_table)})" if per_table else "NULL::json"
    with connections[railway].cursor() as cursor:
        cursor.execute(
            f"SELECT {parts['states']}, {parts['applied']}, {tables_sql}, {parts['synced_at']}, "
            f"{parts['recorded']}, {parts['logged']}, {parts['written']}",
            params,
        )
        states, applied, bounds, synced_at, recorded, logged, written = cursor.fetchone()
    return {
        "logged": frozenset(logged or ()),
        "written": frozenset(written or ()),
        "recorded": frozenset(recorded or ()),
        "states": {table: Watermark(*values) for table, *values in states or []},
        "applied_migrations": frozenset((app, name) for app, name in applied or []),
        "id_bounds": {table: (ends[0], ends[1]) for table, ends, _, _ in bounds or []},
        "sequences": {table: sequence for table, _, sequence, _ in bounds or []},
        "sequence_writable": {table: writable for table, _, _, writable in bounds or []},
        "synced_at": synced_at,
    }
