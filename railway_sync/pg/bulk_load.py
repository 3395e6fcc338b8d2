"""Loading many rows into an empty table the way a restore does: its indexes built and its
foreign keys checked once the rows are in, rather than row by row while they arrive.

COPY into a table with nine indexes inserts every row into each of them; building them once
the rows are in sorts each column once (animals at 200,000 rows: 6.0 s with its indexes
against 2.1 s without and 2.6 s to build them). A foreign key checks each row as it comes (and
Django's, deferred, queue each check until commit); added back afterwards, it checks them all
in one join. Unique constraints are set aside too and added back as pg_restore adds them,
building each index once (animals' two made its COPY a fifth to a third slower: 300,000
animals into a table with only its primary key 6.1 to 7.2 s, with them as well 7.8 to 8.9 s). What stays: the primary key, exclusion constraints, a unique constraint or index a
foreign key points at, and any index in another tablespace or with a comment, which a
re-creation from ``pg_get_indexdef`` would not keep; likewise constraints with a comment.

It all runs inside the caller's transaction, so a failure anywhere brings every index and
constraint back as it was; a row that breaks a foreign key fails the load as it would have,
with the same error, when the key is added back, and a value a unique constraint refuses
ends the load as the COPY did (``engine/write_table.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connections, transaction
from django.db.backends.utils import CursorWrapper
from django.db.utils import DatabaseError

from railway_sync.pg.sql import quote_name

# Seconds to wait for the locks before loading with the indexes and keys in place instead:
# dropping them needs the table to itself, adding a foreign key back needs its parent table
# unwritten meanwhile, and a site's long query must not stall a sync.
LOCK_WAIT_SECONDS = 1.0

PLAIN_INDEXES_SQL = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
WHERE i.indrelid = to_regclass(%s)
  AND t.relkind = 'r'
  AND NOT i.indisprimary
  AND i.indisvalid
  AND i.indisready
  AND c.reltablespace = 0
  AND obj_description(i.indexrelid, 'pg_class') IS NULL
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY c.relname
"""

# Its foreign keys ('f') and the unique constraints ('u') no foreign key points at, in one
# round trip; (kind, name, definition, the table a key points at).
CONSTRAINTS_SQL = """
SELECT k.contype, quote_ident(k.conname), pg_get_constraintdef(k.oid),
       k.confrelid::regclass::text
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid
LEFT JOIN pg_class c ON c.oid = k.conindid
WHERE k.conrelid = to_regclass(%s)
  AND t.relkind = 'r'
  AND obj_description(k.oid, 'pg_constraint') IS NULL
  AND (
    k.contype = 'f'
    OR (
      k.contype = 'u'
      AND c.reltablespace = 0
      AND obj_description(k.conindid, 'pg_class') IS NULL
      AND NOT EXISTS (
        SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = k.conindid
      )
    )
  )
ORDER BY k.conname
"""


@dataclass(frozen=True)
class SetAside:
    """What ``loading`` dropped for the load: (name, definition) of each index, unique
    constraint and foreign key, and the tables the keys point at."""

    indexes: tuple[tuple[str, str], ...] = ()
    foreign_keys: tuple[tuple[str, str], ...] = ()
    parents: tuple[str, ...] = ()
    uniques: tuple[tuple[str, str], ...] = ()

    @property
    def constraints(self) -> tuple[tuple[str, str], ...]:
        # Unique constraints first: added back, each builds its index, which the keys do not
        # need (one pointing at this table's own unique constraint keeps it in place).
        return self.uniques + self.foreign_keys


@contextlib.contextmanager
def loading(alias: str, table: str) -> Iterator[SetAside]:
    """Inside a transaction on ``alias``: drop ``table``'s plain indexes, its unique
    constraints and its foreign keys, yield what was dropped, then build the indexes again and
    add the constraints back (checking every row).

    If the locks are not had within ``LOCK_WAIT_SECONDS`` (a site's session is reading the
    table, or writing a parent), nothing is dropped: the load keeps the indexes and keys up to
    date as it goes. While they are away the table is locked against every other session until
    commit, and its parents against writes, so the site waits rather than sees a table without
    its indexes or a row its keys would refuse.
    """
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(PLAIN_INDEXES_SQL, [quote_name(table)])
        indexes = tuple(tuple(row) for row in cursor.fetchall())
        cursor.execute(CONSTRAINTS_SQL, [quote_name(table)])
        constraints = cursor.fetchall()
        keys = [row[1:] for row in constraints if row[0] == "f"]
        aside = SetAside(
            indexes,
            tuple((name, definition) for name, definition, _ in keys),
            tuple(sorted({parent for *_, parent in keys})),
            tuple((name, definition) for kind, name, definition, _ in constraints if kind == "u"),
        )
        if (aside.indexes or aside.constraints) and not _dropped(alias, cursor, table, aside):
            aside = SetAside()
    yield aside
    with connection.cursor() as cursor:
        for _name, definition in aside.indexes:
            cursor.execute(definition)
        if aside.constraints:
            cursor.execute(
                f"ALTER TABLE {quote_name(table)} "
                + ", ".join(
                    f"ADD CONSTRAINT {name} {definition}" for name, definition in aside.constraints
                )
            )


def _dropped(alias: str, cursor: CursorWrapper, table: str, aside: SetAside) -> bool:
    """Drop what ``aside`` names in a savepoint, holding the parents against writes until
    commit; False, with nothing dropped, if a lock was not had in time or a drop failed."""
    execute = cursor.execute
    execute("SELECT current_setting('lock_timeout')")
    previous = cursor.fetchone()[0]
    execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(LOCK_WAIT_SECONDS * 1000)}ms"])
    try:
        with transaction.atomic(using=alias):
            if aside.parents:
                # What adding the keys back takes: taken now, so that cannot wait.
                execute(f"LOCK TABLE {', '.join(aside.parents)} IN SHARE ROW EXCLUSIVE MODE")
            if aside.constraints:
                execute(
                    f"ALTER TABLE {quote_name(table)} "
                    + ", ".join(f"DROP CONSTRAINT {name}" for name, _ in aside.constraints)
                )
            if aside.indexes:
                execute(f"DROP INDEX {', '.join(name for name, _ in aside.indexes)}")
    except DatabaseError:
        return False
    finally:
        execute("SELECT set_config('lock_timeout', %s, true)", [previous])
    return True
