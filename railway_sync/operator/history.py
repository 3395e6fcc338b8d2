"""The record of sync and pull runs kept in the local project database (``SyncRun``)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connections
from django.db.utils import Error
from django.utils import timezone

from railway_sync import conf
from railway_sync.dburl import scrub
from railway_sync.errors import RailwaySyncError
from railway_sync.models import SyncRun
from railway_sync.pg import own_writes
from railway_sync.pg.error_source import sqlstate
from railway_sync.report import PullReport, SyncReport

logger = logging.getLogger(__name__)


def start(
    command: str,
    mode: str,
    dry_run: bool,
    options: dict[str, Any],
    *,
    at: datetime | None = None,
    cycles: int | None = None,
) -> SyncRun | None:
    """Record that a run began (``at``, default now; ``cycles`` 1 for a watch's sync); None
    when the history table is missing (run ``migrate``)."""
    try:
        with own_writes.noted(conf.local_alias()):
            return SyncRun.objects.using(conf.local_alias()).create(
                command=command,
                mode=mode,
                dry_run=dry_run,
                options=options,
                started_at=at or timezone.now(),
                cycles=cycles,
            )
    except DatabaseError as exc:
        logger.warning("Sync history not recorded: %s", why_not_recorded(exc))
        return None


# Why a local database keeps no history, as ``unavailable`` says, and the fix.
MISSING = "run python manage.py migrate to create it."
READ_ONLY = (
    "the local database accepts no writes (a hot standby, or default_transaction_read_only); "
    "the sync only reads it. Point DATABASE_URL at the primary to keep a history."
)


def why_not_recorded(exc: DatabaseError) -> str:
    """The cause of a failed history write, and its fix, as the rest of one line."""
    code = sqlstate(exc)
    if code == "42P01":  # undefined_table
        return MISSING
    if code == "25006":  # read_only_sql_transaction
        return READ_ONLY
    table = SyncRun._meta.db_table
    if code == "42501":  # insufficient_privilege
        return (
            f"the user in DATABASE_URL may not write {table}. Run on the local database: "
            f"GRANT SELECT, INSERT, UPDATE ON {table} TO {_local_user()};"
        )
    if code == "55P03":  # lock_not_available
        return (
            f"the local table {table} stayed locked by another session for "
            f"{conf.lock_timeout():g} s (RAILWAY_LOCK_TIMEOUT)."
        )
    return scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


def _local_user() -> str:
    try:
        with connections[conf.local_alias()].cursor() as cursor:
            cursor.execute("SELECT quote_ident(current_user)")
            return str(cursor.fetchone()[0])
    except DatabaseError:
        return "the user in DATABASE_URL"


# ``unavailable``'s answers, and what each means to a person.
NOT_RECORDED = {"missing": MISSING, "read_only": READ_ONLY}


def unavailable() -> str | None:
    """Why the local database keeps no run history: ``"missing"`` (its table is, before
    ``migrate``) or ``"read_only"`` (it accepts no writes); None when it keeps one."""
    try:
        with connections[conf.local_alias()].cursor() as cursor:
            cursor.execute(
                "SELECT to_regclass(%s) IS NOT NULL, "
                "pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'",
                [SyncRun._meta.db_table],
            )
            present, read_only = cursor.fetchone()
    except DatabaseError:
        return None
    if not present:
        return "missing"
    return "read_only" if read_only else None


def outcome_of(report: SyncReport | PullReport | None, error: str = "") -> tuple[str, str]:
    """How a run that ended with ``report`` (and ``error``) is recorded: (outcome, error). A
    run that landed but kept conflicts, or left tables a guard refused (it exits 1), is not a
    success (the refused tables, with why, as its error)."""
    landed = report if report is not None and not report.dry_run else None
    if error:
        return SyncRun.OUTCOME_FAILED, error
    if isinstance(landed, SyncReport) and landed.refused_tables:
        return SyncRun.OUTCOME_PARTIAL, "; ".join(
            f"Refused {t.table}, left as it was: {t.refused}. {t.refused_fix}"
            for t in landed.tables
            if t.refused
        )
    if landed and landed.conflicts:
        return SyncRun.OUTCOME_CONFLICTS, error
    return SyncRun.OUTCOME_SUCCESS, error


def finish(
    run: SyncRun | None,
    report: SyncReport | PullReport | None,
    error: str = "",
    outcome: str = "",
    *,
    at: datetime | None = None,
) -> None:
    """Record how a run ended (``at``, default now): its per-table figures, or its
    (password-free) error, and its outcome (``outcome_of`` unless given)."""
    if run is None:
        return
    run.finished_at = at or timezone.now()
    if not outcome:
        outcome, error = outcome_of(report, error)
    run.outcome = outcome
    run.error = scrub(error)
    if report is not None:
        run.tables = [dataclasses.asdict(table) for table in report.tables]
    try:
        with own_writes.noted(conf.local_alias()):
            run.save(using=conf.local_alias())
    except Error:
        # Also a connection the failure itself closed (InterfaceError): the record is lost,
        # but the error being raised must not be replaced by this one.
        logger.warning("Sync history not recorded: the local database refused the write.")


@dataclasses.dataclass
class Recording:
    """The run a ``recording`` block records; the block sets ``report`` once it has one."""

    run: SyncRun | None
    report: SyncReport | PullReport | None = None


@contextmanager
def recording(
    command: str, mode: str, dry_run: bool, options: dict[str, Any]
) -> Iterator[Recording]:
    """Record a run from start to end however the block ends, then let any exception through.

    Success (with ``report``; conflicts when it kept some); failed with the error's message (a ``RailwaySyncError``) or
    its type and first line (anything else, e.g. a broken pipe); interrupted on Ctrl-C or
    ``SystemExit``. Only a process killed outright leaves a run without an end.
    """
    current = Recording(start(command, mode, dry_run, options))
    try:
        yield current
    except BaseException as exc:
        finish(current.run, current.report, *ending(exc))
        raise
    finish(current.run, current.report)


def ending(exc: BaseException) -> tuple[str, str]:
    """The error and outcome of a run that raised ``exc``: interrupted (Ctrl-C,
    ``SystemExit``), else failed (``""``: ``finish`` makes it so)."""
    if isinstance(exc, RailwaySyncError):
        return str(exc), ""
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return f"Interrupted ({type(exc).__name__})", SyncRun.OUTCOME_INTERRUPTED
    return _one_line(exc), ""


def _one_line(exc: BaseException) -> str:
    # Only the first line: driver errors go on with DETAIL/HINT lines quoting row values.
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def last_success() -> SyncRun | None:
    """The newest successful run that wrote (not a dry run), if the history table exists."""
    try:
        return (
            SyncRun.objects.using(conf.local_alias())
            .filter(outcome=SyncRun.OUTCOME_SUCCESS, dry_run=False, finished_at__isnull=False)
            # Finished, not started: a watch's row an hour long ends after the runs it spans.
            .order_by("-finished_at")
            .first()
        )
    except DatabaseError:
        return None
