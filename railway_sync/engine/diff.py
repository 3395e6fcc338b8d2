"""Which rows differ between local and Railway, computed inside each database.

Each database hashes its own rows over the same column list, and only ids and hashes cross
the network: memory holds only the ids that need work. Three tools, cheapest first:

- ``id_survey.id_differences``: per id range, a checksum of the ids on each side; only ranges
  that differ are read id by id. Finds rows missing on Railway and rows only on Railway.
- ``compare_rows``: the hashes of given ids on both sides (the rows change tracking named).
- ``diff_table``: every row's hash on both sides, merged by id (the full comparison).
"""

from __future__ import annotations

import heapq
from array import array
from dataclasses import dataclass, field

from railway_sync.engine.both_sides import stream_both
from railway_sync.pg.columns import Column
from railway_sync.pg.sql import id_array_literal, quote_name, row_hash

# Ids per statement when comparing the rows change tracking named.
COMPARE_BATCH = 20_000


@dataclass
class TableDiff:
    """Ids to insert, to update, and present only on Railway; how many are identical."""

    to_insert: array = field(default_factory=lambda: array("q"))
    to_update: array = field(default_factory=lambda: array("q"))
    railway_only: array = field(default_factory=lambda: array("q"))
    unchanged: int = 0
    # How it was found: "empty" (Railway had no rows), "tracked" or "full" comparison.
    method: str = "full"

    @property
    def to_write(self) -> array:
        # Both are sorted: merging them never builds a list of every id.
        return array("q", heapq.merge(self.to_insert, self.to_update))

    @property
    def pending(self) -> int:
        return len(self.to_insert) + len(self.to_update)


def diff_table(
    local_alias: str, railway_alias: str, table: str, columns: list[Column], key: str = "id"
) -> TableDiff:
    """Compare every row of ``table`` on both databases by primary ``key`` and content hash."""
    id_ = quote_name(key)
    sql = f"SELECT {id_}, {row_hash(columns)} FROM {quote_name(table)} ORDER BY {id_}"
    result = TableDiff()
    local_rows, railway_rows = stream_both(local_alias, railway_alias, sql)
    with local_rows, railway_rows:
        local = next(local_rows, None)
        railway = next(railway_rows, None)
        while local is not None or railway is not None:
            if local is not None and (railway is None or local[0] < railway[0]):
                result.to_insert.append(local[0])
                local = next(local_rows, None)
            elif railway is not None and (local is None or railway[0] < local[0]):
                result.railway_only.append(railway[0])
                railway = next(railway_rows, None)
            elif local is not None and railway is not None:
                if local[1] == railway[1]:
                    result.unchanged += 1
                else:
                    result.to_update.append(local[0])
                local = next(local_rows, None)
                railway = next(railway_rows, None)
    return result


def changed_ids(
    local_alias: str,
    railway_alias: str,
    table: str,
    local_where: str,
    railway_where: str,
    limit: int,
    key: str = "id",
) -> set[int] | None:
    """Ids of ``table`` matching a change-tracking clause on either side, scanned at once;
    None when either side has ``limit`` of them or more (then a full comparison is cheaper,
    and the bound keeps the answer small enough for one round trip)."""
    base = f"SELECT {quote_name(key)} FROM {quote_name(table)} WHERE "
    local_rows, railway_rows = stream_both(
        local_alias,
        railway_alias,
        f"{base}{local_where} LIMIT {limit}",
        f"{base}{railway_where} LIMIT {limit}",
        small=True,
    )
    with local_rows, railway_rows:
        local_ids = {row[0] for row in local_rows}
        railway_ids = {row[0] for row in railway_rows}
    if len(local_ids) >= limit or len(railway_ids) >= limit:
        return None
    return local_ids | railway_ids


def compare_rows(
    local_alias: str,
    railway_alias: str,
    table: str,
    columns: list[Column],
    ids: array,
    key: str = "id",
) -> tuple[array, array]:
    """Among local rows ``ids``: (those missing on Railway, those whose content differs)."""
    missing, differing = array("q"), array("q")
    id_ = quote_name(key)
    for start in range(0, len(ids), COMPARE_BATCH):
        batch = ids[start : start + COMPARE_BATCH]
        sql = (
            f"SELECT {id_}, {row_hash(columns)} FROM {quote_name(table)} "
            f"WHERE {id_} = ANY({id_array_literal(batch)})"
        )
        local_rows, railway_rows = stream_both(local_alias, railway_alias, sql, small=True)
        with local_rows, railway_rows:
            railway_hashes: dict[int, str] = dict(railway_rows)
            for row_id, local_hash in local_rows:
                if row_id not in railway_hashes:
                    missing.append(row_id)
                elif railway_hashes[row_id] != local_hash:
                    differing.append(row_id)
    return array("q", sorted(missing)), array("q", sorted(differing))
