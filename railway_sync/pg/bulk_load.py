"""Loading many rows into an empty table the way a restore does: its indexes built and its
foreign keys checked once the rows are in, rather than row by row while they arrive.

COPY into a table with nine indexes inserts every row into each of them; building them once
the rows are in sorts each column once (animals at 200,000 rows: 6.0 s with its indexes
against 2.1 s without and 2.6 s to build them). A foreign key checks each row as it comes (and
Django's, deferred, queue each check until commit); added back afterwards, it checks them all
in one join. Only plain indexes are set aside: an index behind a constraint (primary key,
unique, exclusion, or one a foreign key points at) stays, as do indexes in another tablespace
or with a comment, which a re-creation from ``pg_get_indexdef`` would not keep; likewise
foreign keys with a comment stay.

It all runs inside the caller's transaction, so a failure anywhere brings every index and
constraint back as it was; a row that breaks a foreign key fails the load as it would have,
with the same error, when the key is added back.
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

FOREIGN_KEYS_SQL = """
SELECT quote_ident(k.conname), pg_get_constraintdef(k.oid), k.confrelid::regclass::text
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid
WHERE k.conrelid = to_regclass(%s)
  AND t.relkind = 'r'
  AND k.contype = 'f'
  AND obj_description(k.oid, 'pg_constraint') IS NULL
ORDER BY k.conname
"""


@dataclass(frozen=True)
class SetAside:
    """What ``loading`` dropped for the load: (name, definition) of each index and foreign
    key, and the tables the keys point at."""

    indexes: tuple[tuple[str, str], ...] = ()
    foreign_keys: tuple[tuple[str, str], ...] = ()
    parents: tuple[str, ...] = ()


@contextlib.contextmanager
def loading(alias: str, table: str) -> Iterator[SetAside]:
    """Inside a transaction on ``alias``: drop ``table``'s plain indexes and its foreign keys,
    yield what was dropped, then build the indexes again and add the keys back (checking
    every row).

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
        cursor.execute(FOREIGN_KEYS_SQL, [quote_name(table)])
        keys = cursor.fetchall()
        aside = SetAside(
            indexes,
            tuple((name, definition) for name, definition, _ in keys),
            tuple(sorted({parent for *_, parent in keys})),
        )
        if (aside.indexes or aside.foreign_keys) and not _dropped(alias, cursor, table, aside):
            aside = SetAside()
    yield aside
    with connection.cursor() as cursor:
        for _name, definition in aside.indexes:
            cursor.execute(definition)
        if aside.foreign_keys:
            cursor.execute(
                f"ALTER TABLE {quote_name(table)} "
                + ", ".join(
                    f"ADD CONSTRAINT {name} {definition}" for name, definition in aside.foreign_keys
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
            if aside.foreign_keys:
                execute(
                    f"ALTER TABLE {quote_name(table)} "
                    + ", ".join(f"DROP CONSTRAINT {name}" for name, _ in aside.foreign_keys)
                )
            if aside.indexes:
                execute(f"DROP INDEX {', '.join(name for name, _ in aside.indexes)}")
    except DatabaseError:
        return False
    finally:
        execute("SELECT set_config('lock_timeout', %s, true)", [previous])
    return True
