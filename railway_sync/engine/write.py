"""Writing to Railway, in the sync's two transaction layouts.

- ``table_by_table`` (incremental): each table is planned, written, verified and recorded in
  a transaction of its own, so a failure loses at most that table's writes; a table a guard
  refused is left as it was, and its children's rows that point at rows it would have
  brought wait with it; ``prune`` then deletes the owned Railway rows local no longer has,
  children first, a table per transaction.
- ``all_at_once`` (rebuild, force): every table in one transaction, deletions included, so
  a failure leaves Railway exactly as it was.

The site's rows (``ownership``) are never written or deleted, but by ``--on-conflict local``
and ``--discard-railway-rows``; which rows the sync owns is recorded with the rows.

Per table, rows go by COPY straight into an empty table, else through the upsert (``load``).
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field, replace

from django.db import transaction

from railway_sync import conf
from railway_sync.engine import guards
from railway_sync.engine.diff import IdSurvey, TableDiff
from railway_sync.engine.guards import Refusal
from railway_sync.engine.load import TableNoLongerEmpty, Upserted, copy_into_empty, delete, upsert
from railway_sync.engine.options import SyncOptions
from railway_sync.engine.ownership import (
    Ownership,
    describe,
    held_back,
    record_expression,
    row_hashes,
)
from railway_sync.engine.plan import Planner
from railway_sync.errors import GuardRefused
from railway_sync.pg.columns import Column
from railway_sync.pg.failures import on_table
from railway_sync.pg.sql import execute_together
from railway_sync.report import Conflict, Progress, ProgressCallback, TableResult


def table_by_table(
    planner: Planner,
    columns: dict[str, list[Column]],
    surveys: dict[str, IdSurvey],
    owners: dict[str, Ownership],
    options: SyncOptions,
    progress: ProgressCallback,
    refused: tuple[Refusal, ...] = (),
) -> tuple[TableResult, ...]:
    """Sync each table in a transaction of its own, parents first (``columns``' order);
    ``owners`` say which Railway rows are the site's.

    A table with nothing to write opens no transaction (planning from the survey sends
    Railway nothing): its bookkeeping (watermarks, ownership, sequence) goes with the other
    such tables' in one statement at the end. A ``refused`` table is planned (its children
    must know what it would have brought) but nothing of it is written, its bookkeeping
    neither, so the next sync sees all its changes again.
    """
    railway = planner.railway
    results = []
    blocked = Unwritten()
    refusals = {refusal.table: refusal for refusal in refused}
    quiet: list[str] = []  # the bookkeeping of the tables nothing was written to
    for table in columns:
        started = time.monotonic()
        survey = surveys[table]
        counts = (survey.local_count, survey.railway_count)
        if table in refusals:
            progress(Progress("diff", table))
            with on_table(table, f"nothing in {table} was written"):
                plan = planner.plan(table, columns[table], counts, survey)
                settle(
                    planner, table, owners[table], plan, options, counts[0], blocked, refused=True
                )
            result = refused_result(table, counts, plan.method, refusals[table])
            results.append(replace(result, seconds=time.monotonic() - started))
            progress(Progress("done", table))
            continue
        # A table empty when surveyed gets COPY; if the site inserted into it since, the COPY
        # fails, and the table is written again through the upsert, which keeps those rows.
        for copy in (True, False):
            try:
                # on_table outside the transaction, so a failed COMMIT is named too. The
                # transaction costs nothing until a statement is sent in it.
                with (
                    on_table(table, f"nothing in {table} was written"),
                    transaction.atomic(using=railway),
                ):
                    progress(Progress("diff", table))
                    own = owners[table]
                    plan = planner.plan(table, columns[table], counts, survey)
                    diff, held = settle(planner, table, own, plan, options, counts[0], blocked)
                    result, taken = write_table(
                        planner,
                        table,
                        columns[table],
                        diff,
                        counts,
                        own,
                        options,
                        progress,
                        held,
                        copy=copy,
                    )
                    result = replace(result, waiting_for=blocked.waiting_for(table, held))
                    # Rows the site took meanwhile are not written: not checked, and their
                    # children are held back.
                    blocked.rows[table] = _merged(blocked.rows[table], taken)
                    bookkeeping = planner.bookkeeping_sql(
                        table,
                        columns[table],
                        own,
                        plan.to_insert,
                        # A held-back local change must stay newer than the watermark, so
                        # the next sync still sees it; the previous watermark stays.
                        watermark=not held,
                        # Written rows become owned; with nothing written the record may stand.
                        owned=bool(diff.to_write) or not own.record_current,
                    )
                    if not diff.to_write:
                        quiet.extend(bookkeeping)
                    else:
                        if options.verify:
                            progress(Progress("verify", table))
                            planner.verify(
                                table,
                                columns[table],
                                diff,
                                local_count=counts[0],
                                exact=False,
                                verify_all=options.verify_all,
                                excused=blocked.rows[table],
                            )
                        execute_together(railway, bookkeeping)
            except TableNoLongerEmpty:
                continue
            break
        result = replace(result, seconds=time.monotonic() - started)
        results.append(result)
        progress(Progress("done", table, result.written, result.written))
    with on_table("", "the rows were written; the next sync re-checks the tables"):
        execute_together(railway, quiet)
    return tuple(results)


def prune(
    planner: Planner,
    results: tuple[TableResult, ...],
    owners: dict[str, Ownership],
    options: SyncOptions,
    progress: ProgressCallback,
) -> tuple[TableResult, ...]:
    """Delete the owned Railway rows local no longer has, children first (``results`` are
    parents first); refuse a table whose rows the site's rows still point at."""
    railway = planner.railway
    by_table = {result.table: result for result in results}
    for table in reversed(tuple(by_table)):
        ids = owners[table].gone
        if not ids:
            continue
        progress(Progress("prune", table, 0, len(ids)))
        with on_table(table, f"{table} was left as it was"), transaction.atomic(using=railway):
            _refuse_site_children(planner, table, ids, {}, f"{table} was left as it was")
            deleted = delete(railway, table, ids, options.batch_size, planner.key(table))
        previous = by_table[table]
        by_table[table] = replace(previous, deleted=deleted, kept=max(previous.kept - deleted, 0))
    return tuple(by_table.values())


