"""Writing the rows one table's plan settled on: COPY straight into a target table that was
empty (as pg_restore would), else the upsert that never overwrites the site's rows (``load``);
and the rows the site inserted meanwhile at ids the sync meant to fill, told apart from
conflicts."""

from __future__ import annotations

import contextlib
from array import array
from dataclasses import dataclass, field

from railway_sync import conf
from railway_sync.engine.load import (
    Upserted,
    copies_binary,
    copy_into_empty,
    surveyed_empty,
    upsert,
)
from railway_sync.engine.options import SyncOptions
from railway_sync.engine.owned_ids import record_expression
from railway_sync.engine.ownership import describe, row_hashes
from railway_sync.engine.planner import Planner
from railway_sync.engine.sync_plan import TablePlan, edits_result
from railway_sync.pg import bulk_load
from railway_sync.pg.columns import Column
from railway_sync.report import Conflict, Progress, ProgressCallback, TableResult


@dataclass(frozen=True)
class WrittenTable:
    """One table written: its result; the ids where the site inserted a row since the survey,
    which were not written (its rows that differ from the source's are conflicts, reported as
    the others); the ids the upsert wrote, owned from then on; and, for a COPY into an empty
    table, the ids COPYed, which are then exactly the table's rows the sync owns, and the
    digest of what was sent (``load.Copied``), which verification checks the table against."""

    result: TableResult
    taken: array
    written: array = field(default_factory=lambda: array("q"))
    sent_digest: bytes | None = None
    copied: array | None = None


def write_table(
    planner: Planner,
    table_plan: TablePlan,
    columns: list[Column],
    options: SyncOptions,
    progress: ProgressCallback,
    *,
    copy: bool = True,
) -> WrittenTable:
    """Write the rows ``table_plan`` settled on: COPY into a table that was empty (unless not
    ``copy``), else the upsert."""
    source, target = planner.source, planner.target
    table, diff, own = table_plan.table, table_plan.settled, table_plan.ownership
    source_count, target_count = table_plan.counts
    to_write = diff.to_write
    done = 0

    def on_batch(rows: int) -> None:
        nonlocal done
        done += rows
        progress(Progress("write", table, done, len(to_write)))

    progress(Progress("write", table, 0, len(to_write)))
    sent_digest = copied_ids = None
    if copy and target_count == 0 and not diff.to_update:
        # An empty target table: COPY straight in, as pg_restore would, its indexes built
        # and its foreign keys checked once the rows are in when there are many.
        many = len(to_write) >= conf.indexes_after_rows()
        # A unique constraint added back after the load that finds a value twice found a
        # row the site inserted since the survey, as the COPY would have with it in place.
        with (
            surveyed_empty(table),
            bulk_load.loading(target, table) if many else contextlib.nullcontext(),
        ):
            copied = copy_into_empty(
                source,
                target,
                table,
                columns,
                to_write,
                options.batch_size,
                on_batch,
                planner.key(table),
                # Rows held back are not written: then the batches are not whole id ranges.
                every_id=len(to_write) == source_count,
                binary=copies_binary(columns),
            )
        written = Upserted(copied.rows, 0, array("q"))
        sent_digest, copied_ids = copied.sent_digest, to_write
    else:
        protect = not options.local_wins
        written = upsert(
            source,
            target,
            table,
            columns,
            to_write,
            options.batch_size,
            on_batch,
            planner.key(table),
            new=diff.to_insert if protect else None,
            owned=record_expression(target, table) if protect else None,
        )
    raced, conflicts = _taken(planner, table, columns, written.taken)
    kept_conflicts = len(own.kept_conflicts(options)) + len(raced)
    shown = (own.conflicts if not options.local_wins else ()) + conflicts
    return WrittenTable(
        TableResult(
            table=table,
            local_count=source_count,
            railway_count=target_count,
            inserted=written.inserted,
            updated=written.updated,
            unchanged=diff.unchanged
            + (len(to_write) - written.inserted - written.updated - len(raced)),
            kept=len(diff.railway_only),
            compared=diff.method,
            site_rows=own.kept_site_rows(options, deleting=False) + len(written.taken),
            conflicts=kept_conflicts,
            conflict_rows=shown[: conf.conflicts_shown()],
            held_back=table_plan.held_count,
            **edits_result(table_plan),
        ),
        written.taken,
        written.written,
        sent_digest,
        copied_ids,
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
    source = dict(row_hashes(planner.source, table, columns, taken, key))
    target = dict(row_hashes(planner.target, table, columns, taken, key))
    raced = array("q", (i for i in taken if i in target and target[i] != source.get(i)))
    described = describe(
        planner.source, planner.target, table, columns, raced[: conf.conflicts_shown()], key
    )
    return raced, described
