"""The operations behind the commands. Nothing here prints: each returns a report."""

from __future__ import annotations

import time
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from django.db import connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import DatabaseError, Error, InterfaceError, OperationalError

from railway_sync import conf, tracking
from railway_sync.connection import (
    connect,
    describe,
    explain,
    refuse_same_database,
    server_version,
)
from railway_sync.diff import IdSurvey, TableDiff, count_rows, survey_ids
from railway_sync.errors import (
    AnotherSyncRunning,
    ConnectionFailed,
    GuardRefused,
    RailwaySyncError,
    SchemaMismatch,
    WriteFailed,
)
from railway_sync.failures import lock_holder, translate
from railway_sync.load import copy_into_empty, delete, upsert
from railway_sync.models import SYNCED_MODELS, SYNCED_TABLES
from railway_sync.plan import Planner
from railway_sync.report import (
    ConnectionReport,
    MigrateReport,
    Progress,
    ProgressCallback,
    StatusReport,
    SyncReport,
    TableResult,
    TableStatus,
    no_progress,
)
from railway_sync.schema import (
    Column,
    compare_schemas,
    railway_tables_present,
    require_local_tables,
    reset_sequence,
)

MODES = ("incremental", "rebuild", "force")
DESTRUCTIVE_MODES = ("rebuild", "force")
APP_LABEL = "railway_sync"
# The advisory lock key that serialises syncs on one Railway database ("rail" in ASCII).
RUN_LOCK_KEY = 0x7261696C


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


def check_local(*, local: str | None = None) -> None:
    """Connect to the local database and check it holds the synced tables.

    Raises :class:`SchemaMismatch` naming the missing tables; call it before touching Railway.
    """
    local = local or conf.local_alias()
    connect(local)
    require_local_tables(local, SYNCED_TABLES)


@contextmanager
def local_snapshot(local: str) -> Iterator[None]:
    """Read the local database in one consistent snapshot, so concurrent scrapes can't tear it."""
    with transaction.atomic(using=local):
        with connections[local].cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield
        # Nothing was written locally; ending read-only snapshots with rollback is cheapest.
        transaction.set_rollback(True, using=local)


def _check_guards(
    mode: str, counts: dict[str, tuple[int, int]], thresholds: dict[str, int]
) -> list[str]:
    problems = []
    if mode == "incremental":
        for table, (local_count, railway_count) in counts.items():
            if local_count < railway_count:
                problems.append(
                    f"{table}: local has {local_count} rows but Railway has {railway_count}"
                )
    elif mode == "rebuild":
        for table, (local_count, _) in counts.items():
            minimum = thresholds.get(table, 0)
            if local_count < minimum:
                problems.append(
                    f"{table}: local has {local_count} rows, below the rebuild threshold of {minimum}"
                )
    return problems


def _guard_message(mode: str, problems: list[str]) -> str:
    if mode == "incremental":
        return (
            "Incremental sync refused: Railway has more rows than local ("
            + "; ".join(problems)
            + "). If local is right, run: python manage.py railway_sync --mode rebuild "
            "--confirm-destructive (or --mode force --confirm-destructive in an emergency)."
        )
    return (
        "Rebuild refused: local data is below the safety thresholds ("
        + "; ".join(problems)
        + "). Check the local database; if this really is the data you want on Railway, run "
        "python manage.py railway_sync --mode force --confirm-destructive."
    )


def _write_error(
    table: str, exc: BaseException, railway: str, atomic_all: bool
) -> RailwaySyncError:
    where = "Railway was left unchanged" if atomic_all else f"nothing in {table} was written"
    return translate(exc, table=table, outcome=where)


@contextmanager
def _on_table(table: str, where: str) -> Iterator[None]:
    """Name the table, the database and the cause when a statement on ``table`` fails."""
    try:
        yield
    except (DatabaseError, InterfaceError) as exc:
        raise translate(exc, table=table, outcome=where) from None


