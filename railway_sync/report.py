"""What the api returns: frozen dataclasses that the commands turn into text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


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
class Conflict:
    """A site row on Railway at an id local also has, with other content: both rows' naming
    columns (name, slug, external_id, ...) as text, to tell them apart."""

    id: int
    local: dict[str, str | None]
    railway: dict[str, str | None]


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
    # Railway rows the sync does not own (the site's), left as they were; among them the
    # ``conflicts`` at ids local also has (local's row was not written), the first described.
    site_rows: int = 0
    conflicts: int = 0
    conflict_rows: tuple[Conflict, ...] = ()
    # Local rows not written because they point at a row not written (a conflict's, or one
    # a refused table would have brought: ``waiting_for`` names those tables).
    held_back: int = 0
    # Why an incremental sync left this table as it was (a guard refused it; nothing of it was
    # written, the other tables were), and the fix; "" when it was not refused.
    refused: str = ""
    refused_fix: str = ""
    waiting_for: tuple[str, ...] = ()
    # Rows the sync owns that someone edited on Railway since the last sync (found by change
    # tracking): overwritten from local (``--on-railway-edit local``), or left as Railway has
    # them (``keep``, a conflict: the sync exits 1); the first of their ids.
    railway_edits: int = 0
    railway_edits_kept: int = 0
    railway_edit_ids: tuple[int, ...] = ()

    @property
    def written(self) -> int:
        return self.inserted + self.updated + self.deleted


class RowTotals:
    """What a sync's and a pull's reports count alike over their ``tables``."""

    tables: tuple[TableResult, ...] | tuple[PulledTable, ...]

    @property
    def rows_written(self) -> int:
        """Rows inserted or updated; deletions are counted apart (``rows_deleted``)."""
        return sum(table.inserted + table.updated for table in self.tables)

    @property
    def rows_deleted(self) -> int:
        return sum(table.deleted for table in self.tables)


@dataclass(frozen=True)
class SyncReport(RowTotals):
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
    # A dry run's: the real sync would be refused as a whole (``guard_problems`` also lists
    # the tables it would refuse alone).
    would_refuse: bool = False

    @property
    def written(self) -> int:
        return sum(table.written for table in self.tables)

    @property
    def refused_tables(self) -> tuple[str, ...]:
        """The tables a guard refused (left as they were while the others synced): the sync
        exits 1."""
        return tuple(table.table for table in self.tables if table.refused)

    @property
    def waiting(self) -> int:
        """Rows held back because they point at rows a refused table would have brought."""
        return sum(table.held_back for table in self.tables if table.waiting_for)

    @property
    def conflicts(self) -> int:
        """Site rows kept at ids local also has, and rows edited on Railway kept as Railway
        has them: the sync landed but exits 1."""
        return sum(table.conflicts + table.railway_edits_kept for table in self.tables)

    @property
    def railway_edits(self) -> int:
        """Rows edited on Railway since the last sync that the sync overwrote (would)."""
        return sum(table.railway_edits for table in self.tables)

    @property
    def railway_edits_kept(self) -> int:
        return sum(table.railway_edits_kept for table in self.tables)


@dataclass(frozen=True)
class PulledTable:
    """What a pull did (or, in a dry run, would do) to one local table."""

    table: str
    local_count: int  # before the pull
    railway_count: int
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    # Created by --create-tables, as Railway has it.
    created: bool = False
    # Local rows changed since the last sync or pull (not on Railway yet) that the pull
    # deletes or overwrites, and the first of their ids.
    local_changes: int = 0
    local_change_ids: tuple[int, ...] = ()

    @property
    def written(self) -> int:
        return self.inserted + self.updated + self.deleted


@dataclass(frozen=True)
class PullReport(RowTotals):
    dry_run: bool
    tables: tuple[PulledTable, ...]
    verified: bool
    seconds: float = 0.0
    notices: tuple[str, ...] = ()
    # Local work would be deleted or overwritten: a pull needs --confirm-destructive.
    needs_confirmation: bool = False
    # As SyncReport's, for the run history: a pull refuses as a whole or lands whole.
    mode: str = "pull"
    conflicts: int = 0


@dataclass(frozen=True)
class TableStatus:
    table: str
    local_count: int | None
    railway_count: int | None
    missing_on_railway: int = 0
    differing: int = 0
    # Rows the sync put on Railway that local no longer has (what --prune deletes).
    railway_only: int = 0
    # How the rows were compared, as TableResult.compared; "" when they were not (the
    # schemas differ, or Railway lacks the table): then nothing is known of their content.
    compared: str = ""
    # Railway rows the sync does not own (the site's), conflicts among them as in TableResult,
    # and the columns only Railway has (the site's, never synced).
    site_rows: int = 0
    conflicts: int = 0
    conflict_rows: tuple[Conflict, ...] = ()
    site_columns: tuple[str, ...] = ()

    @property
    def in_sync(self) -> bool:
        """Every local row is on Railway with the same content, and every other Railway row
        is the site's (which no sync touches)."""
        return (
            self.local_count is not None
            and self.compared != ""
            and self.railway_count == self.local_count + self.site_rows
            and self.missing_on_railway == 0
            and self.differing == 0
            and self.railway_only == 0
            and self.conflicts == 0
        )


@dataclass(frozen=True)
class StatusReport:
    target: str
    connected: bool
    tables: tuple[TableStatus, ...] = ()
    # Why the rows could not be compared (or Railway not reached): one line that names the
    # fix, with ``details`` (one difference each) to show below it.
    problem: str = ""
    recommendation: str = ""
    deep: bool = False
    notices: tuple[str, ...] = ()  # as SyncReport.notices
    details: tuple[str, ...] = ()
    # When Railway's own record says every table was last synced (``railway_sync_state``,
    # written with the rows), for a host without a local history.
    railway_synced_at: datetime | None = None

    @property
    def in_sync(self) -> bool:
        return self.connected and not self.problem and all(t.in_sync for t in self.tables)

    @property
    def rows_compared(self) -> bool:
        """Whether the rows were compared at all; if not, the status is not an answer."""
        return self.connected and not self.problem


@dataclass(frozen=True)
class ConnectionReport:
    target: str
    server_version: str
    database: str
    seconds: float


@dataclass(frozen=True)
class PlannedMigration:
    """One pending migration as decided against Railway: its steps checked, how many Railway
    already had (recorded without running), what its drops would delete, what conflicts, and
    the SQL that runs."""

    name: str  # "railway_schema.0001_animals"
    steps: int
    adopted: int
    destructive: tuple[str, ...] = ()  # "column animals.notes (10 values)"
    conflicts: tuple[str, ...] = ()
    sql: tuple[str, ...] = ()


@dataclass(frozen=True)
class MigrateReport:
    planned: tuple[str, ...]
    applied: tuple[str, ...] = ()
    dry_run: bool = False
    migrations: tuple[PlannedMigration, ...] = ()

    @property
    def sql(self) -> tuple[str, ...]:
        return tuple(statement for m in self.migrations for statement in m.sql)

    def decided(self, name: str) -> PlannedMigration | None:
        return next((m for m in self.migrations if m.name == name), None)


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