def all_at_once(
    planner: Planner,
    columns: dict[str, list[Column]],
    options: SyncOptions,
    progress: ProgressCallback,
) -> tuple[TableResult, ...]:
    """Make the owned Railway rows exactly the local rows, every table in one transaction;
    the site's rows stay unless ``--discard-railway-rows``.

    Railway (its ids and which are the site's) is surveyed again inside the transaction
    rather than trusting a survey the site may have outdated. As in ``table_by_table``, a
    table the site inserted into since it was surveyed empty fails its COPY: then the
    transaction is written again through the upsert.
    """
    surveyed: dict[str, IdSurvey] = {}
    try:
        return _all_at_once(planner, columns, options, progress, surveyed)
    except TableNoLongerEmpty:
        # What the first attempt surveyed still plans it: the rows found since at ids that
        # were free then are the site's, which the upsert keeps.
        return _all_at_once(planner, columns, options, progress, surveyed, copy=False)


def _all_at_once(
    planner: Planner,
    columns: dict[str, list[Column]],
    options: SyncOptions,
    progress: ProgressCallback,
    surveyed: dict[str, IdSurvey],
    *,
    copy: bool = True,
) -> tuple[TableResult, ...]:
    """``all_at_once``, planning from ``surveyed`` when given, else from a survey made now
    (left in ``surveyed``)."""
    railway = planner.railway
    results: dict[str, TableResult] = {}
    diffs: dict[str, TableDiff] = {}
    owners: dict[str, Ownership] = {}
    blocked = Unwritten()
    counts: dict[str, tuple[int, int]] = {}
    missing: dict[str, array] = {}  # the ids Railway lacked when surveyed
    taken: dict[str, array] = {}  # the site's rows found at some of them when written
    unchanged = "Railway was left unchanged"
    with on_table("", unchanged), transaction.atomic(using=railway):
        if not surveyed:
            surveyed.update(planner.prepare(columns, fresh=True))
        surveys = surveyed
        for table in columns:
            started = time.monotonic()
            progress(Progress("diff", table))
            survey = surveys[table]
            counts[table] = (survey.local_count, survey.railway_count)
            with on_table(table, unchanged):
                diff = planner.plan(table, columns[table], counts[table], survey)
                own = owners[table] = planner.ownership(
                    table, columns[table], counts[table][1], survey
                )
                missing[table] = diff.to_insert
                diffs[table], held = settle(
                    planner, table, own, diff, options, counts[table][0], blocked
                )
                result, taken[table] = write_table(
                    planner,
                    table,
                    columns[table],
                    diffs[table],
                    counts[table],
                    own,
                    options,
                    progress,
                    held,
                    copy=copy,
                )
                blocked.rows[table] = _merged(blocked.rows[table], taken[table])
            results[table] = replace(result, seconds=time.monotonic() - started)
        # Children first, so no foreign key points at a row about to go.
        leaving = {table: diffs[table].railway_only for table in columns}
        for table in reversed(tuple(columns)):
            started = time.monotonic()
            progress(Progress("delete", table, 0, len(leaving[table])))
            with on_table(table, unchanged):
                _refuse_site_children(planner, table, leaving[table], leaving, unchanged)
                deleted = delete(
                    railway, table, leaving[table], options.batch_size, planner.key(table)
                )
            previous = results[table]
            results[table] = replace(
                previous,
                kept=0,
                deleted=deleted,
                site_rows=owners[table].kept_site_rows(options, deleting=True) + len(taken[table]),
                seconds=previous.seconds + time.monotonic() - started,
            )
        if options.verify:
            for table in columns:
                progress(Progress("verify", table))
                with on_table(table, unchanged):
                    planner.verify(
                        table,
                        columns[table],
                        diffs[table],
                        local_count=counts[table][0],
                        exact=True,
                        verify_all=options.verify_all,
                        excused=_excused(owners[table], blocked.rows[table], options),
                    )
        bookkeeping = [
            statement
            for table in columns
            for statement in planner.bookkeeping_sql(
                table,
                columns[table],
                owners[table],
                missing[table],
                watermark=not results[table].held_back,  # as in table_by_table
            )
        ]
        # Deferred unique constraints are checked by the last one; the error names its table.
        execute_together(railway, [*bookkeeping, "SET CONSTRAINTS ALL IMMEDIATE"])
    return tuple(results[table] for table in columns)


