"""Which rows differ between local and Railway, computed inside each database.

Each database hashes its own rows over the same column list, and only ids and hashes cross
the network: memory holds only the ids that need work. Three tools, cheapest first:

- ``id_differences``: per id range, a checksum of the ids on each side; only ranges that
  differ are read id by id. Finds rows missing on Railway and rows only on Railway.
- ``compare_rows``: the hashes of given ids on both sides (the rows change tracking named).
- ``diff_table``: every row's hash on both sides, merged by id (the full comparison).
"""

from __future__ import annotations

import contextlib
import heapq
import queue
import threading
import weakref
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from railway_sync.pg import driver
from railway_sync.pg.columns import Column
from railway_sync.pg.sql import id_array_literal, quote_name, row_hash

FETCH_ROWS = 20_000
COMPARE_BATCH = 20_000
MAX_BUCKETS = 4096
# Ids per range at the least: where a range differs its ids are read, and reading 64 ids
# costs next to nothing, while a range per id would make a small table's survey as long as
# the table (bytes from Railway on every run).
MIN_BUCKET_WIDTH = 64
BIGINT_SPAN = 2**63


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


class _Stream:
    """Rows of ``sql`` on ``alias`` through a server-side cursor, fetched ahead by a thread.

    The thread starts at once, so two streams opened together have both servers computing
    at the same time while the caller merges them. ``close()`` stops the thread and closes its
    cursor; it runs when the stream ends, fails, leaves a ``with`` block, or is dropped unread.
    """

    def __init__(self, alias: str, sql: str, *, small: bool = False) -> None:
        connection = connections[alias]
        connection.ensure_connection()
        self.chunks: queue.Queue = queue.Queue(maxsize=4)
        self.rows: Iterator[tuple] = iter(())
        self.ended = False
        # The other stream of a pair (its closer, so the two never form a reference cycle).
        self.partner: weakref.finalize | None = None
        stop = threading.Event()
        worker = threading.Thread(
            target=self._fetch,
            args=(connection, sql, self.chunks, stop, small),
            name=f"railway-sync-{alias}",
            daemon=True,
        )
        worker.start()
        # The thread holds no reference to the stream, so a stream its caller dropped without
        # reading (an exception came first) is closed as soon as it is garbage. Not at exit:
        # a daemon thread inside a long query must not hold up the end of the process.
        self._closer = weakref.finalize(self, self._stop, worker, stop, self.chunks)
        self._closer.atexit = False  # type: ignore[misc]  # a documented attribute

    @staticmethod
    def _fetch(
        connection: BaseDatabaseWrapper,
        sql: str,
        chunks: queue.Queue,
        stop: threading.Event,
        small: bool,
    ) -> None:
        raw = connection.connection
        try:
            with connection.wrap_database_errors:
                if small:
                    # One round trip (a server-side cursor takes four: DECLARE, FETCH, FETCH,
                    # CLOSE), for answers bounded whatever the table's size.
                    with raw.cursor() as plain:
                        plain.execute(sql)
                        rows = plain.fetchall()
                    if rows:
                        chunks.put(rows)
                    chunks.put([])
                    return
                fetched = driver.server_cursor(raw, sql, FETCH_ROWS)
                try:
                    for rows in fetched:
                        chunks.put(rows)
                        if stop.is_set():
                            break
                finally:
                    fetched.close()
        except BaseException as exc:  # handed to the consuming thread
            chunks.put(exc)

    def __iter__(self) -> Iterator[tuple]:
        return self

    def __next__(self) -> tuple:
        while True:
            row = next(self.rows, None)
            if row is not None:
                return row
            if self.ended:
                raise StopIteration
            if not self._closer.alive:
                # Closed before its end (its partner failed): a short read must never pass
                # for the whole result.
                raise RuntimeError("read from a railway_sync stream closed before its end")
            item = self.chunks.get()
            if isinstance(item, BaseException):
                self.close()
                if self.partner is not None:
                    self.partner()
                raise item
            if not item:
                self.ended = True
                self.close()
                raise StopIteration
            self.rows = iter(item)

    def close(self) -> None:
        self._closer()

    @staticmethod
    def _stop(worker: threading.Thread, stop: threading.Event, chunks: queue.Queue) -> None:
        stop.set()
        # Free queue space until the fetcher sees ``stop`` (it may be blocked on a full queue).
        while True:
            worker.join(timeout=0.005)
            if not worker.is_alive():
                break
            with contextlib.suppress(queue.Empty):
                chunks.get_nowait()

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _both(
    local_alias: str,
    railway_alias: str,
    sql: str,
    railway_sql: str | None = None,
    *,
    small: bool = False,
) -> tuple[_Stream, _Stream]:
    """The same query (or ``railway_sql`` on Railway) streaming from both databases at once.

    ``small``: the answer is bounded (per id range, or per batch of ids), so it comes in one
    round trip rather than through a server-side cursor. If the second stream fails to open,
    or either fails while read, both are closed.
    """
    local = _Stream(local_alias, sql, small=small)
    try:
        railway = _Stream(railway_alias, railway_sql or sql, small=small)
    except BaseException:
        local.close()
        raise
    local.partner, railway.partner = railway._closer, local._closer
    return local, railway