@contextmanager
def _exclusive_run(railway: str, progress: ProgressCallback) -> Iterator[None]:
    """Hold Railway's run lock (a session advisory lock), so two syncs never interleave writes.

    A second sync waits up to the wait timeout, then fails; a killed sync's lock goes with its
    connection.
    """
    connection = connections[railway]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [RUN_LOCK_KEY])
        if not cursor.fetchone()[0]:
            wait = conf.wait_timeout()
            progress(
                Progress(
                    "wait", message=f"another railway_sync is running; waiting up to {wait:g} s"
                )
            )
            cursor.execute("SET lock_timeout = %s", [f"{int(wait * 1000)}ms"])
            try:
                cursor.execute("SELECT pg_advisory_lock(%s)", [RUN_LOCK_KEY])
            except OperationalError as exc:
                if lock_holder(exc) is None:
                    raise
                raise AnotherSyncRunning(
                    f"another railway_sync is running (waited {wait:g} s for it to finish); "
                    "nothing was written. Try again later, or raise RAILWAY_SYNC_WAIT_TIMEOUT."
                ) from None
            finally:
                cursor.execute("SET lock_timeout = %s", [f"{int(conf.lock_timeout() * 1000)}ms"])
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [RUN_LOCK_KEY])
        except Error:
            pass  # the connection is gone, and the lock with it


def foreign_keys() -> list[tuple[str, str, str]]:
    """(child table, column, parent table) for every foreign key among the synced tables."""
    return [
        (model._meta.db_table, field.column, field.related_model._meta.db_table)
        for model in SYNCED_MODELS
        for field in model._meta.concrete_fields
        if field.is_relation
    ]


def _enforced_locally(local: str) -> set[tuple[str, str, str]]:
    """The foreign keys the local database itself enforces (validated constraints)."""
    with connections[local].cursor() as cursor:
        cursor.execute(
            """
            SELECT child.relname, a.attname, parent.relname
            FROM pg_constraint c
            JOIN pg_class child ON child.oid = c.conrelid
            JOIN pg_class parent ON parent.oid = c.confrelid
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.contype = 'f' AND c.convalidated AND cardinality(c.conkey) = 1
              AND child.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
            """
        )
        return set(cursor.fetchall())


def _local_orphans(local: str) -> list[str]:
    """Local rows whose foreign key points at no local row: Railway would reject them.

    Only keys the local database does not enforce itself can have such rows.
    """
    problems = []
    enforced = _enforced_locally(local)
    with connections[local].cursor() as cursor:
        for child, column, parent in foreign_keys():
            if (child, column, parent) in enforced:
                continue
            cursor.execute(
                f"SELECT count(*), array_agg(DISTINCT c.{column}) FROM {child} c "
                f"WHERE c.{column} IS NOT NULL "
                f"AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.id = c.{column})"
            )
            count, values = cursor.fetchone()
            if count:
                shown = ", ".join(str(v) for v in sorted(values)[:5])
                problems.append(
                    f"{count} {child} rows point at {parent} that do not exist locally "
                    f"({column} {shown})"
                )
    return problems


def _sync_table(
    table: str,
    columns: list[Column],
    diff: TableDiff,
    counts: tuple[int, int],
    *,
    local: str,
    railway: str,
    batch_size: int,
    progress: ProgressCallback,
    started: float,
) -> TableResult:
    to_write = diff.to_write
    done = 0

    def on_batch(rows: int) -> None:
        nonlocal done
        done += rows
        progress(Progress("write", table, done, len(to_write)))

    progress(Progress("write", table, 0, len(to_write)))
    if counts[1] == 0 and not diff.to_update:
        # An empty Railway table: COPY straight in, as pg_restore would.
        inserted = copy_into_empty(local, railway, table, columns, to_write, batch_size, on_batch)
        updated = 0
    else:
        inserted, updated = upsert(local, railway, table, columns, to_write, batch_size, on_batch)
    return TableResult(
        table=table,
        local_count=counts[0],
        railway_count=counts[1],
        inserted=inserted,
        updated=updated,
        unchanged=diff.unchanged + (len(to_write) - inserted - updated),
        kept=len(diff.railway_only),
        seconds=time.monotonic() - started,
        compared=diff.method,
    )


