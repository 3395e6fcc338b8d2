"""What the api returns: frozen dataclasses that the commands turn into text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """A progress event: ``phase`` of ``table`` (``""`` for the whole run), ``done`` of ``total``."""

    phase: str
    table: str = ""
    done: int = 0
    total: int = 0
    message: str = ""


ProgressCallback = Callable[[Progress], None]


def no_progress(event: Progress) -> None:
    """The default progress callback: ignore the event."""


@dataclass(frozen=True)
class TableResult:
    """What a sync did (or, in a dry run, would do) to one table on Railway."""

    table: str
    local_count: int
    railway_count: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: int = 0
    deleted: int = 0
    seconds: float = 0.0
    compared: str = ""  # "empty", "tracked" or "full": how the changes were found

    @property
    def written(self) -> int:
        return self.inserted + self.updated + self.deleted


@dataclass(frozen=True)
class SyncReport:
    mode: str
    dry_run: bool
    tables: tuple[TableResult, ...]
    verified: bool
    guard_problems: tuple[str, ...] = ()
    needs_confirmation: bool = False
    schema_missing: bool = False
    seconds: float = 0.0
    pruned: bool = False
    # Why some tables were compared row by row instead of through change tracking (a local
    # database restored from a backup, ...): one line each.
    notices: tuple[str, ...] = ()

    @property
    def written(self) -> int:
        return sum(table.written for table in self.tables)


@dataclass(frozen=True)
class TableStatus:
    table: str
    local_count: int | None
    railway_count: int | None
    missing_on_railway: int = 0
    differing: int = 0
    railway_only: int = 0
    compared: str = ""

    @property
    def in_sync(self) -> bool:
        return (
            self.local_count is not None
            and self.local_count == self.railway_count
            and self.missing_on_railway == 0
            and self.differing == 0
            and self.railway_only == 0
        )


@dataclass(frozen=True)
class StatusReport:
    target: str
    connected: bool
    tables: tuple[TableStatus, ...] = ()
    problem: str = ""
    recommendation: str = ""
    deep: bool = False
    notices: tuple[str, ...] = ()  # as SyncReport.notices

    @property
    def in_sync(self) -> bool:
        return self.connected and not self.problem and all(t.in_sync for t in self.tables)


@dataclass(frozen=True)
class ConnectionReport:
    target: str
    server_version: str
    database: str
    seconds: float


@dataclass(frozen=True)
class MigrateReport:
    planned: tuple[str, ...]
    sql: tuple[str, ...] = ()
    applied: tuple[str, ...] = ()
    dry_run: bool = False


@dataclass(frozen=True)
class SchemaChange:
    """One operation of a generated migration: what it does and its SQL."""

    description: str
    sql: tuple[str, ...]


@dataclass(frozen=True)
class MakeMigrationsReport:
    """What ``railway_makemigrations`` found, and the migration it wrote (or would write)."""

    changes: tuple[SchemaChange, ...]
    migration: str = ""  # "railway_schema.0002_animals"
    path: str = ""
    written: bool = False
