"""What the commands (and any Python caller) run: one function per operation, each returning
a report. Nothing here prints; every function takes its databases explicitly or from conf."""

from __future__ import annotations

from railway_sync import engine
from railway_sync.options import SyncOptions
from railway_sync.report import (
    ConnectionReport,
    MigrateReport,
    ProgressCallback,
    StatusReport,
    SyncReport,
    no_progress,
)


def test_connection(*, railway: str | None = None) -> ConnectionReport:
    """Connect to Railway and read its server version."""
    return engine.test_connection(railway=railway)


def check_local(*, local: str | None = None) -> None:
    """Connect to the local database and check it holds the synced tables."""
    engine.check_local(local=local)


def migrate(
    *,
    dry_run: bool = False,
    progress: ProgressCallback = no_progress,
    local: str | None = None,
    railway: str | None = None,
) -> MigrateReport:
    """Apply railway_sync's migrations to Railway, never to the local database."""
    return engine.migrate(dry_run=dry_run, progress=progress, local=local, railway=railway)


def sync(
    options: SyncOptions,
    *,
    progress: ProgressCallback = no_progress,
    local: str | None = None,
    railway: str | None = None,
) -> SyncReport:
    """Make Railway's synced tables hold the local rows, as ``options`` say."""
    return engine.sync(
        mode=options.mode,
        dry_run=options.dry_run,
        confirm_destructive=options.confirm_destructive,
        skip_validation=options.skip_validation,
        verify_all=options.verify_all,
        prune=options.prune,
        batch_size=options.batch_size,
        progress=progress,
        local=local,
        railway=railway,
    )


def status(
    *, deep: bool = False, local: str | None = None, railway: str | None = None
) -> StatusReport:
    """Counts on both sides and whether every row's content matches."""
    return engine.status(deep=deep, local=local, railway=railway)
