"""Deciding what a sync must write, and checking afterwards that it was written.

A routine sync costs little when little changed: change tracking (``tracking``) names the
rows written on either side since the last sync, id checksums name rows added or deleted, and
only those rows are hashed and compared. When tracking cannot be trusted (first sync, another
local database, changed columns, a watermark too old) or a full comparison is asked for, every
row is hashed on both sides instead.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from railway_sync import ownership, tracking
from railway_sync.connection import ServerIdentity, server_identity
from railway_sync.diff import (
    IdSurvey,
    TableDiff,
    changed_ids,
    compare_rows,
    diff_table,
    id_differences,
)
from railway_sync.errors import VerificationFailed
from railway_sync.schema import Column
from railway_sync.tables import ForeignKey

# Above this share of a table, hashing it whole (sequential scans, both servers in parallel)
# is cheaper than looking rows up by id.
FULL_SCAN_SHARE = 0.2


@dataclass
class Planner:
    """Plans and verifies the tables of one sync or status run, from one local snapshot."""

    local: str
    railway: str
    full: bool = False
    identity: str = ""
    local_watermark: int = 0
    local_next: int = 0
    railway_next: int = 0
    states: dict[str, tracking.Watermark] = field(default_factory=dict)
    tracked_tables: set[str] = field(default_factory=set)
    local_server: ServerIdentity | None = None
    # Why each table's watermark was not trusted (so every row was compared), for the report.
    untrusted: dict[str, str] = field(default_factory=dict)
    # table -> its primary key column ("id" for a table not named here).
    keys: dict[str, str] = field(default_factory=dict)
    # The foreign keys among the synced tables (local's catalog and Railway's), for the
    # ownership checks: rows held back, the site's rows pointing at rows to delete.
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    # Those and the keys of Railway-only (the site's) columns: the site's rows that point at
    # rows a sync deletes.
    site_foreign_keys: list[ForeignKey] = field(default_factory=list)
    # id_differences per (table, survey): --prune and planning ask the same question.
    _id_answers: dict[str, tuple[IdSurvey, tuple[array, array]]] = field(default_factory=dict)
    # Whether Railway has the ownership table (migration 0005; not in a dry run before it).
    owned_present: bool = True
    # Local's ids per table as ranges, read once in the snapshot (ownership's currency).
    _local_ids: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(
        cls,
        local: str,
        railway: str,
        *,
        full: bool = False,
        keys: dict[str, str] | None = None,
        foreign_keys: list[ForeignKey] | None = None,
        site_foreign_keys: list[ForeignKey] | None = None,
    ) -> Planner:
        """Call inside the local snapshot: its watermark is this snapshot's.

        ``keys`` maps each table to its primary key column (default ``id``); ``foreign_keys``
        are those among the synced tables on synced columns, ``site_foreign_keys`` all of
        Railway's between them too (default: ``foreign_keys``).
        """
        planner = cls(
            local,
            railway,
            full=full,
            keys=dict(keys or {}),
            foreign_keys=list(foreign_keys or []),
            site_foreign_keys=list(site_foreign_keys or foreign_keys or []),
        )
        planner.local_watermark = tracking.snapshot_xmin(local)
        planner.local_next = tracking.next_xid(local)
        planner.railway_next = tracking.next_xid(railway)
        planner.local_server = server_identity(local)
        planner.identity = tracking.local_identity(local)
        planner.states = tracking.read_state(railway)
        planner.owned_present = ownership.present(railway)
        return planner

    def key(self, table: str) -> str:
        return self.keys.get(table, "id")

    def id_differences(self, table: str, survey: IdSurvey | None) -> tuple[array, array]:
        """(ids missing on Railway, ids only on Railway); a given survey is read once.

        Without a survey the ids are surveyed afresh and nothing is remembered.
        """
        if survey is None:
            return id_differences(self.local, self.railway, table, key=self.key(table))
        cached = self._id_answers.get(table)
        if cached is None or cached[0] is not survey:
            answer = id_differences(self.local, self.railway, table, survey)
            self._id_answers[table] = cached = (survey, answer)
        return cached[1]

    def local_ids(self, table: str) -> str:
        """Local's ids of ``table`` as ``int8multirange`` text, read once per snapshot."""
        if table not in self._local_ids:
            self._local_ids[table] = ownership.local_ids(self.local, table, self.key(table))
        return self._local_ids[table]

    def ownership(
        self,
        table: str,
        columns: list[Column],
        railway_count: int,
        survey: IdSurvey | None = None,
    ) -> ownership.Ownership:
        """Which of ``table``'s Railway rows (``railway_count``) the sync owns and which are
        the site's, now (``survey`` as for ``id_differences``)."""
        railway_only = self.id_differences(table, survey)[1]
        return ownership.survey(
            self.local,
            self.railway,
            table,
            columns,
            self.local_ids(table),
            railway_only,
            railway_count,
            self.owned_present,
            self.key(table),
        )

    def record_ownership(self, table: str, kept_conflicts: array) -> None:
        """Store which of ``table``'s rows the sync owns, in the transaction that wrote it."""
        ownership.record(
            self.railway, table, self.local_ids(table), kept_conflicts, self.key(table)
        )

    def is_tracked(self, table: str, columns: list[Column]) -> bool:
        if self.full:
            return False
        assert self.local_server is not None, "Planner.open sets it"
        reason = tracking.why_untrusted(
            self.states.get(table),
            identity=self.identity,
            local_server=self.local_server,
            signature=tracking.columns_signature(columns),
            local_next=self.local_next,
            railway_next=self.railway_next,
        )
        if reason:
            self.untrusted[table] = reason
        return reason is None

    def notices(self) -> tuple[str, ...]:
        """One line per reason change tracking was not trusted, naming the tables it concerned
        unless it concerned every table that tracking was asked about."""
        judged = self.tracked_tables | set(self.untrusted)
        tables_by_reason: dict[str, list[str]] = {}
        for table, reason in self.untrusted.items():
            tables_by_reason.setdefault(reason, []).append(table)
        lines = []
        for reason, tables in tables_by_reason.items():
            which = "" if set(tables) == judged else " of " + ", ".join(tables)
            lines.append(f"{reason[0].upper()}{reason[1:]}: compared every row{which}")
        return tuple(lines)

    def plan(
        self,
        table: str,
        columns: list[Column],
        counts: tuple[int, int],
        survey: IdSurvey | None = None,
    ) -> TableDiff:
        """What ``table`` needs: ids to insert, to update, and found only on Railway.

        ``survey``, if given, is a recent id survey of the table to reuse.
        """
        local_count, railway_count = counts
        if railway_count == 0:
            # Nothing to compare with: every local row is an insert, no hashing needed.
            missing, _ = self.id_differences(table, survey)
            return TableDiff(to_insert=missing, method="empty")
        if not self.is_tracked(table, columns):
            return diff_table(self.local, self.railway, table, columns, self.key(table))
        self.tracked_tables.add(table)
        state = self.states[table]
        missing, railway_only = self.id_differences(table, survey)
        most = int(FULL_SCAN_SHARE * max(local_count, 1))
        candidates = changed_ids(
            self.local,
            self.railway,
            table,
            tracking.changed_since(state.local_watermark),
            tracking.changed_since(state.railway_watermark, state.railway_xid),
            # One more than could leave ``most`` after the inserts and deletes are taken out.
            limit=most + len(missing) + len(railway_only) + 1,
            key=self.key(table),
        )
        if candidates is not None:
            candidates.difference_update(missing)
            candidates.difference_update(railway_only)
        if candidates is None or len(candidates) > most:
            return diff_table(self.local, self.railway, table, columns, self.key(table))
        more_missing, differing = compare_rows(
            self.local,
            self.railway,
            table,
            columns,
            array("q", sorted(candidates)),
            self.key(table),
        )
        to_insert = array("q", sorted({*missing, *more_missing}))
        return TableDiff(
            to_insert=to_insert,
            to_update=differing,
            railway_only=railway_only,
            unchanged=local_count - len(to_insert) - len(differing),
            method="tracked",
        )

    def verify(
        self,
        table: str,
        columns: list[Column],
        written: TableDiff,
        *,
        local_count: int,
        exact: bool,
        verify_all: bool,
        excused: array | None = None,
    ) -> None:
        """Check, before commit, that Railway now holds what was meant to be written.

        Routinely: every written row is on Railway and hashes alike on both sides (the plan
        vouches for the rest); ``exact`` also re-checks the ids on both sides, so Railway
        holds no row local lacks and lacks none it has, but the site's. ``verify_all`` (and
        any write of more than a fifth of the table) compares every row instead.
        ``excused`` ids are not counted: rows the sync did not write on purpose (conflicts,
        rows held back) and the site's rows it kept.
        """
        kept = set(excused or ())
        to_write = written.to_write
        extra = array("q")
        if verify_all or len(to_write) > FULL_SCAN_SHARE * max(local_count, 1):
            after = diff_table(self.local, self.railway, table, columns, self.key(table))
            missing, differing, extra = after.to_insert, after.to_update, after.railway_only
        else:
            missing, differing = compare_rows(
                self.local, self.railway, table, columns, to_write, self.key(table)
            )
            if exact:
                more_missing, extra = self.id_differences(table, None)
                missing = array("q", sorted({*missing, *more_missing}))
        missing = array("q", (i for i in missing if i not in kept))
        differing = array("q", (i for i in differing if i not in kept))
        extra = array("q", (i for i in extra if i not in kept))
        problems = []
        if missing:
            problems.append(f"{len(missing)} local rows missing")
        if differing:
            problems.append(f"{len(differing)} rows with different content")
        if exact and extra:
            problems.append(f"{len(extra)} rows not in local")
        if problems:
            raise VerificationFailed(
                f"Verification failed for {table} on Railway: {', '.join(problems)}; the "
                "transaction was rolled back. Run python manage.py railway_status --deep for "
                "details."
            )

    def record(self, table: str, columns: list[Column], railway_watermark: int) -> None:
        """Store ``table``'s watermarks in the Railway transaction that wrote it."""
        assert self.local_server is not None, "Planner.open sets it"
        tracking.write_state(
            self.railway,
            table,
            identity=self.identity,
            local_server=self.local_server,
            local_watermark=self.local_watermark,
            railway_watermark=railway_watermark,
            signature=tracking.columns_signature(columns),
        )