@dataclass
class Unwritten:
    """The rows of each table a sync does not write, filled parents first (``settle``), so
    that the children's rows pointing at them are held back too.

    ``rows``: Railway lacks them, or holds the site's row at their ids (kept conflicts, rows
    held back, a refused table's new rows); ``stale``: a refused table's changed rows, which
    Railway keeps in their older content. ``refused`` are the rows among ``rows`` that a
    refused table is the cause of, and ``origins`` the refused tables each table's such rows
    wait for.
    """

    rows: dict[str, array] = field(default_factory=dict)
    stale: dict[str, array] = field(default_factory=dict)
    refused: dict[str, array] = field(default_factory=dict)
    origins: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def waiting_for(self, table: str, held: int) -> tuple[str, ...]:
        """The refused tables ``table``'s ``held`` rows wait for (none if it held none)."""
        return self.origins.get(table, ()) if held else ()


def settle(
    planner: Planner,
    table: str,
    own: Ownership,
    diff: TableDiff,
    options: SyncOptions,
    local_count: int,
    blocked: Unwritten,
    *,
    refused: bool = False,
) -> tuple[TableDiff, int]:
    """``diff`` as this sync carries it out (``Ownership.settle``), holding back the local rows
    that point at a parent row not written; records in ``blocked`` the rows of ``table`` not
    written, for its children: ``refused``, the whole table is not written. Call parents
    first."""
    local, fks, keys = planner.local, planner.foreign_keys, planner.keys
    held = held_back(local, table, fks, blocked.rows, keys, blocked.stale)
    if blocked.refused or blocked.stale:
        # Some table was refused: which of these rows wait for it (an extra query per child
        # table, only then).
        waiting = held_back(local, table, fks, blocked.refused, keys, blocked.stale)
        if waiting:
            blocked.refused[table] = waiting
            blocked.origins[table] = tuple(
                sorted(
                    {
                        origin
                        for fk in fks
                        if fk.child == table and fk.parent != table
                        for origin in blocked.origins.get(fk.parent, ())
                    }
                )
            )
    settled, held_count = own.settle(diff, options, local_count, held)
    unwritten = {*own.kept_conflicts(options), *held}
    if refused:
        unwritten.update(settled.to_insert)
        blocked.refused[table] = array(
            "q", sorted({*settled.to_insert, *blocked.refused.get(table, ())})
        )
        blocked.stale[table] = settled.to_update
        blocked.origins[table] = (table,)
    blocked.rows[table] = array("q", sorted(unwritten))
    return settled, held_count


