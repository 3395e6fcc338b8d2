"""railway_sync's own local transactions, by id: the history it writes, and nothing else.

Every local change takes a transaction id, and ids are handed out one after another. So when
local's next id has moved on since a sync read local only by transactions recorded here,
nothing but railway_sync's history was written meanwhile, and no synced table changed
(``engine.quiet``). A transaction is recorded by itself, in the same commit, so a history
write that rolled back leaves an id unaccounted for, which only means the tables are read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections, transaction

from railway_sync.models import OwnWrite
from railway_sync.pg.sql import quote_name

OWN_WRITES_TABLE = OwnWrite._meta.db_table
_TABLE = quote_name(OWN_WRITES_TABLE)
# Ids looked back over at most, and kept behind the newest (more than that).
MAX_SPAN = 100_000
KEPT_SPAN = 2 * MAX_SPAN

_NOTE_SQL = f"""
WITH pruned AS (
    DELETE FROM {_TABLE}
    WHERE xid < pg_current_xact_id()::text::bigint - {KEPT_SPAN}
)
INSERT INTO {_TABLE} (xid) VALUES (pg_current_xact_id()::text::bigint)
ON CONFLICT DO NOTHING
"""


# Whether the table is there and the user may note (and prune) in it.
_MAY_NOTE_SQL = (
    "SELECT CASE WHEN to_regclass(%s) IS NULL THEN false "
    "ELSE has_table_privilege(%s, 'INSERT') AND has_table_privilege(%s, 'SELECT') "
    "AND has_table_privilege(%s, 'DELETE') END"
)


@contextmanager
def noted(alias: str) -> Iterator[None]:
    """Run the block's writes on ``alias`` in one transaction recorded as railway_sync's own.

    Where the record's table is missing (``migrate`` not run since it came) or the user may
    not write it, the block's writes still commit, unrecorded. (Not in a savepoint: that would take an id of its own.)
    """
    with transaction.atomic(using=alias):
        yield
        with connections[alias].cursor() as cursor:
            cursor.execute(_MAY_NOTE_SQL, [OWN_WRITES_TABLE] * 4)
            if cursor.fetchone()[0]:
                cursor.execute(_NOTE_SQL)


def only_own_since(
    alias: str, since: int, next_xid: int, others: frozenset[int] = frozenset()
) -> bool:
    """Whether every transaction id of ``alias`` from ``since`` up to ``next_xid`` is one of
    railway_sync's own, or one of ``others`` (ids known to be harmless); at most ``MAX_SPAN``
    ids. False where the record's table is missing."""
    span = next_xid - since
    if not 0 <= span <= MAX_SPAN:
        return False
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [OWN_WRITES_TABLE])
        if not cursor.fetchone()[0]:
            return False
        cursor.execute(
            f"SELECT array_agg(xid) FROM {_TABLE} WHERE xid >= %s AND xid < %s",
            [since, next_xid],
        )
        own = set(cursor.fetchone()[0] or ())
    return len(own | {xid for xid in others if since <= xid < next_xid}) == span
