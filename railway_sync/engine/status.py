"""``railway_status``: counts on both sides, whether every row's content matches, and what
to run next. It reads both databases and writes neither."""

from __future__ import annotations

from railway_sync import conf
from railway_sync.engine import quiet, railway_facts
from railway_sync.engine.options import SyncOptions
from railway_sync.engine.planner import Planner, make_plan
from railway_sync.engine.sync_plan import TablePlan
from railway_sync.errors import ConnectionFailed, SchemaMismatch
from railway_sync.pg.connection import connect, describe, refuse_same_database
from railway_sync.pg.locks import read_only_snapshot
from railway_sync.pg.sql import count_rows
from railway_sync.report import StatusReport, TableStatus
from railway_sync.schema import autodetect
from railway_sync.schema.drift import DRIFT_FIX, site_columns
from railway_sync.schema.tables import Catalog


def report(*, deep: bool, local: str, railway: str, catalog: Catalog) -> StatusReport:
    """Compare both sides; ``deep`` hashes every row instead of those tracking names.

    The local database must be connected and hold the synced tables; Railway being
    unreachable, without a schema, or with other columns is a report, not an error: its
    ``problem`` says why the rows were not compared, and no table is called in sync.
    """
    try:
        connect(railway)
    except ConnectionFailed as exc:
        return StatusReport(
            describe(railway),
            False,
            problem=str(exc),
            recommendation="Fix the connection, then run: python manage.py railway_test_connection",
        )
    names, keys = catalog.names, catalog.keys()
    facts = railway_facts.read(railway, names, keys)
    refuse_same_database(local, railway, facts.identity)
    target = describe(railway)
    if not facts.present_tables:
        tables = tuple(TableStatus(t, count_rows(local, t), None) for t in names)
        setup = "Run: python manage.py railway_setup"
        return StatusReport(
            target,
            True,
            tables,
            problem=f"Railway has no schema yet. {setup}",
            railway_synced_at=facts.synced_at,
            recommendation=setup,
        )
    with read_only_snapshot(local):
        try:
            columns = autodetect.synced_columns(
                local, facts.columns, facts.applied_migrations, names
            )
        except SchemaMismatch as exc:
            # Counts only: with the columns apart, no row's content can be compared
            # (``compared`` stays "", so no table is called in sync).
            tables = tuple(
                TableStatus(
                    t,
                    count_rows(local, t),
                    count_rows(railway, t) if facts.columns[t] is not None else None,
                )
                for t in names
            )
            return StatusReport(
                target,
                True,
                tables,
                problem=exc.finding,
                recommendation=f"Run: {DRIFT_FIX}",
                details=tuple(exc.lines),
                railway_synced_at=facts.synced_at,
            )
        planner = Planner.open(local, railway, facts, full=deep, keys=keys)
        replayed = None if deep else quiet.replay(planner, facts, columns)
        notices: tuple[str, ...] = ()
        if replayed is not None:
            # Nothing written on either side since a sync found nothing to do: its figures.
            found = [
                TableStatus(
                    table=result.table,
                    local_count=result.local_count,
                    railway_count=result.railway_count,
                    railway_only=result.kept,
                    compared=result.compared,
                    site_rows=result.site_rows,
                    site_columns=site_columns(columns[result.table], facts.columns[result.table]),
                )
                for result in replayed
            ]
        else:
            surveys = planner.prepare(columns)
            owners = {
                table: planner.ownership(table, columns[table], survey.railway_count, survey)
                for table, survey in surveys.items()
            }
            plan = make_plan(planner, columns, surveys, owners, SyncOptions())
            found = [
                summarise(
                    table_plan,
                    site_columns(columns[table_plan.table], facts.columns[table_plan.table]),
                )
                for table_plan in plan
            ]
            notices = plan.notices
    return StatusReport(
        target,
        True,
        tuple(found),
        recommendation=recommend(found, deep=deep),
        deep=deep,
        notices=notices,
        railway_synced_at=facts.synced_at,
    )


def summarise(table_plan: TablePlan, site_columns: tuple[str, ...]) -> TableStatus:
    """One table's line of the status: how the two sides differ, whoever wrote the rows."""
    found, own = table_plan.found, table_plan.ownership
    conflicts = set(own.conflict_ids)
    return TableStatus(
        table=table_plan.table,
        local_count=table_plan.source_count,
        railway_count=table_plan.target_count,
        missing_on_railway=len(found.to_insert),
        differing=sum(1 for i in found.to_update if i not in conflicts),
        railway_only=len(own.gone),
        compared=found.method,
        site_rows=own.site_rows,
        conflicts=len(own.conflict_ids),
        conflict_rows=own.conflicts,
        site_columns=site_columns,
    )


def recommend(tables: list[TableStatus], *, deep: bool = False) -> str:
    """The least destructive command that brings Railway in line, or "Nothing to do.".

    Differences only a deep comparison found (a restored backup, a change made behind
    PostgreSQL's back) need a sync that compares every row too.
    """
    if all(t.in_sync for t in tables):
        return "Nothing to do."
    if any(t.conflicts for t in tables):
        return (
            "The site's rows on Railway hold ids that local also uses (conflicts above); "
            "syncs keep the site's row and exit 1. To let local's rows replace them, run: "
            "python manage.py railway_sync --on-conflict local"
        )
    owned = {t.table: (t.railway_count or 0) - t.site_rows for t in tables}
    if any(t.railway_only > conf.prune_max_share() * owned[t.table] for t in tables):
        return (
            "Many rows the sync put on Railway are no longer in local. If local was rebuilt "
            "on purpose, run: python manage.py railway_sync --mode rebuild "
            "--confirm-destructive (the site's rows stay)"
        )
    if any(t.missing_on_railway or t.differing for t in tables):
        return "Run: python manage.py railway_sync" + (" --verify-all" if deep else "")
    return (
        "Railway has rows the sync put there that local no longer has (kept by incremental "
        "syncs). To remove them, run: python manage.py railway_sync --prune"
    )
