"""What a dry run reports: per table what a sync would write, and what its guards would say.

It plans exactly as the sync would, inside the same local snapshot, and writes nothing.
"""

from __future__ import annotations

import time
from dataclasses import replace

from railway_sync.engine.diff import IdSurvey
from railway_sync.engine.guards import Findings
from railway_sync.engine.options import SyncOptions
from railway_sync.engine.ownership import Ownership
from railway_sync.engine.plan import Planner
from railway_sync.engine.write import Unwritten, refused_result, settle
from railway_sync.pg.columns import Column
from railway_sync.pg.sql import count_rows
from railway_sync.report import SyncReport, TableResult


def before_first_migrate(local: str, tables: tuple[str, ...], options: SyncOptions) -> SyncReport:
    """Railway has no schema yet: every local row of ``tables`` would be inserted."""
    results = tuple(
        TableResult(table, count, 0, inserted=count)
        for table, count in ((t, count_rows(local, t)) for t in tables)
    )
    return SyncReport(options.mode, True, results, verified=False, schema_missing=True)


def report(
    planner: Planner,
    columns: dict[str, list[Column]],
    surveys: dict[str, IdSurvey],
    owners: dict[str, Ownership],
    findings: Findings,
    options: SyncOptions,
    started: float,
) -> SyncReport:
    """The sync ``options`` describe, planned table by table but not written: the tables a
    guard would refuse alone as the sync would leave them (and their children's rows that
    would wait for them)."""
    results = []
    blocked = Unwritten()
    refusals = {refusal.table: refusal for refusal in findings.refused}
    for table in columns:
        table_started = time.monotonic()
        survey = surveys[table]
        counts = (survey.local_count, survey.railway_count)
        own = owners[table]
        plan = planner.plan(table, columns[table], counts, survey)
        if table in refusals:
            settle(planner, table, own, plan, options, counts[0], blocked, refused=True)
            result = refused_result(table, counts, plan.method, refusals[table])
            results.append(replace(result, seconds=time.monotonic() - table_started))
            continue
        diff, held = settle(planner, table, own, plan, options, counts[0], blocked)
        railway_only = len(diff.railway_only)
        deletes = options.destructive or options.prune
        results.append(
            TableResult(
                table=table,
                local_count=counts[0],
                railway_count=counts[1],
                inserted=len(diff.to_insert),
                updated=len(diff.to_update),
                unchanged=diff.unchanged,
                kept=0 if deletes else railway_only,
                deleted=railway_only if deletes else 0,
                seconds=time.monotonic() - table_started,
                compared=diff.method,
                site_rows=own.kept_site_rows(options, deleting=options.destructive),
                conflicts=len(own.kept_conflicts(options)),
                conflict_rows=() if options.local_wins else own.conflicts,
                held_back=held,
                waiting_for=blocked.waiting_for(table, held),
            )
        )
    return SyncReport(
        options.mode,
        True,
        tuple(results),
        verified=False,
        guard_problems=findings.all,
        would_refuse=bool(findings.blocking),
        needs_confirmation=options.needs_confirmation,
        seconds=time.monotonic() - started,
        pruned=options.prune,
        notices=planner.notices(),
    )
