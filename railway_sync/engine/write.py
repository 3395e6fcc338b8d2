"""Carrying a :class:`SyncPlan` out on the target, in the sync's two transaction layouts.

- ``table_by_table`` (incremental): each planned table is written, verified and recorded in
  a transaction of its own, so a failure loses at most that table's writes; a table a guard
  refused is left as it was, and its children's rows that point at rows it would have
  brought wait with it; ``prune`` then deletes the owned target rows the source no longer
  has, children first, a table per transaction.
- ``all_at_once`` (rebuild, force): every table planned again and written in one
  transaction, deletions included, so a failure leaves the target exactly as it was.

The site's rows (``ownership``) are never written or deleted, but by ``--on-conflict local``
and ``--discard-railway-rows``; which rows the sync owns is recorded with the rows.

Per table, rows go by COPY straight into an empty table, else through the upsert
(``write_table``).
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable
from dataclasses import replace

from django.db import transaction

from railway_sync.engine import guards
from railway_sync.engine.bookkeeping import bookkeeping_sql
from railway_sync.engine.id_sets import union
from railway_sync.engine.id_survey import IdSurvey
from railway_sync.engine.load import TableNoLongerEmpty, delete
from railway_sync.engine.options import SyncOptions
from railway_sync.engine.owned_record import forget_sql
from railway_sync.engine.ownership import Ownership, held_back
from railway_sync.engine.planner import Planner, make_plan
from railway_sync.engine.sync_plan import (
    SyncPlan,
    TablePlan,
    hold_back_more,
    refuse_target_edits,
    refused_result,
)
from railway_sync.engine.verify import verify
from railway_sync.engine.write_table import WrittenTable, write_table
from railway_sync.errors import GuardRefused
from railway_sync.pg.columns import Column
from railway_sync.pg.failures import on_table
from railway_sync.pg.sql import execute_together
from railway_sync.report import Progress, ProgressCallback, TableResult


def table_by_table(
    planner: Planner,
    plan: SyncPlan,
    columns: dict[str, list[Column]],
    options: SyncOptions,
    progress: ProgressCallback,
    closing: Callable[[tuple[TableResult, ...]], list[str]] | None = None,
) -> tuple[TableResult, ...]:
    """Carry ``plan`` out, each table in a transaction of its own, parents first.

    A table with nothing to write opens no transaction (planning from the survey sent the
    target nothing): its bookkeeping (watermarks, ownership, sequence) goes with the other
    such tables' in one statement at the end, followed by what ``closing`` makes of the
    results (the record of a quiet sync). A refused table writes nothing, its bookkeeping
    neither, so the next sync sees all its changes again.
    """
    target = planner.target
    results = []
    raced: dict[str, array] = {}
    idle: list[str] = []  # the bookkeeping of the tables nothing was written to
    for table_plan in plan:
        table = table_plan.table
        started = time.monotonic()
        if table_plan.refusal is not None:
            results.append(replace(refused_result(table_plan), seconds=time.monotonic() - started))
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
                    transaction.atomic(using=target),
                ):
                    written, outcome = _write_planned(
                        planner, table_plan, columns[table], options, progress, raced, copy=copy
                    )
                    result, taken = outcome.result, outcome.taken
                    own = written.ownership
                    bookkeeping = bookkeeping_sql(
                        planner,
                        table,
                        columns[table],
                        own,
                        written.found.to_insert,
                        # A held-back source change must stay newer than the watermark, so
                        # the next sync still sees it; the previous watermark stays.
                        # Rows held back, or edits on the target kept, must be seen again.
                        watermark=not written.held_count and not written.edits_kept,
                        # Written rows become owned; with nothing written the record may stand.
                        owned=bool(written.settled.to_write) or not own.record_current,
                        written=outcome.written,
                        copied=outcome.copied,
                    )
                    if not written.settled.to_write:
                        idle.extend(bookkeeping)
                    else:
                        if options.verify:
                            progress(Progress("verify", table))
                            verify(
                                planner,
                                table,
                                columns[table],
                                written.settled,
                                source_count=written.source_count,
                                exact=False,
                                verify_all=options.verify_all,
                                excused=union(written.unwritten, taken),
                                sent_digest=outcome.sent_digest,
                            )
                        execute_together(target, bookkeeping)
            except TableNoLongerEmpty:
                continue
            break
        result = replace(result, seconds=time.monotonic() - started)
        results.append(result)
        progress(Progress("done", table, result.written, result.written))
    with on_table("", "the rows were written; the next sync re-checks the tables"):
        execute_together(target, idle + (closing(tuple(results)) if closing else []))
    return tuple(results)


def prune(
    planner: Planner,
    results: tuple[TableResult, ...],
    plan: SyncPlan,
    options: SyncOptions,
    progress: ProgressCallback,
) -> tuple[TableResult, ...]:
    """Delete the owned target rows the source no longer has, children first (``results``
    are parents first); refuse a table whose rows the site's rows still point at."""
    target = planner.target
    by_table = {result.table: result for result in results}
    for table in reversed(tuple(by_table)):
        ids = plan[table].ownership.gone
        if not ids:
            continue
        progress(Progress("prune", table, 0, len(ids)))
        with on_table(table, f"{table} was left as it was"), transaction.atomic(using=target):
            _refuse_site_children(planner, table, ids, {}, f"{table} was left as it was")
            deleted = delete(target, table, ids, options.batch_size, planner.key(table))
            execute_together(target, [forget_sql(target, table, ids)])
        previous = by_table[table]
        by_table[table] = replace(previous, deleted=deleted, kept=max(previous.kept - deleted, 0))
    return tuple(by_table.values())


