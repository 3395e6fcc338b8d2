"""Every table surveyed at once, on both databases: what a run plans from.

Railway is far away, so a run does not ask table by table. One statement per side surveys
every table: per id range the count and checksums of the ids, the rows change tracking names
(written since the watermark), and on Railway the rows the sync does not own (the site's),
with the watermark of that very statement. Only when something differs does one more
statement per side read, for every table at once, the ids where the checksums differ (with
the site's rows again, in the same snapshot) and the hashes of the rows tracking named.

Every answer here is bounded: at most ``id_survey.MAX_BUCKETS`` id ranges a table, and ids or
hashes only up to ``BATCHED_IDS`` a table. What would be larger is left out (``None``) and
``plan.Planner`` asks for it table by table, through cursors that stream.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

from django.db import connections

from railway_sync.engine import owned_ids, tracking
from railway_sync.engine.both_sides import ask_both
from railway_sync.engine.id_survey import (
    IdSurvey,
    bucket_runs,
    bucket_sums_sql,
    merge_ids,
    survey_grid,
)
from railway_sync.pg.columns import Column
from railway_sync.pg.sql import id_array_literal, quote_name, row_hash

# Ids (and hashes) one table may send in the run's batched statements; beyond it, that table's
# ids stream through a cursor of their own, so memory holds arrays of ids, never JSON.
BATCHED_IDS = 50_000

Bounds = tuple[int | None, int | None]  # a table's smallest and largest id; None when empty


@dataclass(frozen=True)
class TableRequest:
    """What to survey of one table."""

    columns: list[Column]
    key: str
    local_bounds: Bounds
    railway_bounds: Bounds
    # Local's ids as int8multirange text (what the sync owns without a record of its own);
    # None where Railway's record says what the sync owns.
    local_ids: str | None
    # Change tracking's last watermark, when it is trusted: the rows written since are asked.
    watermark: tracking.Watermark | None = None
    # The local transaction of the table's last pull, whose rows are not local changes.
    pull_xid: int | None = None
    # How many such rows to ask for on each side at most (more: a full comparison is cheaper).
    changed_limit: int = 0

    @property
    def changed_asked(self) -> int:
        """How many rows tracking names are asked for: ``changed_limit``, but never more than
        a batch; more are compared through streaming cursors (a million ids in one answer
        took 150 MB to decode)."""
        return min(self.changed_limit, BATCHED_IDS + 1)


@dataclass
class TableSurvey:
    """What the survey found of one table; None where the answer was too large to batch."""

    ids: IdSurvey
    # Railway's rows the sync does not own: (id, local has the id, row hash).
    unowned: list[tuple] | None
    # The ids tracking names on either side, when tracked and fewer than the limit.
    changed: set[int] | None = None
    # Among ``changed``: those written on Railway since the last sync (not by it).
    target_changed: set[int] | None = None
    # Among ``changed``: (local ids missing on Railway, local ids whose rows differ).
    compared: tuple[array, array] | None = None
    # (ids missing on Railway, ids only on Railway), read where the checksums differ.
    differences: tuple[array, array] | None = None
    # How many ids Railway's ownership record held, read with ``unowned``; None: no record.
    recorded_ids: int | None = None


@dataclass(frozen=True)
class Survey:
    # Railway's oldest running transaction when it answered: what the run records.
    railway_watermark: int
    tables: dict[str, TableSurvey]
    # That statement's snapshot (``pg_current_snapshot()`` text): which writes it saw.
    railway_snapshot: str = ""


def id_bounds(
    local: str, railway: str | None, keys: dict[str, str]
) -> tuple[dict[str, Bounds], dict[str, Bounds]]:
    """(local's, Railway's) smallest and largest id of each table of ``keys``, in one
    statement each; Railway is asked only if ``railway`` is given (else ``{}``)."""
    parts = [
        f"SELECT min({quote_name(key)}) AS a, max({quote_name(key)}) AS b FROM {quote_name(t)}"
        for t, key in keys.items()
    ]
    if railway is not None:
        local_answers, railway_answers = ask_both(local, railway, parts, parts)
    else:
        with connections[local].cursor() as cursor:
            cursor.execute(
                "SELECT "
                + ", ".join(f"(SELECT json_build_array(a, b) FROM ({p}) q)" for p in parts)
            )
            local_answers = [[tuple(ends)] for ends in cursor.fetchone()]
        railway_answers = []

    def bounds(answers: list[list[tuple]]) -> dict[str, Bounds]:
        return {t: (rows[0][0], rows[0][1]) for t, rows in zip(keys, answers, strict=True)}

    return bounds(local_answers), bounds(railway_answers) if railway_answers else {}


def survey(
    local: str, railway: str, requests: dict[str, TableRequest], owned_present: bool
) -> Survey:
    """Survey every table of ``requests`` on both databases at once (one round trip to
    Railway, two when something differs). ``owned_present``: whether Railway has the
    ownership table (migration 0005)."""
    local_parts: list[str] = []
    railway_parts = [
        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS x, "
        "pg_current_snapshot()::text AS s"
    ]
    grids = {
        table: survey_grid([*request.local_bounds, *request.railway_bounds])
        for table, request in requests.items()
    }
    for table, request in requests.items():
        buckets = bucket_sums_sql(table, request.key, *grids[table])
        local_parts.append(buckets)
        railway_parts.append(buckets)
        railway_parts.append(_unowned_sql(railway, table, request, owned_present))
        if owned_present:
            railway_parts.append(owned_ids.recorded_sql(railway, table))
        if request.watermark is not None:
            mark = request.watermark
            select = f"SELECT {quote_name(request.key)} AS i FROM {quote_name(table)} WHERE "
            limit = f" LIMIT {request.changed_asked}"
            local_parts.append(
                select + tracking.changed_since(mark.local_watermark, request.pull_xid) + limit
            )
            railway_parts.append(
                select + tracking.changed_since(mark.railway_watermark, mark.railway_xid) + limit
            )
    local_answers, railway_answers = ask_both(local, railway, local_parts, railway_parts)
    local_rows, railway_rows = iter(local_answers), iter(railway_answers[1:])
    found: dict[str, TableSurvey] = {}
    for table, request in requests.items():
        local_buckets, railway_buckets = next(local_rows), next(railway_rows)
        found[table] = TableSurvey(
            IdSurvey(
                *grids[table],
                {row[0]: row[1:] for row in local_buckets},
                {row[0]: row[1:] for row in railway_buckets},
                request.key,
            ),
            unowned=local_has(
                local, table, [tuple(row) for row in next(railway_rows)], request.key
            ),
        )
        if owned_present:
            recorded = next(railway_rows)
            found[table].recorded_ids = int(recorded[0][0]) if recorded else None
        if request.watermark is not None:
            local_ids = {row[0] for row in next(local_rows)}
            railway_ids = {row[0] for row in next(railway_rows)}
            if max(len(local_ids), len(railway_ids)) < request.changed_asked:
                found[table].changed = local_ids | railway_ids
                found[table].target_changed = railway_ids
    _read_differences(local, railway, requests, found, owned_present)
    return Survey(int(railway_answers[0][0][0]), found, railway_answers[0][0][1])


def _unowned_sql(railway: str, table: str, request: TableRequest, owned_present: bool) -> str:
    return owned_ids.unowned_sql(
        railway, table, request.columns, request.local_ids, owned_present, request.key
    )


def _read_differences(
    local: str,
    railway: str,
    requests: dict[str, TableRequest],
    found: dict[str, TableSurvey],
    owned_present: bool,
) -> None:
    """The second round, only when something differs: the ids where checksums differ, and
    the hashes of the rows tracking named, for every table whose answer is small enough to
    ask at once (the others are asked table by table, later).

    With a table's ids, its rows the sync does not own are read again in the same statement:
    a row the site inserted since the survey is then either in both answers or in neither,
    so it is never taken for a row of the sync's that local deleted.
    """
    local_parts: list[str] = []
    railway_parts: list[str] = []
    asked: list[tuple[str, str]] = []  # (table, "ids" | "hashes"), in order
    reread: list[str] = []  # tables whose unowned rows are read again, after ``asked``
    for table, table_survey in found.items():
        request, ids = requests[table], table_survey.ids
        id_ = quote_name(request.key)
        differing = ids.differing()
        if not differing:
            table_survey.differences = (array("q"), array("q"))
        elif _ids_in(ids, differing) <= BATCHED_IDS:
            ranges = " OR ".join(
                f"({ids.id_range(first, last)})" for first, last in bucket_runs(differing)
            )
            sql = f"SELECT {id_} AS i FROM {quote_name(table)} WHERE {ranges} ORDER BY {id_}"
            local_parts.append(sql)
            railway_parts.append(sql)
            asked.append((table, "ids"))
            reread.append(table)
            table_survey.recorded_ids = None  # of the first snapshot: rewrite the record
        else:
            # Its ids stream later; its unowned rows are read after them, as then.
            table_survey.unowned = table_survey.recorded_ids = None
        changed = table_survey.changed
        if changed is not None and not changed:
            table_survey.compared = (array("q"), array("q"))
        elif changed is not None and len(changed) <= BATCHED_IDS:
            sql = (
                f"SELECT {id_} AS i, {row_hash(request.columns)} AS h "
                f"FROM {quote_name(table)} WHERE {id_} = ANY({id_array_literal(changed)})"
            )
            local_parts.append(sql)
            railway_parts.append(sql)
            asked.append((table, "hashes"))
    if not asked:
        return
    railway_parts += [
        _unowned_sql(railway, table, requests[table], owned_present) for table in reread
    ]
    local_answers, railway_answers = ask_both(local, railway, local_parts, railway_parts)
    for (table, kind), local_rows, railway_rows in zip(
        asked, local_answers, railway_answers, strict=False
    ):
        if kind == "ids":
            missing, railway_only = array("q"), array("q")
            merge_ids(
                (row[0] for row in local_rows),
                (row[0] for row in railway_rows),
                missing,
                railway_only,
            )
            found[table].differences = (missing, railway_only)
        else:
            railway_hashes = dict(railway_rows)
            found[table].compared = (
                array("q", sorted(i for i, _ in local_rows if i not in railway_hashes)),
                array(
                    "q",
                    sorted(
                        i for i, h in local_rows if i in railway_hashes and railway_hashes[i] != h
                    ),
                ),
            )
    for table, rows in zip(reread, railway_answers[len(asked) :], strict=True):
        key = requests[table].key
        found[table].unowned = local_has(local, table, [tuple(r) for r in rows], key)


def _ids_in(survey: IdSurvey, buckets: list[int]) -> int:
    """How many ids both sides hold in ``buckets`` (what reading them would send)."""
    return sum(
        side[bucket][0]
        for side in (survey.local, survey.railway)
        for bucket in buckets
        if bucket in side
    )


def local_has(local: str, table: str, unowned: list[tuple], key: str = "id") -> list[tuple]:
    """``unowned`` rows (id, l, hash) with ``l`` filled in where it is NULL: whether local has
    the id, asked of local (one statement; none when every ``l`` is known)."""
    unknown = [row[0] for row in unowned if row[1] is None]
    if not unknown:
        return unowned
    pk = quote_name(key)
    with connections[local].cursor() as cursor:
        cursor.execute(
            f"SELECT {pk} FROM {quote_name(table)} WHERE {pk} = ANY({id_array_literal(unknown)})"
        )
        there = {row[0] for row in cursor.fetchall()}
    return [(i, i in there if known is None else known, h) for i, known, h in unowned]
