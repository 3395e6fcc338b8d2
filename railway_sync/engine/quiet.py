"""A sync when nothing was written on either side since the last one found nothing to do:
known without reading a table, and answered with that sync's own figures.

A sync that wrote nothing and found nothing held back, refused or in conflict records, with
each table's watermark, what it found (its counts) and where local's transaction ids stood
when it read (``record_sql``). The next sync repeats that answer (``compared`` "quiet")
when all of these hold, and otherwise reads the tables as before:

- on local, every transaction id handed out since is one of railway_sync's own history
  writes (``pg.own_writes``): any change to a table takes an id, so none was made (on one
  server with Railway, as in the demo, the recording sync's own Railway write is known too);
- on Railway, the write log (``pg.write_log``) has no note for any synced table, and every
  table's trigger is in place;
- neither server restarted (a restore from a backup is a restart), local is the same
  database and cluster, the columns are as they were, and Railway's record was written by
  that sync (not restored).

What a person can still do unseen: write a Railway table with its trigger disabled
(``ALTER TABLE ... DISABLE TRIGGER``, ``pg_restore --disable-triggers``). ``--verify-all``
and ``railway_status --deep`` compare every row.
"""

from __future__ import annotations

import json

from railway_sync.engine import tracking
from railway_sync.engine.planner import Planner
from railway_sync.engine.railway_facts import RailwayFacts
from railway_sync.pg import own_writes
from railway_sync.pg.columns import Column
from railway_sync.pg.grants import STATE_TABLE
from railway_sync.pg.sql import literal, quote_name
from railway_sync.pg.write_log import WRITE_LOG_TABLE, forget_sql
from railway_sync.report import TableResult

# A table's figures a quiet sync repeats, as TableResult names them.
FIGURES = ("local_count", "railway_count", "unchanged", "kept", "site_rows")


def replay(
    planner: Planner, facts: RailwayFacts, columns: dict[str, list[Column]]
) -> tuple[TableResult, ...] | None:
    """The last quiet sync's results for the tables of ``columns``, when nothing was written
    to them on either side since (see the module's list); None when they must be read.

    After the schema check, with the planner opened in local's snapshot: what it read of
    local (server, identity, next transaction id) is what is compared."""
    names = tuple(columns)
    states = [facts.states.get(table) for table in names]
    if (
        not names
        or facts.written & set(names)
        or not set(names) <= facts.logged
        or any(state is None or state.quiet is None for state in states)
    ):
        return None
    records = [state.quiet for state in states if state is not None and state.quiet is not None]
    local_next = records[0]["local_next"]
    if any(
        record["local_next"] != local_next
        or record["railway_started_at"] != facts.identity.started_at.isoformat()
        for record in records
    ):
        return None
    server, identity = planner.source_server, planner.identity
    assert server is not None, "Planner.open sets it"
    for table, state in zip(names, states, strict=True):
        assert state is not None and state.quiet is not None
        if (
            state.local_database != identity
            or state.quiet["local_started_at"] != server.started_at.isoformat()
            or state.local_system_identifier != server.system_identifier
            or state.columns_signature != tracking.columns_signature(columns[table])
            or state.railway_xid is None
            or state.record_xmin != state.railway_xid % tracking.XID_SPACE
        ):
            return None
    # On one server with Railway (the demo), the recording sync's Railway write took a local id.
    same_server = server.started_at == facts.identity.started_at
    railway_xids = frozenset(
        state.railway_xid
        for state in states
        if same_server and state is not None and state.railway_xid is not None
    )
    if not own_writes.only_own_since(planner.source, local_next, planner.source_next, railway_xids):
        return None
    return tuple(
        TableResult(table, compared="quiet", **state.quiet["figures"])
        for table, state in zip(names, states, strict=True)
        if state is not None and state.quiet is not None
    )


def record_sql(
    planner: Planner, facts: RailwayFacts, results: tuple[TableResult, ...]
) -> list[str]:
    """The statements that record a sync with nothing to do as quiet, to run in the
    transaction that writes its tables' watermarks; none when it is not one (something
    written, held back, refused or in conflict; a local transaction running while it read;
    Railway without the write log or its right to forget what it saw). ``planner`` says
    where local stood when it read, and which snapshot Railway's survey saw."""
    railway, server = planner.target, planner.source_server
    assert server is not None, "Planner.open sets it"
    names = {result.table for result in results}
    clean = all(
        result.written == 0
        and not (result.conflicts or result.held_back or result.refused)
        and not (result.railway_edits or result.railway_edits_kept)
        for result in results
    )
    if (
        not results
        or not clean
        or planner.source_watermark != planner.source_next
        or not planner.target_snapshot
        or not names <= facts.logged
        or "DELETE" not in facts.writes.get(WRITE_LOG_TABLE, frozenset())
    ):
        return []
    common = {
        "local_next": planner.source_next,
        "local_started_at": server.started_at.isoformat(),
        "railway_started_at": facts.identity.started_at.isoformat(),
    }
    values = ", ".join(
        f"({literal(railway, result.table)}, "
        + literal(
            railway,
            json.dumps({**common, "figures": {name: getattr(result, name) for name in FIGURES}}),
        )
        + "::jsonb)"
        for result in results
    )
    return [
        f"UPDATE {quote_name(STATE_TABLE)} s SET quiet = v.quiet FROM (VALUES {values}) "
        "v(table_name, quiet) WHERE s.table_name = v.table_name",
        forget_sql(railway, planner.target_snapshot),
    ]
