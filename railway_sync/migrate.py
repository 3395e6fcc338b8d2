"""``railway_migrate``: railway_sync's Django migrations, and those ``railway_makemigrations``
wrote into the project (app ``railway_schema``), applied to Railway only, all in one
transaction."""

from __future__ import annotations

from django.db import connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.migration import Migration
from django.db.utils import DatabaseError, InterfaceError, OperationalError

from railway_sync import conf
from railway_sync.errors import ConnectionFailed, WriteFailed
from railway_sync.failures import explain, sqlstate, translate
from railway_sync.locks import exclusive_run
from railway_sync.report import MigrateReport, Progress, ProgressCallback

APP_LABEL = "railway_sync"
APP_LABELS = (APP_LABEL, conf.SCHEMA_APP_LABEL)


def apply(railway: str, *, dry_run: bool, progress: ProgressCallback) -> MigrateReport:
    """Apply (or, in a dry run, list with their SQL) the migrations Railway lacks.

    They apply in one transaction: a failing one (a value a retype cannot cast) leaves
    Railway as it was. The run lock keeps a sync from running meanwhile.
    """
    executor = MigrationExecutor(connections[railway])
    targets = [node for label in APP_LABELS for node in executor.loader.graph.leaf_nodes(label)]
    plan = executor.migration_plan(targets)
    planned = tuple(f"{m.app_label}.{m.name}" for m, backwards in plan if not backwards)
    if dry_run:
        sql = tuple(executor.loader.collect_sql(plan)) if plan else ()  # type: ignore[attr-defined]
        return MigrateReport(planned, sql=sql, dry_run=True)
    applied: list[str] = []
    if not plan:
        return MigrateReport(planned)

    def record(action: str, migration: Migration | None = None, fake: bool = False) -> None:
        if action == "apply_success" and migration is not None:
            applied.append(f"{migration.app_label}.{migration.name}")
            progress(Progress("migrate", message=applied[-1]))

    executor.progress_callback = record  # type: ignore[assignment]  # Django calls it so
    try:
        with exclusive_run(railway, progress), transaction.atomic(using=railway):
            executor.migrate(targets, plan=plan)
    except OperationalError as exc:
        if sqlstate(exc) == "55P03":  # a table another session holds, past RAILWAY_LOCK_TIMEOUT
            raise translate(exc, outcome="Railway's schema was left as it was") from None
        raise ConnectionFailed(f"Railway migration failed: {explain(railway, exc)}") from None
    except InterfaceError as exc:
        raise ConnectionFailed(f"Railway migration failed: {explain(railway, exc)}") from None
    except DatabaseError as exc:
        raise WriteFailed(
            f"Railway migration failed: {str(exc).splitlines()[0]} (Railway's schema was "
            "left as it was; fix the cause above, then run railway_migrate again)."
        ) from None
    return MigrateReport(planned, applied=tuple(applied))
