"""What the commands (and any Python caller) run: one function per operation, each returning
a report. Nothing here prints; every function takes its databases explicitly or from conf.

This is the layer that says which database is which: a sync's source is the local database
and its target Railway; the engine below speaks of a source and a target.

A sync, phase by phase: connect both databases; ask Railway in one statement who it is
(refusing the local database itself), for the run lock, and for its catalog, then (a second)
for its watermarks and id ranges (``railway_facts``); open one consistent local snapshot;
compare the schemas; survey every table on both sides at once, with which Railway rows are
the site's (``Planner.prepare``); run the guards; make the plan (``make_plan``); then either
render it (``preview``) or carry it out (``write``), each layout in its own transactions,
and return the report. A sync with nothing to write asks Railway about five times in all;
one after such a sync, nothing written on either side since, three: it answers from that
sync's record once the schema is checked (``quiet``), reading no table.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from typing import TYPE_CHECKING

from django.db.utils import DatabaseError, InterfaceError, OperationalError

from railway_sync import conf
from railway_sync.engine import guards, preview, pull_tables, quiet, railway_facts, rights
from railway_sync.engine.options import SyncOptions
from railway_sync.engine.ownership import Ownership
from railway_sync.engine.planner import Planner, make_plan
from railway_sync.engine.railway_facts import RailwayFacts
from railway_sync.engine.sync_plan import refuse_target_edits
from railway_sync.errors import NOTHING_CHANGED, ConnectionFailed, GuardRefused, SchemaMismatch
from railway_sync.pg.connection import connect, describe, refuse_same_database, server_version
from railway_sync.pg.error_source import sqlstate
from railway_sync.pg.failures import explain, on_table, on_tables, translate
from railway_sync.pg.locks import exclusive_run, read_only_snapshot
from railway_sync.report import (
    ConnectionReport,
    MakeMigrationsReport,
    MigrateReport,
    Progress,
    ProgressCallback,
    PullReport,
    SchemaChange,
    StatusReport,
    SyncReport,
    TableResult,
    no_progress,
)
from railway_sync.schema import autodetect, tables
from railway_sync.schema.tables import Catalog

if TYPE_CHECKING:
    from railway_sync.engine.pull import PullOptions

# What only one operation uses (the write, the pull, the status, the migrations) is imported
# inside its function, so that cron's sync, most often a quiet one that writes nothing, does
# not import the rest (13 modules; 10 to 15 ms by Python's import timer).


@contextmanager
def railway_run(
    local: str,
    railway: str,
    names: tuple[str, ...],
    keys: dict[str, str],
    *,
    dry_run: bool,
    progress: ProgressCallback,
    outcome: str = "nothing was written",
) -> Iterator[RailwayFacts]:
    """What Railway is (``railway_facts``), asked in one statement that also tries its run
    lock; unless ``dry_run``, the lock held for the block (waiting for another sync or pull,
    then asking again: that run changed what Railway holds). A Railway that is the local
    database is refused. Failures name ``outcome``."""
    with on_tables(names, outcome):
        facts = railway_facts.read(railway, names, keys, take_run_lock=not dry_run)
    lock = nullcontext() if dry_run else exclusive_run(railway, progress, taken=facts.run_lock)
    with lock:
        refuse_same_database(local, railway, facts.identity)
        if not facts.run_lock and not dry_run:
            with on_tables(names, outcome):
                facts = railway_facts.read(railway, names, keys)
        yield facts


def test_connection(*, railway: str | None = None) -> ConnectionReport:
    """Connect to Railway and read its server version."""
    railway = railway or conf.railway_alias()
    started = time.monotonic()
    connect(railway)
    try:
        version, database = server_version(railway)
    except (OperationalError, InterfaceError) as exc:
        raise ConnectionFailed(explain(railway, exc)) from None
    return ConnectionReport(describe(railway), version, database, time.monotonic() - started)


def check_local(*, local: str | None = None, progress: ProgressCallback = no_progress) -> Catalog:
    """Connect to the local database and read the configured tables from its catalog.

    Raises :class:`ConfigurationError` naming tables it lacks or cannot sync; call it before
    touching Railway. Its notices (a default table local lacks) go to ``progress`` as
    ``notice`` events, before anything else can fail.
    """
    local = local or conf.local_alias()
    connect(local)
    catalog = tables.configured(local)
    announce(catalog.notices, progress)
    return catalog


def announce(notices: tuple[str, ...], progress: ProgressCallback) -> None:
    """Hand each notice to ``progress`` as a ``notice`` event (the commands print each one
    once, and put it in their JSON documents)."""
    for notice in notices:
        progress(Progress("notice", message=notice))


def migrate(
    *,
    dry_run: bool = False,
    confirm_destructive: bool = False,
    progress: ProgressCallback = no_progress,
    local: str | None = None,
    railway: str | None = None,
) -> MigrateReport:
    """Apply railway_sync's migrations to Railway (never to the local database, which is
    connected only to make sure Railway is not that database, and to read which of the
    guide's tables it has). Each step is checked against Railway first: what Railway already
    has is recorded without running; a drop of data runs only with ``confirm_destructive``."""
    from railway_sync.schema import migrate as migrations

    local = local or conf.local_alias()
    railway = railway or conf.railway_alias()
    connect(railway)
    connect(local)
    refuse_same_database(local, railway)
    try:
        return migrations.apply(
            railway, dry_run=dry_run, progress=progress, confirm_destructive=confirm_destructive
        )
    except OperationalError as exc:
        # Reading which migrations Railway has waited past RAILWAY_LOCK_TIMEOUT.
        if sqlstate(exc) != "55P03":
            raise
        raise translate(exc, outcome="Railway's schema was left as it was") from None


def makemigrations(
    *,
    dry_run: bool = False,
    name: str | None = None,
    local: str | None = None,
    progress: ProgressCallback = no_progress,
) -> MakeMigrationsReport:
    """Compare the configured local tables with the shape Railway's migrations describe and,
    if they differ and this is not a ``dry_run``, write the migration that closes the gap into the project's
    ``MIGRATION_MODULES["railway_schema"]`` package. Reads only the local database."""
    local = local or conf.local_alias()
    connect(local)
    announce(tables.selected(local)[1], progress)
    schema_plan = autodetect.plan(local)
    changes = tuple(
        SchemaChange(step.describe(), tuple(step.forwards_sql())) for step in schema_plan.operations
    )
    if schema_plan.empty:
        return MakeMigrationsReport(changes)
    writer = autodetect.writer(schema_plan, name)
    label = f"{writer.migration.app_label}.{writer.migration.name}"
    if not dry_run:
        with open(writer.path, "w", encoding="utf-8") as file:
            file.write(writer.as_string())
    return MakeMigrationsReport(changes, label, writer.path, written=not dry_run)


def sync(
    options: SyncOptions,
    *,
    progress: ProgressCallback = no_progress,
    local: str | None = None,
    railway: str | None = None,
) -> SyncReport:
    """Make Railway's synced tables hold the local rows, by primary key, as ``options`` say.

    ``incremental`` inserts and updates, keeps Railway-only rows (or, with ``prune``, deletes
    the ones the sync put there afterwards, children first), and commits each table on its
    own; a table its guard refuses (rows the sync put there missing locally) is left as it
    was and named in the report (``refused_tables``), with the rows of other tables that
    point at rows it would have brought; ``rebuild`` and ``force`` make the rows the sync owns exactly the local rows in one
    transaction, so a failure leaves Railway as it was. Rows the site wrote are kept (but
    for ``discard_railway_rows``); a site row at an id local also has is a conflict, kept and
    reported unless ``on_conflict="local"``. Unless ``skip_validation``, what was written is
    read back and compared before commit; change tracking vouches for the rows it did not
    name. ``verify_all`` compares every row instead, both to plan and to verify. Only one
    sync writes to a Railway at a time.
    """
    local = local or conf.local_alias()
    railway = railway or conf.railway_alias()
    started = time.monotonic()
    catalog = check_local(local=local, progress=progress)
    names, keys = catalog.names, catalog.keys()
    connect(railway)
    try:
        with railway_run(
            local, railway, names, keys, dry_run=options.dry_run, progress=progress
        ) as facts:
            if not options.dry_run:
                rights.refuse_missing_writes(
                    facts,
                    names,
                    deleting=options.destructive or options.prune,
                    outcome="nothing was written",
                )
            # No synced table at all on Railway: it was never set up. (Some missing: the
            # schema check below names them and the fix.)
            if options.dry_run and not facts.present_tables:
                return preview.before_first_migrate(local, names, options)
            with read_only_snapshot(local):
                progress(Progress("schema"))
                with on_table("", "nothing was written"):
                    columns = autodetect.synced_columns(
                        local, facts.columns, facts.applied_migrations, names
                    )
                behind = None if options.dry_run else facts.behind()
                if behind:
                    raise SchemaMismatch(
                        f"Railway's schema is behind this version of railway_sync ({behind}). "
                        "Run: python manage.py railway_migrate",
                        [],
                    )
                # Local may lack a key Railway enforces (the scrapers' schema dropped it), and
                # a column only Railway has (the site's) may point at a synced table too.
                every_key = list(dict.fromkeys(catalog.foreign_keys() + facts.foreign_keys))
                synced_keys = [
                    fk
                    for fk in every_key
                    if any(column.name == fk.column for column in columns[fk.child])
                ]
                # --verify-all plans from every row too, so it repairs what tracking cannot see.
                planner = Planner.open(
                    local,
                    railway,
                    facts,
                    full=options.verify_all,
                    keys=keys,
                    foreign_keys=synced_keys,
                    site_foreign_keys=every_key,
                )
                if answers_quietly(options):
                    replayed = quiet.replay(planner, facts, columns)
                    if replayed is not None:
                        seconds = time.monotonic() - started
                        return SyncReport(
                            options.mode, False, replayed, options.verify, seconds=seconds
                        )
                from railway_sync.engine import write

                if options.destructive and not options.dry_run:
                    # Surveyed, guarded and planned inside its transaction, from what the
                    # target holds then: the guards' survey is the one the write acts on.
                    results = write.all_at_once(planner, columns, options, progress)
                    return _written(options, results, planner, started)
                with on_tables(names, "nothing was written"):
                    surveys = planner.prepare(columns)
                owners: dict[str, Ownership] = {}
                for table in names:
                    with on_table(table, "nothing was written"):
                        owners[table] = planner.ownership(
                            table, columns[table], surveys[table].railway_count, surveys[table]
                        )
                counts = {t: (s.local_count, s.railway_count) for t, s in surveys.items()}
                findings = guards.inspect(options, counts, owners, planner)
                if options.dry_run:
                    plan = make_plan(planner, columns, surveys, owners, options, findings.refused)
                    try:
                        refuse_target_edits(plan, options, "nothing was written")
                    except GuardRefused as refusal:
                        findings = replace(findings, problems=findings.problems + refusal.problems)
                    return preview.report(plan, findings, options, started)
                guards.enforce(options, findings)
                plan = make_plan(
                    planner, columns, surveys, owners, options, findings.refused, progress=progress
                )
                refuse_target_edits(plan, options, "nothing was written")
                results = write.table_by_table(
                    planner,
                    plan,
                    columns,
                    options,
                    progress,
                    closing=None
                    if options.prune
                    else functools.partial(quiet.record_sql, planner, facts),
                )
                if options.prune:
                    results = write.prune(planner, results, plan, options, progress)
        return _written(options, results, planner, started, findings)
    except (DatabaseError, InterfaceError) as exc:
        raise translate(exc) from None


def _written(
    options: SyncOptions,
    results: tuple[TableResult, ...],
    planner: Planner,
    started: float,
    findings: guards.Findings | None = None,
) -> SyncReport:
    """The report of a sync that wrote: ``findings`` are what the guards found, when they
    refused tables (the run exits 1)."""
    return SyncReport(
        options.mode,
        False,
        results,
        verified=options.verify,
        guard_problems=findings.all if findings else (),
        seconds=time.monotonic() - started,
        pruned=options.prune,
        notices=planner.notices(),
    )


def answers_quietly(options: SyncOptions) -> bool:
    """Whether a sync may answer from the last quiet sync's record (``quiet.replay``): not a
    dry run, a deleting mode, ``--prune`` or ``--verify-all``, which read the tables."""
    return not (options.dry_run or options.destructive or options.prune or options.verify_all)


def status(
    *,
    deep: bool = False,
    local: str | None = None,
    railway: str | None = None,
    progress: ProgressCallback = no_progress,
) -> StatusReport:
    """Counts on both sides and whether every row's content matches.

    Change tracking names the rows to compare; ``deep`` hashes and compares every row.
    ``progress`` receives the catalog's notices.
    """
    from railway_sync.engine import status as status_report

    local = local or conf.local_alias()
    railway = railway or conf.railway_alias()
    catalog = check_local(local=local, progress=progress)
    try:
        return status_report.report(deep=deep, local=local, railway=railway, catalog=catalog)
    except (DatabaseError, InterfaceError) as exc:
        # A table locked past RAILWAY_LOCK_TIMEOUT, a lost connection...: one line naming
        # the database, the table and the fix, as for a sync.
        raise translate(exc, tables=catalog.names) from None


def pull(
    options: PullOptions,
    *,
    progress: ProgressCallback = no_progress,
    local: str | None = None,
    railway: str | None = None,
) -> PullReport:
    """Make the local tables equal to Railway's (``railway_pull``): the sync's source and
    target swapped. Railway is read in one read-only transaction, under its run lock (so a
    pull and a sync never interleave); local is written in one transaction."""
    from railway_sync.engine import pull as pulling

    local = local or conf.local_alias()
    railway = railway or conf.railway_alias()
    connect(local)
    connect(railway)
    try:
        names, notices = pull_tables.chosen(local, railway, options.tables)
        announce(notices, progress)
        with on_tables(names, NOTHING_CHANGED):
            keys = {name: "id" for name in names} | tables.primary_keys(railway, names)
        with (
            railway_run(
                local,
                railway,
                names,
                keys,
                dry_run=options.dry_run,
                progress=progress,
                outcome=NOTHING_CHANGED,
            ) as facts,
            read_only_snapshot(railway),
        ):
            report = pulling.pull(
                options, facts, names, local=local, railway=railway, progress=progress
            )
        return replace(report, notices=notices + report.notices)
    except (DatabaseError, InterfaceError) as exc:
        raise translate(exc, outcome=NOTHING_CHANGED) from None