def sync(
    *,
    mode: str = "incremental",
    dry_run: bool = False,
    confirm_destructive: bool = False,
    skip_validation: bool = False,
    verify_all: bool = False,
    prune: bool = False,
    batch_size: int | None = None,
    progress: ProgressCallback = no_progress,
    local: str | None = None,
    railway: str | None = None,
) -> SyncReport:
    """Make Railway's five tables hold the local rows, by primary key.

    ``incremental`` inserts and updates, keeps Railway-only rows (or, with ``prune``, deletes
    them afterwards, children first), and commits each table on its own; ``rebuild`` and
    ``force`` make Railway hold exactly the local rows in one transaction, so a failure
    leaves Railway as it was. Unless ``skip_validation``, what was written is read back and
    compared before commit (every row with ``verify_all``); change tracking vouches for the
    rows it did not name. Only one sync writes to a Railway at a time.
    """
    local = local or conf.local_alias()
    railway = railway or conf.railway_alias()
    batch_size = batch_size or conf.batch_size()
    if mode not in MODES:
        raise GuardRefused(f"Unknown mode {mode!r}; choose one of {', '.join(MODES)}.")
    if batch_size <= 0:
        raise GuardRefused(f"--batch-size must be a positive number of rows, not {batch_size}.")
    destructive = mode in DESTRUCTIVE_MODES
    if destructive and not confirm_destructive and not dry_run:
        raise GuardRefused(
            f"--mode {mode} replaces Railway's data and needs --confirm-destructive; nothing "
            f"was touched. Preview it with: python manage.py railway_sync --mode {mode} --dry-run"
        )
    if prune and destructive:
        raise GuardRefused(
            f"--prune goes with --mode incremental; --mode {mode} already deletes the rows "
            "that are not in local."
        )
    started = time.monotonic()
    check_local(local=local)
    connect(railway)
    refuse_same_database(local, railway)
    options = dict(
        mode=mode,
        dry_run=dry_run,
        confirm_destructive=confirm_destructive,
        skip_validation=skip_validation,
        verify_all=verify_all,
        prune=prune,
        batch_size=batch_size,
        progress=progress,
        local=local,
        railway=railway,
        started=started,
    )
    try:
        if dry_run:
            return _sync(**options)
        with _exclusive_run(railway, progress):
            return _sync(**options)
    except (DatabaseError, InterfaceError) as exc:
        raise translate(exc) from None


def _sync(
    *,
    mode: str,
    dry_run: bool,
    confirm_destructive: bool,
    skip_validation: bool,
    verify_all: bool,
    prune: bool,
    batch_size: int,
    progress: ProgressCallback,
    local: str,
    railway: str,
    started: float,
) -> SyncReport:
    destructive = mode in DESTRUCTIVE_MODES
    if dry_run and not railway_tables_present(railway, SYNCED_TABLES):
        # Before the first migrate there is nothing to compare with: every row is new.
        local_counts = {table: count_rows(local, table) for table in SYNCED_TABLES}
        results = tuple(
            TableResult(table, count, 0, inserted=count) for table, count in local_counts.items()
        )
        return SyncReport(mode, True, results, verified=False, schema_missing=True)

    with local_snapshot(local):
        progress(Progress("schema"))
        columns = compare_schemas(local, railway, SYNCED_TABLES)
        behind = None if dry_run else tracking.state_table_behind(railway)
        if behind:
            raise SchemaMismatch(
                f"Railway's schema is behind this version of railway_sync ({behind}). Run: "
                "python manage.py railway_migrate",
                [],
            )
        planner = Planner.open(local, railway)
        surveys: dict[str, IdSurvey] = {}
        counts = {}
        for table in SYNCED_TABLES:
            with _on_table(table, "nothing was written"):
                surveys[table] = survey_ids(local, railway, table)
            counts[table] = (surveys[table].local_count, surveys[table].railway_count)
        # With --prune the share guard below replaces the count guard, which would refuse
        # exactly the syncs that pruning exists for (local rows deleted on purpose).
        problems = [] if prune else _check_guards(mode, counts, conf.rebuild_thresholds())
        orphans = _local_orphans(local)
        prune_ids: dict[str, array] = {}
        if prune:
            for table in SYNCED_TABLES:
                with _on_table(table, "nothing was written"):
                    prune_ids[table] = planner.id_differences(table, surveys[table])[1]
            if not confirm_destructive:
                problems += _prune_share_problems(prune_ids, counts)
        if dry_run:
            return _dry_run(
                mode,
                planner,
                columns,
                surveys,
                counts,
                problems + orphans,
                prune_ids,
                started,
                needs_confirmation=destructive and not confirm_destructive,
            )
        if problems:
            raise GuardRefused(_guard_message(mode, problems))
        if orphans:
            raise GuardRefused(
                "Local data is inconsistent: " + "; ".join(orphans) + ". Railway would reject "
                "these rows; fix them in the local database, then sync again. Nothing was written."
            )
        if destructive:
            # Railway is about to be made exactly like local: survey it again inside the
            # transaction rather than trust a survey the site may have outdated.
            surveys = {}
        write = _sync_all_at_once if destructive else _sync_table_by_table
        results = write(
            planner,
            columns,
            surveys,
            counts,
            batch_size=batch_size,
            progress=progress,
            verify=not skip_validation,
            verify_all=verify_all,
        )
        if prune:
            results = _prune(
                results, prune_ids, railway=railway, batch_size=batch_size, progress=progress
            )
    return SyncReport(
        mode,
        False,
        results,
        verified=not skip_validation,
        seconds=time.monotonic() - started,
        pruned=prune,
        notices=planner.notices(),
    )