def all_at_once(
    planner: Planner,
    columns: dict[str, list[Column]],
    options: SyncOptions,
    progress: ProgressCallback,
) -> tuple[TableResult, ...]:
    """Make the owned target rows exactly the source rows, every table in one transaction;
    the site's rows stay unless ``--discard-railway-rows``.

    The target (its ids and which are the site's) is surveyed, guarded and planned inside the
    transaction, once, rather than trusting a survey the site may have outdated. As in
    ``table_by_table``, a table the site inserted into since it was surveyed empty fails its
    COPY: then the transaction is written again through the upsert.
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
    target = planner.target
    results: dict[str, TableResult] = {}
    plans: dict[str, TablePlan] = {}
    raced: dict[str, array] = {}
    taken: dict[str, array] = {}  # the site's rows found at ids free when surveyed
    sent_digests: dict[str, bytes | None] = {}
    copied: dict[str, array | None] = {}
    upserted: dict[str, array] = {}  # the ids the upsert wrote
    unchanged = "Railway was left unchanged"
    with on_table("", unchanged), transaction.atomic(using=target):
        if not surveyed:
            surveyed.update(planner.prepare(columns, fresh=True))
        owners = {}
        for table in columns:
            with on_table(table, unchanged):
                count = surveyed[table].railway_count
                owners[table] = planner.ownership(table, columns[table], count, surveyed[table])
        counts = {
            table: (found.local_count, found.railway_count) for table, found in surveyed.items()
        }
        guards.enforce(options, guards.inspect(options, counts, owners, planner))
        plan = make_plan(
            planner, columns, surveyed, owners, options, progress=progress, outcome=unchanged
        )
        refuse_target_edits(plan, options, unchanged)
        for table_plan in plan:
            table = table_plan.table
            started = time.monotonic()
            with on_table(table, unchanged):
                plans[table], outcome = _write_planned(
                    planner, table_plan, columns[table], options, progress, raced, copy=copy
                )
            taken[table], sent_digests[table] = outcome.taken, outcome.sent_digest
            copied[table], upserted[table] = outcome.copied, outcome.written
            results[table] = replace(outcome.result, seconds=time.monotonic() - started)
        # Children first, so no foreign key points at a row about to go.
        leaving = {table: plans[table].settled.railway_only for table in columns}
        for table in reversed(tuple(columns)):
            started = time.monotonic()
            progress(Progress("delete", table, 0, len(leaving[table])))
            with on_table(table, unchanged):
                _refuse_site_children(planner, table, leaving[table], leaving, unchanged)
                deleted = delete(
                    target, table, leaving[table], options.batch_size, planner.key(table)
                )
            previous = results[table]
            own = plans[table].ownership
            results[table] = replace(
                previous,
                kept=0,
                deleted=deleted,
                site_rows=own.kept_site_rows(options, deleting=True) + len(taken[table]),
                seconds=previous.seconds + time.monotonic() - started,
            )
        if options.verify:
            for table in columns:
                progress(Progress("verify", table))
                with on_table(table, unchanged):
                    verify(
                        planner,
                        table,
                        columns[table],
                        plans[table].settled,
                        source_count=plans[table].source_count,
                        exact=True,
                        verify_all=options.verify_all,
                        excused=_excused(
                            plans[table].ownership,
                            union(plans[table].unwritten, taken[table]),
                            options,
                        ),
                        sent_digest=sent_digests[table],
                    )
        bookkeeping = [
            statement
            for table in columns
            for statement in bookkeeping_sql(
                planner,
                table,
                columns[table],
                plans[table].ownership,
                plans[table].found.to_insert,
                # As in table_by_table.
                watermark=not results[table].held_back and not plans[table].edits_kept,
                written=upserted[table],
                deleted=leaving[table],
                copied=copied[table],
            )
        ]
        # Deferred unique constraints are checked by the last one; the error names its table.
        execute_together(target, [*bookkeeping, "SET CONSTRAINTS ALL IMMEDIATE"])
    return tuple(results[table] for table in columns)


def _write_planned(
    planner: Planner,
    table_plan: TablePlan,
    columns: list[Column],
    options: SyncOptions,
    progress: ProgressCallback,
    raced: dict[str, array],
    *,
    copy: bool,
) -> tuple[TablePlan, WrittenTable]:
    """Write one table's plan, holding back first its rows that point at rows the site took
    while their parents were written (``raced``, filled here for the children): the plan as
    carried out, and what was written (the ids the site took in this table meanwhile too)."""
    table = table_plan.table
    if raced:
        more = held_back(planner.source, table, planner.foreign_keys, raced, planner.keys)
        table_plan = hold_back_more(table_plan, more, options)
        if more:
            raced[table] = union(raced.get(table, array("q")), more)
    outcome = write_table(planner, table_plan, columns, options, progress, copy=copy)
    if outcome.taken:
        # Rows the site took meanwhile are not written: not checked, and their children are
        # held back.
        raced[table] = union(raced.get(table, array("q")), outcome.taken)
    return table_plan, replace(
        outcome, result=replace(outcome.result, waiting_for=table_plan.waiting_for)
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
