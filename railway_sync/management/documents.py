"""The JSON documents of ``--format json``, for cron and CI.

Their shape is documented in the README and kept stable: fields may be added, never renamed
or removed. Each key is spelled out here (not taken from the report dataclasses) so that a
field added to a report does not silently change the documents; tests/test_outputs.py pins
every key set. Each builder also takes ``report=None`` with an ``error``: the document a
failed command prints.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypedDict

from django.utils import timezone

from railway_sync.models import SyncRun
from railway_sync.report import (
    Conflict,
    ConnectionReport,
    PulledTable,
    PullReport,
    StatusReport,
    SyncReport,
    TableResult,
    TableStatus,
)


class ConflictEntry(TypedDict):
    id: int
    local: dict[str, str | None]
    railway: dict[str, str | None]


class SyncTableEntry(TypedDict):
    table: str
    local_count: int
    railway_count: int
    inserted: int
    updated: int
    unchanged: int
    kept: int
    deleted: int
    seconds: float
    compared: str
    site_rows: int
    conflicts: int
    conflict_rows: list[ConflictEntry]
    held_back: int
    refused: str | None
    waiting_for: list[str]
    railway_edits: int
    railway_edits_kept: int
    railway_edit_ids: list[int]


SyncOutcome = Literal["success", "dry_run", "conflicts", "partial", "failed"]


class SyncDocument(TypedDict):
    command: Literal["railway_sync"]
    outcome: SyncOutcome
    exit_code: int
    mode: str
    dry_run: bool
    verified: bool
    rows_written: int
    rows_deleted: int
    seconds: float
    guard_problems: list[str]
    refused_tables: list[str]
    notices: list[str]
    tables: list[SyncTableEntry]
    error: str | None


class StatusTableEntry(TypedDict):
    table: str
    local_count: int | None
    railway_count: int | None
    missing_on_railway: int
    differing: int
    railway_only: int
    compared: str
    in_sync: bool
    site_rows: int
    conflicts: int
    conflict_rows: list[ConflictEntry]
    site_columns: list[str]


class StatusDocument(TypedDict):
    command: Literal["railway_status"]
    outcome: Literal["in_sync", "out_of_sync", "not_compared", "failed"]
    exit_code: int
    railway: str | None
    connected: bool
    in_sync: bool
    tables: list[StatusTableEntry]
    recommendation: str | None
    notices: list[str]
    last_successful_sync: str | None
    # "recorded"; "missing" (before migrate) or "read_only": then last_successful_sync is
    # Railway's own record.
    local_history: str | None
    error: str | None


class ConnectionDocument(TypedDict):
    command: Literal["railway_test_connection"]
    outcome: Literal["success", "failed"]
    exit_code: int
    railway: str | None
    server_version: str | None
    database: str | None
    seconds: float
    error: str | None


# Any of the documents, as the base command writes them.
class PullTableEntry(TypedDict):
    table: str
    local_count: int
    railway_count: int
    inserted: int
    updated: int
    deleted: int
    unchanged: int
    created: bool
    local_changes: int
    local_change_ids: list[int]


class PullDocument(TypedDict):
    command: Literal["railway_pull"]
    outcome: Literal["success", "dry_run", "failed"]
    exit_code: int
    dry_run: bool
    verified: bool
    needs_confirmation: bool
    rows_written: int
    rows_deleted: int
    seconds: float
    notices: list[str]
    tables: list[PullTableEntry]
    error: str | None


Document = SyncDocument | StatusDocument | ConnectionDocument | PullDocument


def sync_document(
    mode: str,
    dry_run: bool,
    report: SyncReport | None,
    error: str = "",
    guard_problems: tuple[str, ...] = (),
    seconds: float = 0.0,
    notices: list[str] | tuple[str, ...] = (),
) -> SyncDocument:
    """``guard_problems``: what the guards found when they refused (``report`` is None);
    ``seconds``: how long the command ran, for a failure (a report has its own);
    ``notices``: the command's own (the catalog's), before the report's.

    A run that left tables a guard refused is ``partial`` (exit 1), whether or not it also
    kept conflicts."""
    conflicts = bool(report and report.conflicts and not dry_run)
    partial = bool(report and report.refused_tables and not dry_run)
    outcome: SyncOutcome
    if error:
        outcome = "failed"
    elif dry_run:
        outcome = "dry_run"
    else:
        outcome = "partial" if partial else "conflicts" if conflicts else "success"
    return {
        "command": "railway_sync",
        "outcome": outcome,
        "exit_code": 1 if error or conflicts or partial else 0,
        "mode": mode,
        "dry_run": dry_run,
        "verified": bool(report and report.verified),
        "rows_written": report.rows_written if report and not dry_run else 0,
        "rows_deleted": report.rows_deleted if report and not dry_run else 0,
        "seconds": round(report.seconds, 3) if report else seconds,
        "guard_problems": list(report.guard_problems if report else guard_problems),
        "refused_tables": list(report.refused_tables) if report else [],
        "notices": [*notices, *(report.notices if report else ())],
        "tables": [sync_table_entry(table) for table in (report.tables if report else ())],
        "error": error or None,
    }


def sync_table_entry(table: TableResult) -> SyncTableEntry:
    return {
        "table": table.table,
        "local_count": table.local_count,
        "railway_count": table.railway_count,
        "inserted": table.inserted,
        "updated": table.updated,
        "unchanged": table.unchanged,
        "kept": table.kept,
        "deleted": table.deleted,
        "seconds": round(table.seconds, 3),
        "compared": table.compared,
        "site_rows": table.site_rows,
        "conflicts": table.conflicts,
        "conflict_rows": [conflict_entry(row) for row in table.conflict_rows],
        "held_back": table.held_back,
        "refused": f"{table.refused}. {table.refused_fix}" if table.refused else None,
        "waiting_for": list(table.waiting_for),
        "railway_edits": table.railway_edits,
        "railway_edits_kept": table.railway_edits_kept,
        "railway_edit_ids": list(table.railway_edit_ids),
    }


def conflict_entry(conflict: Conflict) -> ConflictEntry:
    return {"id": conflict.id, "local": conflict.local, "railway": conflict.railway}


def status_document(
    report: StatusReport | None,
    last_success: SyncRun | None,
    exit_code: int,
    error: str = "",
    railway: str | None = None,
    notices: list[str] | tuple[str, ...] = (),
    history: str | None = None,
) -> StatusDocument:
    """``railway``: the masked URL, for a failure without a report; ``notices``: the
    command's own (the catalog's), before the report's; ``history``: why the local database
    keeps no history (``history.unavailable``), then the last sync is Railway's record."""
    outcome: Literal["in_sync", "out_of_sync", "not_compared", "failed"]
    if error or report is None or not report.connected:
        outcome = "failed"
    elif not report.rows_compared:
        outcome = "not_compared"
    else:
        outcome = "in_sync" if report.in_sync else "out_of_sync"
    problem = "\n".join([report.problem, *report.details]) if report and report.problem else ""
    finished_at = last_success.finished_at if last_success else None
    if history is not None and report is not None:
        finished_at = report.railway_synced_at
    return {
        "command": "railway_status",
        "outcome": outcome,
        "exit_code": exit_code,
        "railway": report.target if report else railway,
        "connected": bool(report and report.connected),
        "in_sync": bool(report and report.in_sync),
        "tables": [status_table_entry(table) for table in (report.tables if report else ())],
        "recommendation": report.recommendation if report else None,
        "notices": [*notices, *(report.notices if report else ())],
        "last_successful_sync": iso_timestamp(finished_at) if finished_at else None,
        "local_history": None if report is None else history or "recorded",
        "error": error or problem or None,
    }


