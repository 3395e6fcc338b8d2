"""Reading the facts a sync decides from, and deciding: the :class:`SyncPlan` of one command.

The planner speaks of a *source* (the rows to copy) and a *target* (where they go, and where
the site writes its own rows); the command layer says which database is which. ``make_plan``
is the one planning loop: every command that reads rows (sync, dry run, status) plans this
way, table by table, parents first.

A routine sync costs little when little changed: change tracking (``tracking``) names the
rows written on either side since the last sync, id checksums name rows added or deleted, and
only those rows are hashed and compared. When tracking cannot be trusted (first sync, another
local database, changed columns, a watermark too old) or a full comparison is asked for, every
row is hashed on both sides instead.

The target is far away, so ``prepare`` surveys every table at once (``survey``); ``plan``
and ``ownership`` then answer from that survey, and ask table by table only for what was too
large to ask at once.
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field, replace

from railway_sync.engine import ownership, pull_state, tracking
from railway_sync.engine.diff import TableDiff, changed_ids, compare_rows, diff_table
from railway_sync.engine.id_survey import IdSurvey, id_differences
from railway_sync.engine.options import SyncOptions
from railway_sync.engine.ownership import Ownership
from railway_sync.engine.railway_facts import RailwayFacts
from railway_sync.engine.survey import Bounds, TableRequest, TableSurvey, id_bounds, survey
from railway_sync.engine.sync_plan import NO_IDS, Refusal, SyncPlan, Unwritten, settle_table
from railway_sync.pg.columns import Column
from railway_sync.pg.connection import ServerIdentity, server_identity
from railway_sync.pg.failures import on_table
from railway_sync.report import Progress, ProgressCallback, no_progress
from railway_sync.schema.tables import ForeignKey

# Above this share of a table, hashing it whole (sequential scans, both servers in parallel)
# is cheaper than looking rows up by id.
FULL_SCAN_SHARE = 0.2


@dataclass
class Planner:
    """The facts of one sync or status run, read from one source snapshot, and the answers
    planning asks of them (each read once)."""

    source: str
    target: str
    full: bool = False
    identity: str = ""
    source_watermark: int = 0
    source_next: int = 0
    target_next: int = 0
    # The target's watermark as the last ``prepare`` read it: what the run records.
    target_watermark: int = 0
    target_snapshot: str = ""  # that survey statement's snapshot, as text
    states: dict[str, tracking.Watermark] = field(default_factory=dict)
    tracked_tables: set[str] = field(default_factory=set)
    source_server: ServerIdentity | None = None
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
    # Whether Railway has the ownership table (migration 0005; not in a dry run before it).
    owned_present: bool = True
    recorded: frozenset[str] = frozenset()
    # table -> its id sequence on Railway (None: none), for the bookkeeping after a write.
    sequences: dict[str, str | None] = field(default_factory=dict)
    # Railway's (smallest, largest) id per table when the run began (the survey's ranges).
    target_bounds: dict[str, Bounds] = field(default_factory=dict)
    # id_differences per (table, survey): --prune and planning ask the same question.
    _id_answers: dict[str, tuple[IdSurvey, tuple[array, array]]] = field(default_factory=dict)
    # The source's ids per table as ranges, read once in the snapshot (ownership's currency).
    _source_ids: dict[str, str] = field(default_factory=dict)
    # The site's rows a pull brought to the source, per table: not the sync's to claim.
    last_pulls: dict[str, pull_state.LastPull] = field(default_factory=dict)
    # What the last ``prepare`` found of each table.
    _surveyed: dict[str, TableSurvey] = field(default_factory=dict)

    @classmethod
    def open(
        cls,
        source: str,
        target: str,
        facts: RailwayFacts,
        *,
        full: bool = False,
        keys: dict[str, str] | None = None,
        foreign_keys: list[ForeignKey] | None = None,
        site_foreign_keys: list[ForeignKey] | None = None,
    ) -> Planner:
        """Call inside the source's snapshot: its watermark is this snapshot's. The target
        is described by ``facts`` (read at the start of the run); nothing here asks it.

        ``keys`` maps each table to its primary key column (default ``id``); ``foreign_keys``
        are those among the synced tables on synced columns, ``site_foreign_keys`` all of
        Railway's between them too (default: ``foreign_keys``).
        """
        planner = cls(
            source,
            target,
            full=full,
            keys=dict(keys or {}),
            foreign_keys=list(foreign_keys or []),
            site_foreign_keys=list(site_foreign_keys or foreign_keys or []),
        )
        planner.source_watermark = tracking.snapshot_xmin(source)
        planner.source_next = tracking.next_xid(source)
        planner.source_server = server_identity(source)
        planner.identity = tracking.local_identity(source)
        planner.target_next = facts.next_xid
        planner.states = dict(facts.states)
        planner.owned_present = facts.owned_present
        planner.recorded = facts.recorded
        planner.sequences = dict(facts.sequences)
        planner.target_bounds = dict(facts.id_bounds)
        planner.last_pulls = pull_state.last_pulls(source, tuple(planner.keys))
        return planner

    def key(self, table: str) -> str:
        return self.keys.get(table, "id")

    def pull_xid(self, table: str) -> int | None:
        """The local transaction of ``table``'s last pull: the rows it wrote were Railway's
        rows (checked before it committed), so change tracking does not count them as local
        changes; a later change to one gives it a newer transaction and is counted."""
        pulled = self.last_pulls.get(table)
        return pulled.pull_xid if pulled is not None else None

    def prepare(
        self, columns: dict[str, list[Column]], *, fresh: bool = False
    ) -> dict[str, IdSurvey]:
        """Survey every table of ``columns`` on both sides at once, in one or two round trips
        to Railway (``survey``), and return each table's id survey; ``plan`` and
        ``ownership`` given that survey answer from what was read with it. Also sets
        ``target_watermark``, read in the same statement as the rows tracking names.

        ``fresh``: Railway's id ranges are read again rather than taken from the start of the
        run (inside a deleting sync's transaction).
        """
        keys = {table: self.key(table) for table in columns}
        local_bounds, railway_bounds = id_bounds(self.source, self.target if fresh else None, keys)
        self.target_bounds.update(railway_bounds)
        requests = {}
        for table, key in keys.items():
            railway_ends = self.target_bounds.get(table, (None, None))
            tracked = self._trusted(table, columns[table]) and railway_ends[0] is not None
            requests[table] = TableRequest(
                columns=columns[table],
                key=key,
                local_bounds=local_bounds[table],
                railway_bounds=railway_ends,
                # Read (a scan of local's ids) only where Railway has no record to go by.
                local_ids=None if table in self.recorded else self.source_ids(table),
                watermark=self.states[table] if tracked else None,
                pull_xid=self.pull_xid(table),
                # Room for the inserts and deletes among them, which are not known yet.
                changed_limit=2 * _most(local_bounds[table]) + 1,
            )
        found = survey(self.source, self.target, requests, self.owned_present)
        self.target_watermark, self.target_snapshot = (
            found.railway_watermark,
            found.railway_snapshot,
        )
        self._surveyed = found.tables
        return {table: table_survey.ids for table, table_survey in found.tables.items()}

    def _surveyed_with(self, table: str, ids: IdSurvey | None) -> TableSurvey | None:
        """What ``prepare`` found of ``table`` with the id survey ``ids``, if it made it."""
        found = self._surveyed.get(table)
        return found if found is not None and ids is not None and found.ids is ids else None

    def id_differences(self, table: str, survey: IdSurvey | None) -> tuple[array, array]:
        """(ids missing on Railway, ids only on Railway); a given survey is read once (without
        one, the ids are surveyed afresh and nothing is remembered)."""
        if survey is None:
            return id_differences(self.source, self.target, table, key=self.key(table))
        surveyed = self._surveyed_with(table, survey)
        if surveyed is not None and surveyed.differences is not None:
            return surveyed.differences
        cached = self._id_answers.get(table)
        if cached is None or cached[0] is not survey:
            # Where Railway has none, local's ids are the answer, as ownership reads them too.
            ranges = self.source_ids(table) if not survey.railway else None
            answer = id_differences(self.source, self.target, table, survey, local_id_ranges=ranges)
            self._id_answers[table] = cached = (survey, answer)
        return cached[1]

    def target_edits(self, table: str, survey: IdSurvey | None) -> array:
        """The rows of ``table`` written on the target since the last sync (by someone else),
        as change tracking named them in ``prepare``'s survey; none when it could not."""
        surveyed = self._surveyed_with(table, survey)
        if surveyed is None or surveyed.target_changed is None:
            return NO_IDS
        return array("q", sorted(surveyed.target_changed))

    def source_ids(self, table: str) -> str:
        """The source's ids of ``table`` as ``int8multirange`` text, read once per snapshot."""
        if table not in self._source_ids:
            self._source_ids[table] = ownership.local_ids(self.source, table, self.key(table))
        return self._source_ids[table]

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
        surveyed = self._surveyed_with(table, survey)
        unowned = surveyed.unowned if surveyed else None
        return ownership.survey(
            self.source,
            self.target,
            table,
            columns,
            # Only to read the unowned rows, where the survey has not.
            self.source_ids(table) if unowned is None else None,
            railway_only,
            railway_count,
            self.owned_present,
            self.key(table),
            unowned=unowned,
            pulled=pulled.site_ids if (pulled := self.last_pulls.get(table)) else None,
            recorded_ids=surveyed.recorded_ids if surveyed else None,
        )

    def held_back(self, table: str, unwritten: Unwritten) -> tuple[array, array]:
        """The source rows of ``table`` pointing at a parent row not written (``unwritten``),
        and among them those waiting for a refused table (asked only when one was)."""
        fks, keys = self.foreign_keys, self.keys
        stale = dict(unwritten.stale)
        held = ownership.held_back(self.source, table, fks, dict(unwritten.rows), keys, stale)
        if not (unwritten.refused or unwritten.stale):
            return held, NO_IDS
        waiting = ownership.held_back(self.source, table, fks, dict(unwritten.refused), keys, stale)
        return held, waiting

    def _trusted(self, table: str, columns: list[Column]) -> bool:
        """Whether ``table``'s watermark can be trusted (nothing recorded for the report)."""
        return not self.full and self._why_untrusted(table, columns) is None

    def _why_untrusted(self, table: str, columns: list[Column]) -> str | None:
        assert self.source_server is not None, "Planner.open sets it"
        return tracking.why_untrusted(
            self.states.get(table),
            identity=self.identity,
            local_server=self.source_server,
            signature=tracking.columns_signature(columns),
            local_next=self.source_next,
            railway_next=self.target_next,
        )

    def is_tracked(self, table: str, columns: list[Column]) -> bool:
        if self.full:
            return False
        reason = self._why_untrusted(table, columns)
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

        ``survey``, if given, is a recent id survey of the table to reuse (what ``prepare``
        read with it is used too).
        """
        local_count, railway_count = counts
        if railway_count == 0:
            # Nothing to compare with: every local row is an insert, no hashing needed.
            missing, _ = self.id_differences(table, survey)
            return TableDiff(to_insert=missing, method="empty")
        if not self.is_tracked(table, columns):
            return diff_table(self.source, self.target, table, columns, self.key(table))
        self.tracked_tables.add(table)
        state = self.states[table]
        missing, railway_only = self.id_differences(table, survey)
        most = int(FULL_SCAN_SHARE * max(local_count, 1))
        surveyed = self._surveyed_with(table, survey)
        candidates: set[int] | None
        if surveyed is not None and surveyed.changed is not None:
            candidates = set(surveyed.changed)
        else:
            candidates = changed_ids(
                self.source,
                self.target,
                table,
                tracking.changed_since(state.local_watermark, self.pull_xid(table)),
                tracking.changed_since(state.railway_watermark, state.railway_xid),
                # One more than could leave ``most`` after the inserts and deletes are taken out.
                limit=most + len(missing) + len(railway_only) + 1,
                key=self.key(table),
            )
        if candidates is not None:
            candidates.difference_update(missing)
            candidates.difference_update(railway_only)
        if candidates is None or len(candidates) > most:
            return diff_table(self.source, self.target, table, columns, self.key(table))
        if surveyed is not None and surveyed.changed is not None and surveyed.compared is not None:
            more_missing, differing = surveyed.compared
        else:
            more_missing, differing = compare_rows(
                self.source,
                self.target,
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


def make_plan(
    planner: Planner,
    columns: dict[str, list[Column]],
    surveys: dict[str, IdSurvey],
    owners: dict[str, Ownership],
    options: SyncOptions,
    refused: tuple[Refusal, ...] = (),
    *,
    progress: ProgressCallback = no_progress,
    outcome: str = "nothing was written",
) -> SyncPlan:
    """The plan of every table of ``columns`` (parents first), from the survey ``prepare``
    made (``surveys``) and who owns the target's rows (``owners``), as ``options`` carry it
    out; a ``refused`` table is planned (its children must know what it would have brought)
    but writes nothing. A failure names its table and ``outcome``."""
    plans = []
    unwritten = Unwritten()
    refusals = {refusal.table: refusal for refusal in refused}
    for table in columns:
        started = time.monotonic()
        progress(Progress("diff", table))
        survey = surveys[table]
        counts = (survey.local_count, survey.railway_count)
        with on_table(table, outcome):
            found = planner.plan(table, columns[table], counts, survey)
            held, waiting = planner.held_back(table, unwritten)
        plan, unwritten = settle_table(
            table,
            found,
            owners[table],
            counts,
            options,
            unwritten,
            planner.foreign_keys,
            held=held,
            waiting=waiting,
            target_edits=planner.target_edits(table, survey),
            refusal=refusals.get(table),
        )
        plans.append(replace(plan, seconds=time.monotonic() - started))
    return SyncPlan(tuple(plans), planner.notices())


def _most(local_bounds: Bounds) -> int:
    """Changed rows beyond which a full comparison is cheaper, from local's id span (the
    count is not known before the survey; the span bounds it from above)."""
    low, high = local_bounds
    span = 0 if low is None or high is None else high - low + 1
    return int(FULL_SCAN_SHARE * max(span, 1))
