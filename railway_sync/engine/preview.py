"""What a dry run reports: per table what a sync would write, and what its guards would say.

It renders the plan the sync would carry out (made exactly as the sync makes it, inside the
same source snapshot), and writes nothing.
"""

from __future__ import annotations

import time
from dataclasses import replace

from railway_sync.engine.guards import Findings
from railway_sync.engine.options import SyncOptions
from railway_sync.engine.sync_plan import SyncPlan, TablePlan, edits_result, refused_result
from railway_sync.pg.sql import count_rows
from railway_sync.report import SyncReport, TableResult


def before_first_migrate(local: str, tables: tuple[str, ...], options: SyncOptions) -> SyncReport:
    """Railway has no schema yet: every local row of ``tables`` would be inserted."""
    results = tuple(
        TableResult(table, count, 0, inserted=count)
        for table, count in ((t, count_rows(local, t)) for t in tables)
    )
    return SyncReport(options.mode, True, results, verified=False, schema_missing=True)


def report(plan: SyncPlan, findings: Findings, options: SyncOptions, started: float) -> SyncReport:
    """The sync ``options`` describe, as ``plan`` says it would go: the tables a guard would
    refuse alone as the sync would leave them (and their children's rows that would wait
    for them)."""
    return SyncReport(
        options.mode,
        True,
        tuple(would_do(table_plan, options) for table_plan in plan),
        verified=False,
        guard_problems=findings.all,
        would_refuse=bool(findings.blocking),
        needs_confirmation=options.needs_confirmation,
        seconds=time.monotonic() - started,
        pruned=options.prune,
        notices=plan.notices,
    )


def would_do(table_plan: TablePlan, options: SyncOptions) -> TableResult:
    """One table's line of a dry run."""
    if table_plan.refusal is not None:
        return replace(refused_result(table_plan), seconds=table_plan.seconds)
    diff, own = table_plan.settled, table_plan.ownership
    deletes = options.destructive or options.prune
    railway_only = len(diff.railway_only)
    return TableResult(
        table=table_plan.table,
        local_count=table_plan.source_count,
        railway_count=table_plan.target_count,
        inserted=len(diff.to_insert),
        updated=len(diff.to_update),
        unchanged=diff.unchanged,
        kept=0 if deletes else railway_only,
        deleted=railway_only if deletes else 0,
        seconds=table_plan.seconds,
        compared=diff.method,
        site_rows=own.kept_site_rows(options, deleting=options.destructive),
        conflicts=len(own.kept_conflicts(options)),
        conflict_rows=() if options.local_wins else own.conflicts,
        held_back=table_plan.held_count,
        waiting_for=table_plan.waiting_for,
        **edits_result(table_plan),
    )