def status_table_entry(table: TableStatus) -> StatusTableEntry:
    return {
        "table": table.table,
        "local_count": table.local_count,
        "railway_count": table.railway_count,
        "missing_on_railway": table.missing_on_railway,
        "differing": table.differing,
        "railway_only": table.railway_only,
        "compared": table.compared,
        "in_sync": table.in_sync,
        "site_rows": table.site_rows,
        "conflicts": table.conflicts,
        "conflict_rows": [conflict_entry(row) for row in table.conflict_rows],
        "site_columns": list(table.site_columns),
    }


def connection_document(
    report: ConnectionReport | None,
    error: str = "",
    railway: str | None = None,
    seconds: float = 0.0,
) -> ConnectionDocument:
    """``railway`` (the masked URL) and ``seconds``: for a failure without a report."""
    return {
        "command": "railway_test_connection",
        "outcome": "failed" if error else "success",
        "exit_code": 1 if error else 0,
        "railway": report.target if report else railway,
        "server_version": report.server_version if report else None,
        "database": report.database if report else None,
        "seconds": round(report.seconds, 3) if report else seconds,
        "error": error or None,
    }


def iso_timestamp(moment: datetime) -> str:
    """ISO 8601 with its UTC offset, to the second; a naive time (USE_TZ off) is in the
    project's TIME_ZONE."""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment.isoformat(timespec="seconds")


def pull_document(
    dry_run: bool,
    report: PullReport | None,
    error: str = "",
    seconds: float = 0.0,
    notices: list[str] | tuple[str, ...] = (),
) -> PullDocument:
    """As ``sync_document``, for ``railway_pull``: a pull lands whole or not at all."""
    return {
        "command": "railway_pull",
        "outcome": "failed" if error else "dry_run" if dry_run else "success",
        "exit_code": 1 if error else 0,
        "dry_run": dry_run,
        "verified": bool(report and report.verified),
        "needs_confirmation": bool(report and report.needs_confirmation),
        "rows_written": report.rows_written if report and not dry_run else 0,
        "rows_deleted": report.rows_deleted if report and not dry_run else 0,
        "seconds": round(report.seconds, 3) if report else seconds,
        "notices": [*notices, *(report.notices if report else ())],
        "tables": [pull_table_entry(table) for table in (report.tables if report else ())],
        "error": error or None,
    }


def pull_table_entry(table: PulledTable) -> PullTableEntry:
    return {
        "table": table.table,
        "local_count": table.local_count,
        "railway_count": table.railway_count,
        "inserted": table.inserted,
        "updated": table.updated,
        "deleted": table.deleted,
        "unchanged": table.unchanged,
        "created": table.created,
        "local_changes": table.local_changes,
        "local_change_ids": list(table.local_change_ids),
    }