def diff_table(
    local_alias: str, railway_alias: str, table: str, columns: list[Column], key: str = "id"
) -> TableDiff:
    """Compare every row of ``table`` on both databases by primary ``key`` and content hash."""
    id_ = quote_name(key)
    sql = f"SELECT {id_}, {row_hash(columns)} FROM {quote_name(table)} ORDER BY {id_}"
    result = TableDiff()
    local_rows, railway_rows = _both(local_alias, railway_alias, sql)
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
        for rows in _both(local_alias, railway_alias, bounds_sql, small=True)
        for end in list(rows)[0]
    ]
    origin, width = survey_grid(ends)
    sql = bucket_sums_sql(table, key, origin, width)
    local_rows, railway_rows = _both(local_alias, railway_alias, sql, small=True)
    local = {row[0]: row[1:] for row in local_rows}
    railway = {row[0]: row[1:] for row in railway_rows}
    return IdSurvey(origin, width, local, railway, key)


def ask_both(
    local_alias: str, railway_alias: str, local_parts: list[str], railway_parts: list[str]
) -> tuple[list[list[tuple]], list[list[tuple]]]:
    """Several SELECTs on each database, each side in one statement (one round trip), both
    sides at once: per SELECT, its rows as tuples.

    For answers bounded whatever the tables' sizes (per id range, or ids a caller counted);
    each SELECT's rows travel as one JSON array, so every column must be named (``AS``).
    """

    def statement(parts: list[str]) -> str:
        return "SELECT " + ", ".join(
            f"(SELECT coalesce(json_agg(q), '[]') FROM ({sql}) q)" for sql in parts
        )

    def rows(stream: _Stream) -> list[list[tuple]]:
        with stream:
            (answers,) = list(stream)
        return [[tuple(row.values()) for row in part] for part in answers]

    local, railway = _both(
        local_alias, railway_alias, statement(local_parts), statement(railway_parts), small=True
    )
    return rows(local), rows(railway)


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
) -> tuple[array, array]:
    """(ids missing on Railway, ids only on Railway), reading ids only where checksums differ."""
    survey = survey or survey_ids(local_alias, railway_alias, table, key)
    missing, railway_only = array("q"), array("q")
    for first, last in bucket_runs(survey.differing()):
        id_ = quote_name(survey.key)
        sql = (
            f"SELECT {id_} FROM {quote_name(table)} WHERE {survey.id_range(first, last)} "
            f"ORDER BY {id_}"
        )
        local_rows, railway_rows = _both(local_alias, railway_alias, sql)
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
    local_rows, railway_rows = _both(
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
        local_rows, railway_rows = _both(local_alias, railway_alias, sql, small=True)
        with local_rows, railway_rows:
            railway_hashes: dict[int, str] = dict(railway_rows)
            for row_id, local_hash in local_rows:
                if row_id not in railway_hashes:
                    missing.append(row_id)
                elif railway_hashes[row_id] != local_hash:
                    differing.append(row_id)
    return array("q", sorted(missing)), array("q", sorted(differing))