def refused_result(
    table: str, counts: tuple[int, int], compared: str, refusal: Refusal
) -> TableResult:
    """A refused table's line: nothing written, and why."""
    return TableResult(
        table=table,
        local_count=counts[0],
        railway_count=counts[1],
        compared=compared,
        refused=refusal.reason,
        refused_fix=refusal.fix,
    )


def _excused(own: Ownership, blocked: array, options: SyncOptions) -> array:
    """Ids a verification after a deleting sync must not count: rows not written, and the
    site's rows kept."""
    excused = set(blocked)
    if not options.discard_railway_rows:
        excused.update(own.site_only)
    return array("q", sorted(excused))


def _refuse_site_children(
    planner: Planner, table: str, ids: array, leaving: dict[str, array], unchanged: str
) -> None:
    """Refuse (rolling the transaction back) to delete rows the site's rows point at: a
    foreign key would fail, or cascade to the site's rows."""
    found = guards.site_children(planner, table, ids, leaving)
    if found:
        raise GuardRefused(guards.site_children_refusal(found, unchanged), tuple(found))


def write_table(
    planner: Planner,
    table: str,
    columns: list[Column],
    diff: TableDiff,
    counts: tuple[int, int],
    own: Ownership,
    options: SyncOptions,
    progress: ProgressCallback,
    held: int = 0,
    *,
    copy: bool = True,
) -> tuple[TableResult, array]:
    """Write the rows ``diff`` (settled by ``own``) names: COPY into a table that was empty
    (unless not ``copy``), else the upsert. Also returns the ids where the site inserted a
    row since the survey, which were not written (its rows that differ from local's are
    conflicts, reported as the others)."""
    local, railway = planner.local, planner.railway
    to_write = diff.to_write
    done = 0

    def on_batch(rows: int) -> None:
        nonlocal done
        done += rows
        progress(Progress("write", table, done, len(to_write)))

    progress(Progress("write", table, 0, len(to_write)))
    if copy and counts[1] == 0 and not diff.to_update:
        # An empty Railway table: COPY straight in, as pg_restore would.
        inserted = copy_into_empty(
            local,
            railway,
            table,
            columns,
            to_write,
            options.batch_size,
            on_batch,
            planner.key(table),
            # Rows held back are not written: then the batches are not whole id ranges.
            every_id=len(to_write) == counts[0],
        )
        written = Upserted(inserted, 0, array("q"))
    else:
        protect = not options.local_wins
        written = upsert(
            local,
            railway,
            table,
            columns,
            to_write,
            options.batch_size,
            on_batch,
            planner.key(table),
            new=diff.to_insert if protect else None,
            owned=record_expression(railway, table) if protect else None,
        )
    raced, conflicts = _taken(planner, table, columns, written.taken)
    kept_conflicts = len(own.kept_conflicts(options)) + len(raced)
    shown = (own.conflicts if not options.local_wins else ()) + conflicts
    return (
        TableResult(
            table=table,
            local_count=counts[0],
            railway_count=counts[1],
            inserted=written.inserted,
            updated=written.updated,
            unchanged=diff.unchanged
            + (len(to_write) - written.inserted - written.updated - len(raced)),
            kept=len(diff.railway_only),
            compared=diff.method,
            site_rows=own.kept_site_rows(options, deleting=False) + len(written.taken),
            conflicts=kept_conflicts,
            conflict_rows=shown[: conf.conflicts_shown()],
            held_back=held,
        ),
        written.taken,
    )


def _taken(
    planner: Planner, table: str, columns: list[Column], taken: array
) -> tuple[array, tuple[Conflict, ...]]:
    """Of the ids the site took since the survey, those whose row differs from local's
    (conflicts, as any other; an identical row is simply the site's too), and the first
    described. Asks both databases only when there are some."""
    if not taken:
        return array("q"), ()
    key = planner.key(table)
    local = dict(row_hashes(planner.local, table, columns, taken, key))
    railway = dict(row_hashes(planner.railway, table, columns, taken, key))
    raced = array("q", (i for i in taken if i in railway and railway[i] != local.get(i)))
    described = describe(
        planner.local, planner.railway, table, columns, raced[: conf.conflicts_shown()], key
    )
    return raced, described


def _merged(first: array, second: array) -> array:
    """The sorted union of two arrays of ids."""
    return array("q", sorted({*first, *second})) if second else first