def _prune_share_problems(
    prune_ids: dict[str, array], counts: dict[str, tuple[int, int]]
) -> list[str]:
    share = conf.prune_max_share()
    problems = []
    for table, ids in prune_ids.items():
        railway_count = counts[table][1]
        if railway_count and len(ids) / railway_count > share:
            problems.append(
                f"{table}: --prune would delete {len(ids)} of {railway_count} rows, more than "
                f"{share:.0%}"
            )
    return problems


def _dry_run(
    mode: str,
    planner: Planner,
    columns: dict[str, list[Column]],
    surveys: dict[str, IdSurvey],
    counts: dict[str, tuple[int, int]],
    problems: list[str],
    prune_ids: dict[str, array],
    started: float,
    *,
    needs_confirmation: bool,
) -> SyncReport:
    results = []
    for table in SYNCED_TABLES:
        table_started = time.monotonic()
        diff = planner.plan(table, columns[table], counts[table], surveys[table])
        railway_only = len(diff.railway_only)
        deletes = mode in DESTRUCTIVE_MODES or table in prune_ids
        results.append(
            TableResult(
                table=table,
                local_count=counts[table][0],
                railway_count=counts[table][1],
                inserted=len(diff.to_insert),
                updated=len(diff.to_update),
                unchanged=diff.unchanged,
                kept=0 if deletes else railway_only,
                deleted=railway_only if deletes else 0,
                seconds=time.monotonic() - table_started,
                compared=diff.method,
            )
        )
    return SyncReport(
        mode,
        True,
        tuple(results),
        verified=False,
        guard_problems=tuple(problems),
        needs_confirmation=needs_confirmation,
        seconds=time.monotonic() - started,
        pruned=bool(prune_ids),
        notices=planner.notices(),
    )


def _sync_table_by_table(
    planner: Planner,
    columns: dict[str, list[Column]],
    surveys: dict[str, IdSurvey],
    counts: dict[str, tuple[int, int]],
    *,
    batch_size: int,
    progress: ProgressCallback,
    verify: bool,
    verify_all: bool,
) -> tuple[TableResult, ...]:
    local, railway = planner.local, planner.railway
    results = []
    for table in SYNCED_TABLES:
        table_started = time.monotonic()
        try:
            with (
                transaction.atomic(using=railway),
                _on_table(table, f"nothing in {table} was written"),
            ):
                railway_watermark = tracking.snapshot_xmin(railway)
                progress(Progress("diff", table))
                diff = planner.plan(table, columns[table], counts[table], surveys.get(table))
                result = _sync_table(
                    table,
                    columns[table],
                    diff,
                    counts[table],
                    local=local,
                    railway=railway,
                    batch_size=batch_size,
                    progress=progress,
                    started=table_started,
                )
                if verify:
                    progress(Progress("verify", table))
                    planner.verify(
                        table,
                        columns[table],
                        diff,
                        local_count=counts[table][0],
                        exact=False,
                        verify_all=verify_all,
                    )
                reset_sequence(railway, table)
                planner.record(table, columns[table], railway_watermark)
        except RailwaySyncError:
            raise
        except DatabaseError as exc:
            raise _write_error(table, exc, railway, atomic_all=False) from None
        results.append(result)
        progress(Progress("done", table, result.written, result.written))
    return tuple(results)


