"""Writing to Railway, in the sync's two transaction layouts.

- ``table_by_table`` (incremental): each table is planned, written, verified and recorded in
  a transaction of its own, so a failure loses at most that table's writes; ``prune`` then
  deletes Railway rows local no longer has, children first, a table per transaction.
- ``all_at_once`` (rebuild, force): every table in one transaction, deletions included, so
  a failure leaves Railway exactly as it was.

Per table, rows go by COPY straight into an empty table, else through the upsert (``load``).
"""

from __future__ import annotations

import time
from array import array
from dataclasses import replace

from django.db import connections, transaction

from railway_sync import tracking
from railway_sync.diff import IdSurvey, TableDiff
from railway_sync.failures import on_table
from railway_sync.load import copy_into_empty, delete, upsert
from railway_sync.options import SyncOptions
from railway_sync.plan import Planner
from railway_sync.report import Progress, ProgressCallback, TableResult
from railway_sync.schema import Column
from railway_sync.sequences import reset_sequence


def table_by_table(
    planner: Planner,
    columns: dict[str, list[Column]],
    surveys: dict[str, IdSurvey],
    options: SyncOptions,
    progress: ProgressCallback,
) -> tuple[TableResult, ...]:
    """Sync each table in a transaction of its own, parents first (``columns``' order)."""
    railway = planner.railway
    results = []
    for table in columns:
        started = time.monotonic()
        survey = surveys[table]
        counts = (survey.local_count, survey.railway_count)
        # on_table outside the transaction, so a failed COMMIT is named too.
        with (
            on_table(table, f"nothing in {table} was written"),
            transaction.atomic(using=railway),
        ):
            railway_watermark = tracking.snapshot_xmin(railway)
            progress(Progress("diff", table))
            diff = planner.plan(table, columns[table], counts, survey)
            result = write_table(planner, table, columns[table], diff, counts, options, progress)
            if options.verify:
                progress(Progress("verify", table))
                planner.verify(
                    table,
                    columns[table],
                    diff,
                    local_count=counts[0],
                    exact=False,
                    verify_all=options.verify_all,
                )
            reset_sequence(railway, table, planner.key(table))
            planner.record(table, columns[table], railway_watermark)
        result = replace(result, seconds=time.monotonic() - started)
        results.append(result)
        progress(Progress("done", table, result.written, result.written))
    return tuple(results)


def prune(
    railway: str,
    results: tuple[TableResult, ...],
    prune_ids: dict[str, array],
    options: SyncOptions,
    progress: ProgressCallback,
    keys: dict[str, str] | None = None,
) -> tuple[TableResult, ...]:
    """Delete Railway rows local no longer has (``prune_ids``), children first (``results``
    are parents first). ``keys`` maps tables to their primary key column (default ``id``)."""
    keys = keys or {}
    by_table = {result.table: result for result in results}
    for table in reversed(tuple(by_table)):
        ids = prune_ids[table]
        if not ids:
            continue
        progress(Progress("prune", table, 0, len(ids)))
        with on_table(table, f"{table} was left as it was"), transaction.atomic(using=railway):
            deleted = delete(railway, table, ids, options.batch_size, keys.get(table, "id"))
        previous = by_table[table]
        by_table[table] = replace(previous, deleted=deleted, kept=max(previous.kept - deleted, 0))
    return tuple(by_table.values())


def all_at_once(
    planner: Planner,
    columns: dict[str, list[Column]],
    counts: dict[str, tuple[int, int]],
    options: SyncOptions,
    progress: ProgressCallback,
) -> tuple[TableResult, ...]:
    """Make Railway hold exactly the local rows, every table in one transaction.

    Railway is surveyed again inside the transaction rather than trusting a survey the site
    may have outdated.
    """
    railway = planner.railway
    results: dict[str, TableResult] = {}
    diffs: dict[str, TableDiff] = {}
    unchanged = "Railway was left unchanged"
    with on_table("", unchanged), transaction.atomic(using=railway):
        railway_watermark = tracking.snapshot_xmin(railway)
        for table in columns:
            started = time.monotonic()
            progress(Progress("diff", table))
            with on_table(table, unchanged):
                diffs[table] = planner.plan(table, columns[table], counts[table])
                result = write_table(
                    planner, table, columns[table], diffs[table], counts[table], options, progress
                )
            results[table] = replace(result, seconds=time.monotonic() - started)
        # Children first, so no foreign key points at a row about to go.
        for table in reversed(tuple(columns)):
            started = time.monotonic()
            progress(Progress("delete", table, 0, len(diffs[table].railway_only)))
            with on_table(table, unchanged):
                deleted = delete(
                    railway,
                    table,
                    diffs[table].railway_only,
                    options.batch_size,
                    planner.key(table),
                )
            previous = results[table]
            results[table] = replace(
                previous,
                kept=0,
                deleted=deleted,
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
                    )
        for table in columns:
            with on_table(table, unchanged):
                reset_sequence(railway, table, planner.key(table))
                planner.record(table, columns[table], railway_watermark)
        # Deferred unique constraints are checked here; the error names its own table.
        with connections[railway].cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return tuple(results[table] for table in columns)


def write_table(
    planner: Planner,
    table: str,
    columns: list[Column],
    diff: TableDiff,
    counts: tuple[int, int],
    options: SyncOptions,
    progress: ProgressCallback,
) -> TableResult:
    """Write the rows ``diff`` names: COPY into an empty table, else the upsert."""
    local, railway = planner.local, planner.railway
    to_write = diff.to_write
    done = 0

    def on_batch(rows: int) -> None:
        nonlocal done
        done += rows
        progress(Progress("write", table, done, len(to_write)))

    progress(Progress("write", table, 0, len(to_write)))
    if counts[1] == 0 and not diff.to_update:
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
        )
        updated = 0
    else:
        inserted, updated = upsert(
            local,
            railway,
            table,
            columns,
            to_write,
            options.batch_size,
            on_batch,
            planner.key(table),
        )
    return TableResult(
        table=table,
        local_count=counts[0],
        railway_count=counts[1],
        inserted=inserted,
        updated=updated,
        unchanged=diff.unchanged + (len(to_write) - inserted - updated),
        kept=len(diff.railway_only),
        compared=diff.method,
    )
