"""Which ids differ between local and Railway, without reading every id: per id range, a
checksum of the ids on each side; only ranges that differ are read id by id.

The grid of ranges (``survey_grid``) has at most ``MAX_BUCKETS`` ranges whatever the ids, so
the survey's size does not grow with the rows. A run surveys every table at once
(``survey``); ``survey_ids`` and ``id_differences`` do it for one table.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass

from railway_sync.engine.both_sides import stream_both
from railway_sync.pg.sql import id_ranges, quote_name, ranges_ids

MAX_BUCKETS = 4096
# Ids per range at the least: where a range differs its ids are read, and reading 64 ids
# costs next to nothing, while a range per id would make a small table's survey as long as
# the table (bytes from Railway on every run).
MIN_BUCKET_WIDTH = 64
BIGINT_SPAN = 2**63


@dataclass(frozen=True)
class IdSurvey:
    """Per id range, (count, sum of ids, sum of id hashes) on each side: counts for free, and
    the ranges whose ids differ.

    Range ``b`` holds the ids from ``origin + b * width`` to ``origin + (b + 1) * width - 1``.
    """

    origin: int
    width: int
    local: dict[int, tuple]
    railway: dict[int, tuple]
    key: str = "id"  # the primary key column

    @property
    def local_count(self) -> int:
        return sum(sums[0] for sums in self.local.values())

    @property
    def railway_count(self) -> int:
        return sum(sums[0] for sums in self.railway.values())

    def differing(self) -> list[int]:
        return sorted(
            bucket
            for bucket in self.local.keys() | self.railway.keys()
            if self.local.get(bucket) != self.railway.get(bucket)
        )

    def id_range(self, first: int, last: int) -> str:
        """A WHERE clause for the ids of ranges ``first`` to ``last``.

        The outermost ranges are left open: a row the site inserts on Railway between the
        survey's two queries may lie outside the span its origin and width were made for.
        Every bound written lies between two surveyed ids, so it fits the id column's type.
        """
        buckets = self.local.keys() | self.railway.keys()
        id_ = quote_name(self.key)
        bounds = []
        if first > min(buckets):
            bounds.append(f"{id_} >= {self.origin + first * self.width}")
        if last < max(buckets):
            bounds.append(f"{id_} < {self.origin + (last + 1) * self.width}")
        return " AND ".join(bounds) or "TRUE"


def survey_grid(ends: list[int | None]) -> tuple[int, int]:
    """(origin, width) of the survey's id ranges over the smallest and largest ids of both
    sides (``ends``; None for an empty side).

    Ranges count from the smallest id on either side, so negative ids survey like any
    other: ``id - origin`` is never negative, and integer division, which rounds toward
    zero, puts each id in the range the lookups read. There are at most ``MAX_BUCKETS``
    ranges whatever the ids, so the survey's size does not grow with the rows, and each
    spans at least ``MIN_BUCKET_WIDTH`` ids.
    """
    known = [end for end in ends if end is not None]
    origin, top = min(known, default=0), max(known, default=0)
    return origin, max((top - origin) // MAX_BUCKETS + 1, MIN_BUCKET_WIDTH)


def bucket_sums_sql(table: str, key: str, origin: int, width: int) -> str:
    """Per id range of the grid: its number, count, sum of ids and sum of id hashes."""
    id_ = quote_name(key)
    # Parenthesised so that a negative origin reads as one constant.
    if width * MAX_BUCKETS < BIGINT_SPAN:
        bucket = f"({id_}::bigint - ({origin})) / {width}"
    else:
        # Only bigint ids spread over more than half their type's range: id - origin would
        # overflow bigint, so numeric does the arithmetic (slower, never wrong).
        bucket = f"div({id_}::numeric - ({origin}), {width})::bigint"
    return (
        f"SELECT {bucket} AS b, count(*) AS n, sum({id_}) AS s, "
        f"sum(hashint8({id_}::bigint)::bigint) AS h FROM {quote_name(table)} GROUP BY 1"
    )


def survey_ids(local_alias: str, railway_alias: str, table: str, key: str = "id") -> IdSurvey:
    """Checksums of the ids per range on both databases, computed by both at once (two
    round trips each: the ends, then the ranges; a run surveys every table at once through
    ``Planner.prepare``)."""
    id_ = quote_name(key)
    bounds_sql = f"SELECT min({id_}), max({id_}) FROM {quote_name(table)}"
    ends = [
        end
        for rows in stream_both(local_alias, railway_alias, bounds_sql, small=True)
        for end in list(rows)[0]
    ]
    origin, width = survey_grid(ends)
    sql = bucket_sums_sql(table, key, origin, width)
    local_rows, railway_rows = stream_both(local_alias, railway_alias, sql, small=True)
    local = {row[0]: row[1:] for row in local_rows}
    railway = {row[0]: row[1:] for row in railway_rows}
    return IdSurvey(origin, width, local, railway, key)


def bucket_runs(buckets: list[int]) -> Iterator[tuple[int, int]]:
    """Contiguous runs of bucket numbers as (first, last)."""
    if not buckets:
        return
    start = previous = buckets[0]
    for bucket in buckets[1:]:
        if bucket == previous + 1:
            previous = bucket
        else:
            yield start, previous
            start = previous = bucket
    yield start, previous


def id_differences(
    local_alias: str,
    railway_alias: str,
    table: str,
    survey: IdSurvey | None = None,
    key: str = "id",
    local_id_ranges: str | None = None,
) -> tuple[array, array]:
    """(ids missing on Railway, ids only on Railway), reading ids only where checksums differ.

    Where one side had no id at all in a run of differing ranges (a first sync, a rebuild
    into an empty Railway), the other side's ids there are the answer: that side alone is
    asked, for them as ranges (a few bytes for a million consecutive ids, where reading and
    merging them one by one took a second of the command's time). ``local_id_ranges``:
    local's ids as ``int8multirange`` text, if the caller read them in the survey's snapshot;
    they answer, unread again, when Railway had none.
    """
    survey = survey or survey_ids(local_alias, railway_alias, table, key)
    if not survey.railway and local_id_ranges is not None:
        return ranges_ids(local_id_ranges), array("q")
    missing, railway_only = array("q"), array("q")
    for first, last in bucket_runs(survey.differing()):
        where = survey.id_range(first, last)
        run = range(first, last + 1)
        if not any(bucket in survey.railway for bucket in run):
            missing.extend(ranges_ids(id_ranges(local_alias, table, survey.key, where)))
            continue
        if not any(bucket in survey.local for bucket in run):
            railway_only.extend(ranges_ids(id_ranges(railway_alias, table, survey.key, where)))
            continue
        id_ = quote_name(survey.key)
        sql = f"SELECT {id_} FROM {quote_name(table)} WHERE {where} ORDER BY {id_}"
        local_rows, railway_rows = stream_both(local_alias, railway_alias, sql)
        merge_ids(
            (row[0] for row in local_rows), (row[0] for row in railway_rows), missing, railway_only
        )
    return missing, railway_only


def merge_ids(
    local_ids: Iterator[int], railway_ids: Iterator[int], missing: array, railway_only: array
) -> None:
    local = next(local_ids, None)
    railway = next(railway_ids, None)
    while local is not None or railway is not None:
        if railway is None or (local is not None and local < railway):
            missing.append(local)
            local = next(local_ids, None)
        elif local is None or railway < local:
            railway_only.append(railway)
            railway = next(railway_ids, None)
        else:
            local = next(local_ids, None)
            railway = next(railway_ids, None)