def _prune(
    results: tuple[TableResult, ...],
    prune_ids: dict[str, array],
    *,
    railway: str,
    batch_size: int,
    progress: ProgressCallback,
) -> tuple[TableResult, ...]:
    by_table = {result.table: result for result in results}
    # Children first, so no foreign key points at a row about to go.
    for table in reversed(SYNCED_TABLES):
        ids = prune_ids[table]
        if not ids:
            continue
        progress(Progress("prune", table, 0, len(ids)))
        try:
            with transaction.atomic(using=railway), _on_table(table, f"{table} was left as it was"):
                deleted = delete(railway, table, ids, batch_size)
        except RailwaySyncError:
            raise
        except DatabaseError as exc:
            raise _write_error(table, exc, railway, atomic_all=False) from None
        previous = by_table[table]
        by_table[table] = replace(previous, deleted=deleted, kept=max(previous.kept - deleted, 0))
    return tuple(by_table[table] for table in SYNCED_TABLES)


def _sync_all_at_once(
    planner: Planner,
    columns: dict[str, list[Column]],
    surveys: dict[str, IdSurvey],
    counts: dict[str, tuple[int, int]],
    *,
    batch_size: int,
    progress: ProgressCallback,
    verify: bool,
    verify_all: bool,
) -> tuple[TableResult, ...]:
    local, railway = planner.local, planner.railway
    results: dict[str, TableResult] = {}
    diffs: dict[str, TableDiff] = {}
    table = SYNCED_TABLES[0]
    unchanged = "Railway was left unchanged"
    try:
        with transaction.atomic(using=railway):
            railway_watermark = tracking.snapshot_xmin(railway)
            for table in SYNCED_TABLES:
                table_started = time.monotonic()
                progress(Progress("diff", table))
                with _on_table(table, unchanged):
                    diffs[table] = planner.plan(table, columns[table], counts[table])
                    results[table] = _sync_table(
                        table,
                        columns[table],
                        diffs[table],
                        counts[table],
                        local=local,
                        railway=railway,
                        batch_size=batch_size,
                        progress=progress,
                        started=table_started,
                    )
            # Children first, so no foreign key points at a row about to go.
            for table in reversed(SYNCED_TABLES):
                table_started = time.monotonic()
                progress(Progress("delete", table, 0, len(diffs[table].railway_only)))
                with _on_table(table, unchanged):
                    deleted = delete(railway, table, diffs[table].railway_only, batch_size)
                previous = results[table]
                results[table] = replace(
                    previous,
                    kept=0,
                    deleted=deleted,
                    seconds=previous.seconds + time.monotonic() - table_started,
                )
            if verify:
                for table in SYNCED_TABLES:
                    progress(Progress("verify", table))
                    with _on_table(table, unchanged):
                        planner.verify(
                            table,
                            columns[table],
                            diffs[table],
                            local_count=counts[table][0],
                            exact=True,
                            verify_all=verify_all,
                        )
            for table in SYNCED_TABLES:
                reset_sequence(railway, table)
                planner.record(table, columns[table], railway_watermark)
            # Deferred unique constraints are checked here, inside the guarded block.
            with connections[railway].cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    except RailwaySyncError:
        raise
    except DatabaseError as exc:
        raise _write_error(table, exc, railway, atomic_all=True) from None
    return tuple(results[table] for table in SYNCED_TABLES)


