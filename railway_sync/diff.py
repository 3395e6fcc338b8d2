"""Which rows differ between local and Railway, found by comparing row hashes by id.

Each database hashes its own rows (md5 of the row's text form over the same column list), and
the two id-ordered streams are merged here, so only ids and hashes cross the network and
memory holds only the ids that need work.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import connections

from railway_sync.schema import Column

FETCH_ROWS = 20_000


def quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def column_list(columns: list[Column], prefix: str = "") -> str:
    return ", ".join(prefix + quote_name(column.name) for column in columns)


def row_hash_sql(table: str, columns: list[Column]) -> str:
    return f"SELECT id, md5(ROW({column_list(columns)})::text) FROM {quote_name(table)} ORDER BY id"


@dataclass
class TableDiff:
    """Ids to insert, to update, and present only on Railway; how many are identical."""

    to_insert: array = field(default_factory=lambda: array("q"))
    to_update: array = field(default_factory=lambda: array("q"))
    railway_only: array = field(default_factory=lambda: array("q"))
    unchanged: int = 0

    @property
    def to_write(self) -> array:
        ids = array("q", sorted([*self.to_insert, *self.to_update]))
        return ids

    @property
    def pending(self) -> int:
        return len(self.to_insert) + len(self.to_update)


def _stream(alias: str, sql: str) -> Iterator[tuple[int, str]]:
    with connections[alias].chunked_cursor() as cursor:
        cursor.itersize = FETCH_ROWS
        cursor.execute(sql)
        while rows := cursor.fetchmany(FETCH_ROWS):
            yield from rows


def diff_table(
    local_alias: str, railway_alias: str, table: str, columns: list[Column]
) -> TableDiff:
    """Compare every row of ``table`` on both databases by id and content hash."""
    sql = row_hash_sql(table, columns)
    result = TableDiff()
    local_rows = _stream(local_alias, sql)
    railway_rows = _stream(railway_alias, sql)
    local = next(local_rows, None)
    railway = next(railway_rows, None)
    while local is not None or railway is not None:
        if railway is None or (local is not None and local[0] < railway[0]):
            result.to_insert.append(local[0])
            local = next(local_rows, None)
        elif local is None or railway[0] < local[0]:
            result.railway_only.append(railway[0])
            railway = next(railway_rows, None)
        else:
            if local[1] == railway[1]:
                result.unchanged += 1
            else:
                result.to_update.append(local[0])
            local = next(local_rows, None)
            railway = next(railway_rows, None)
    return result


def count_rows(alias: str, table: str) -> int:
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {quote_name(table)}")
        (count,) = cursor.fetchone()
    return int(count)


def railway_only_ids(local_alias: str, railway_alias: str, table: str) -> array:
    """Ids present on Railway but not locally (read from both primary-key indexes)."""
    sql = f"SELECT id FROM {quote_name(table)} ORDER BY id"
    local_ids = (row[0] for row in _stream(local_alias, sql))
    result = array("q")
    local_id = next(local_ids, None)
    for (railway_id,) in _stream(railway_alias, sql):
        while local_id is not None and local_id < railway_id:
            local_id = next(local_ids, None)
        if local_id != railway_id:
            result.append(railway_id)
    return result
