"""``railway_migrate``: railway_sync's Django migrations, and those ``railway_makemigrations``
wrote into the project (app ``railway_schema``), applied to Railway only, all in one
transaction.

Before anything runs, every pending step is decided against Railway as it is (``decide``):
Railway's shape is read once and each step's effect applied to a copy of it in order, so a
step finds what the steps before it made. Steps Railway already satisfies are recorded without
running; a conflict, an extension Railway cannot create, or an unconfirmed drop of data refuses
the whole run before any statement is sent.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.migration import Migration
from django.db.migrations.recorder import MigrationRecorder
from django.db.utils import DatabaseError, InterfaceError, OperationalError

from railway_sync import conf
from railway_sync.errors import ConnectionFailed, WriteFailed
from railway_sync.operations import (
    CreateGuideTables,
    DestructiveStep,
    RailwayOperation,
    SchemaConflict,
    Step,
    deciding,
)
from railway_sync.operations.live import LiveRailway, read_shape
from railway_sync.pg import write_log
from railway_sync.pg.error_source import sqlstate
from railway_sync.pg.failures import explain, translate
from railway_sync.pg.locks import exclusive_run
from railway_sync.report import MigrateReport, PlannedMigration, Progress, ProgressCallback
from railway_sync.schema.catalog import Shape
from railway_sync.schema.migration_files import loader

APP_LABEL = "railway_sync"
APP_LABELS = (APP_LABEL, conf.SCHEMA_APP_LABEL)
CONFIRM = "python manage.py railway_migrate --confirm-destructive"


class MigrationStepFailed(WriteFailed):
    """Railway rejected a statement of a migration step; nothing was changed."""


def railway_shape(alias: str, operations: list[Any]) -> Shape:
    """Railway's shape as far as ``operations`` read it: their tables (and the guide's), the
    types they create, the extensions installed."""
    names: set[str] = set()
    type_names: set[str] = set()
    for operation in operations:
        if isinstance(operation, RailwayOperation):
            names.update(operation.tables())
            type_names.update(operation.types())
        elif isinstance(operation, CreateGuideTables):
            names.update(operation.names())
    return read_shape(alias, names, type_names)


def decide(
    alias: str, plan: list[tuple[Migration, bool]]
) -> tuple[dict[int, Step], list[PlannedMigration]]:
    """Each step of ``plan`` decided against Railway (by the operation's identity), and per
    migration what would run, what Railway already has, what would be dropped and what
    conflicts."""
    operations = [operation for migration, _ in plan for operation in migration.operations]
    railway = railway_shape(alias, operations)
    probe = LiveRailway(alias)
    decisions: dict[int, Step] = {}
    planned = []
    for migration, _ in plan:
        checked = adopted = 0
        destructive: list[str] = []
        conflicts: list[str] = []
        sql: list[str] = []
        for operation in migration.operations:
            if isinstance(operation, CreateGuideTables):
                sql.extend(operation.statements(railway))
                operation.apply_to(railway)
            if not isinstance(operation, RailwayOperation):
                continue
            checked += 1
            step = decisions[id(operation)] = operation.step(railway, probe)
            if step.outcome == "adopted":
                adopted += 1
            elif step.outcome == "conflict":
                conflicts.append(step.detail)
            elif step.outcome == "destructive":
                destructive.append(step.detail)
            sql.extend(step.statements)
            operation.apply_to(railway)
        planned.append(
            PlannedMigration(
                f"{migration.app_label}.{migration.name}",
                checked,
                adopted,
                tuple(destructive),
                tuple(conflicts),
                tuple(sql),
            )
        )
    return decisions, planned


def _refuse(planned: list[PlannedMigration], confirm_destructive: bool) -> None:
    conflicts = [(m.name, c) for m in planned for c in m.conflicts]
    if conflicts:
        listed = "; ".join(f"{name}: {detail}" for name, detail in conflicts)
        raise SchemaConflict(
            f"The migrations do not fit Railway as it is ({listed}). Nothing was changed."
        )
    lost = [(m.name, d) for m in planned for d in m.destructive]
    if lost and not confirm_destructive:
        listed = "; ".join(f"{name} drops {detail}" for name, detail in lost)
        raise DestructiveStep(
            f"Refused: the migrations would delete data on Railway ({listed}). Nothing was "
            f"changed. If local dropped them on purpose, run: {CONFIRM} (to keep a column "
            "instead, add it to RAILWAY_SYNC_EXCLUDE_COLUMNS, delete that migration and run "
            "railway_makemigrations again)."
        )


class _Executor(MigrationExecutor):
    """Django's executor on the migrations :func:`~railway_sync.schema.migration_files.loader` loaded
    (a broken migration file is one line, not a traceback)."""

    def __init__(self, railway: str) -> None:
        self.connection = connections[railway]
        self.loader = loader(self.connection)
        self.recorder = MigrationRecorder(self.connection)
        self.progress_callback = None


def apply(
    railway: str,
    *,
    dry_run: bool,
    progress: ProgressCallback,
    confirm_destructive: bool = False,
) -> MigrateReport:
    """Apply (or, in a dry run, decide and list with their SQL) the migrations Railway lacks.

    They apply in one transaction: a failing step (a value a retype cannot cast) leaves
    Railway as it was. The run lock keeps a sync from running meanwhile.
    """
    executor = _Executor(railway)
    targets = [node for label in APP_LABELS for node in executor.loader.graph.leaf_nodes(label)]
    plan = executor.migration_plan(targets)
    names = tuple(f"{m.app_label}.{m.name}" for m, backwards in plan if not backwards)
    if not plan:
        if not dry_run:
            # A synced table whose trigger was dropped or disabled gets it back.
            write_log.install(railway, conf.tables())
        return MigrateReport(names, dry_run=dry_run)
    if dry_run:
        with transaction.atomic(using=railway):
            _, planned = decide(railway, plan)
        return MigrateReport(names, dry_run=True, migrations=tuple(planned))
    applied: list[str] = []
    # Which migration and step are running, for a failure to name them.
    where = {"migration": "", "step": ""}
    positions = {
        id(operation): f"step {index} of {len(migration.operations)} ({operation.describe()})"
        for migration, _ in plan
        for index, operation in enumerate(migration.operations, start=1)
    }

    def record(action: str, migration: Migration | None = None, fake: bool = False) -> None:
        if migration is None:
            return
        if action == "apply_start":
            where.update(migration=f"{migration.app_label}.{migration.name}", step="")
        elif action == "apply_success":
            applied.append(f"{migration.app_label}.{migration.name}")
            progress(Progress("migrate", message=applied[-1]))

    def starting(operation: RailwayOperation) -> None:
        where["step"] = positions.get(id(operation), operation.describe())

    executor.progress_callback = record  # type: ignore[assignment]  # Django calls it so
    try:
        with exclusive_run(railway, progress), transaction.atomic(using=railway):
            decisions, planned = decide(railway, plan)
            _refuse(planned, confirm_destructive)
            with deciding(decisions, confirm_destructive, starting):
                executor.migrate(targets, plan=plan)
            # Tables the migrations created (or adopted) get the write log's trigger too.
            write_log.install(railway, conf.tables())
    except OperationalError as exc:
        if sqlstate(exc) == "55P03":  # a table another session holds, past RAILWAY_LOCK_TIMEOUT
            raise translate(exc, outcome="Railway's schema was left as it was") from None
        raise ConnectionFailed(f"Railway migration failed: {explain(railway, exc)}") from None
    except InterfaceError as exc:
        raise ConnectionFailed(f"Railway migration failed: {explain(railway, exc)}") from None
    except DatabaseError as exc:
        step = ", ".join(part for part in (where["migration"], where["step"]) if part)
        message = str(exc).strip().splitlines()[0].rstrip(".")
        fix = "" if "railway_migrate" in message else "; fix that, then run railway_migrate again"
        raise MigrationStepFailed(
            f"{step} failed on Railway: {message}{fix}. Railway's schema was left as it was."
        ) from None
    return MigrateReport(names, applied=tuple(applied), migrations=tuple(planned))