def status(
    *, deep: bool = False, local: str | None = None, railway: str | None = None
) -> StatusReport:
    """Counts on both sides and whether every row's content matches.

    Change tracking names the rows to compare; ``deep`` hashes and compares every row.
    """
    local = local or conf.local_alias()
    railway = railway or conf.railway_alias()
    check_local(local=local)
    try:
        connect(railway)
    except ConnectionFailed as exc:
        return StatusReport(
            describe(railway),
            False,
            problem=str(exc),
            recommendation="Fix the connection, then run: python manage.py railway_test_connection",
        )
    refuse_same_database(local, railway)
    target = describe(railway)
    if not railway_tables_present(railway, SYNCED_TABLES):
        tables = tuple(TableStatus(t, count_rows(local, t), None) for t in SYNCED_TABLES)
        return StatusReport(
            target,
            True,
            tables,
            problem="Railway has no schema yet.",
            recommendation="Run: python manage.py railway_setup",
        )
    with local_snapshot(local):
        try:
            columns = compare_schemas(local, railway, SYNCED_TABLES)
        except SchemaMismatch as exc:
            tables = tuple(
                TableStatus(t, count_rows(local, t), count_rows(railway, t)) for t in SYNCED_TABLES
            )
            return StatusReport(
                target,
                True,
                tables,
                problem=str(exc).replace("\n", " "),
                recommendation="Run: python manage.py railway_migrate, or add "
                "a migration that makes Railway match the local schema",
            )
        planner = Planner.open(local, railway, full=deep)
        tables = []
        for table in SYNCED_TABLES:
            survey = survey_ids(local, railway, table)
            counts = (survey.local_count, survey.railway_count)
            diff = planner.plan(table, columns[table], counts, survey)
            tables.append(
                TableStatus(
                    table=table,
                    local_count=counts[0],
                    railway_count=counts[1],
                    missing_on_railway=len(diff.to_insert),
                    differing=len(diff.to_update),
                    railway_only=len(diff.railway_only),
                    compared=diff.method,
                )
            )
    return StatusReport(
        target,
        True,
        tuple(tables),
        recommendation=_recommend(tables),
        deep=deep,
        notices=planner.notices(),
    )


def _recommend(tables: list[TableStatus]) -> str:
    if all(t.in_sync for t in tables):
        return "Nothing to do."
    if any((t.railway_count or 0) > (t.local_count or 0) for t in tables):
        return (
            "Railway has more rows than local in some tables. If local is right, run: "
            "python manage.py railway_sync --mode rebuild --confirm-destructive"
        )
    if any(t.missing_on_railway or t.differing for t in tables):
        return "Run: python manage.py railway_sync"
    return (
        "Railway has rows that are not in local (kept by incremental syncs). To remove them, "
        "run: python manage.py railway_sync --mode rebuild --confirm-destructive"
    )


def migrate(
    *,
    dry_run: bool = False,
    local: str | None = None,
    railway: str | None = None,
    progress: ProgressCallback = no_progress,
) -> MigrateReport:
    """Apply railway_sync's migrations to Railway (never to the local database, which is
    connected only to make sure Railway is not that database)."""
    local = local or conf.local_alias()
    railway = railway or conf.railway_alias()
    connect(railway)
    connect(local)
    refuse_same_database(local, railway)
    connection = connections[railway]
    executor = MigrationExecutor(connection)
    targets = executor.loader.graph.leaf_nodes(APP_LABEL)
    plan = executor.migration_plan(targets)
    planned = tuple(f"{m.app_label}.{m.name}" for m, backwards in plan if not backwards)
    if dry_run:
        sql = tuple(executor.loader.collect_sql(plan)) if plan else ()
        return MigrateReport(planned, sql=sql, dry_run=True)
    applied: list[str] = []
    if plan:

        def record(action: str, migration=None, fake: bool = False) -> None:
            if action == "apply_success" and migration is not None:
                applied.append(f"{migration.app_label}.{migration.name}")
                progress(Progress("migrate", message=applied[-1]))

        executor.progress_callback = record
        try:
            with _exclusive_run(railway, progress):
                executor.migrate(targets, plan=plan)
        except (OperationalError, InterfaceError) as exc:
            raise ConnectionFailed(f"Railway migration failed: {explain(railway, exc)}") from None
        except DatabaseError as exc:
            raise WriteFailed(
                f"Railway migration failed: {str(exc).splitlines()[0]} (Railway's schema was "
                "left as it was; fix the cause above, then run railway_migrate again)."
            ) from None
    return MigrateReport(planned, applied=tuple(applied))


__all__ = ["MODES", "check_local", "migrate", "status", "sync", "test_connection"]
