"""What one sync will do to each table, decided before anything is written, and why.

A :class:`SyncPlan` is made once per command (``planner.make_plan``): per table, how the
source and the target differ (``found``), which target rows are the site's (``ownership``),
and what this sync therefore writes and may delete (``settled``), holds back, or leaves
alone (a guard's ``refusal``). ``preview`` renders it, ``status`` summarises it, ``write``
carries it out and ``verify`` checks the written tables against it.

The rules here are the target's (the site's rows are not the sync's to write or delete) and
speak of a source and a target, whichever way the rows move. Everything in this module is
pure: facts in, plan out, no database.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from railway_sync.engine.diff import TableDiff
from railway_sync.engine.id_sets import contains, without
from railway_sync.engine.options import SyncOptions
from railway_sync.engine.ownership import Ownership
from railway_sync.errors import GuardRefused
from railway_sync.report import TableResult
from railway_sync.schema.tables import ForeignKey

NO_IDS = array("q")
# How many ids of the rows edited on the target a report names per table.
EDIT_IDS_SHOWN = 5


@dataclass(frozen=True)
class Refusal:
    """A table an incremental sync leaves as it was: ``problem`` is the guard's phrase,
    table first (as ``guard_problems`` lists it); ``reason`` says why without the table's
    name; ``fix`` names the command that resolves it."""

    table: str
    problem: str
    reason: str
    fix: str


@dataclass(frozen=True)
class TablePlan:
    """What one sync does to one table.

    ``found``: how source and target differ, as compared (``found.method`` says how).
    ``settled``: what the sync writes (``to_insert``, ``to_update``) and what a deleting
    sync may delete (``railway_only``), once the site's rows and the rows ``held`` back are
    taken out. ``held``: source rows not written because they point at a parent row this
    sync does not write; ``origins`` the refused tables some of those parents wait for.
    ``unwritten``: this table's rows the sync does not write, which hold back its children's.
    ``target_edits``: rows the sync owns that someone edited on the target since the last
    sync, which it overwrites (``--on-railway-edit local``) or leaves (``keep``:
    ``edits_kept``).
    """

    table: str
    source_count: int
    target_count: int
    found: TableDiff
    ownership: Ownership
    settled: TableDiff
    held: array = field(default_factory=lambda: array("q"))
    held_count: int = 0
    unwritten: array = field(default_factory=lambda: array("q"))
    origins: tuple[str, ...] = ()
    refusal: Refusal | None = None
    target_edits: array = field(default_factory=lambda: array("q"))
    edits_kept: bool = False
    # How long planning the table took (a dry run's per-table time).
    seconds: float = 0.0

    @property
    def waiting_for(self) -> tuple[str, ...]:
        """The refused tables this table's held-back rows wait for (none if it holds none)."""
        return self.origins if self.held_count and self.refusal is None else ()

    @property
    def counts(self) -> tuple[int, int]:
        return self.source_count, self.target_count

    @property
    def method(self) -> str:
        """How the rows were compared: "empty", "tracked" or "full"."""
        return self.found.method


@dataclass(frozen=True)
class SyncPlan:
    """Every synced table's plan, parents first, and why change tracking was not trusted
    where it was not (``notices``)."""

    tables: tuple[TablePlan, ...]
    notices: tuple[str, ...] = ()

    def __getitem__(self, table: str) -> TablePlan:
        for plan in self.tables:
            if plan.table == table:
                return plan
        raise KeyError(table)

    def __iter__(self) -> Iterator[TablePlan]:
        return iter(self.tables)


@dataclass(frozen=True)
class Unwritten:
    """The rows of each table, parents first, that a sync does not write, so that the
    children's rows pointing at them are held back too.

    ``rows``: the target lacks them, or holds the site's row at their ids (kept conflicts,
    rows held back, a refused table's new rows); ``stale``: a refused table's changed rows,
    which the target keeps in their older content. ``refused`` are the rows among ``rows``
    that a refused table is the cause of, and ``origins`` the refused tables each table's
    such rows wait for.
    """

    rows: Mapping[str, array] = field(default_factory=dict)
    stale: Mapping[str, array] = field(default_factory=dict)
    refused: Mapping[str, array] = field(default_factory=dict)
    origins: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def settle_table(
    table: str,
    found: TableDiff,
    own: Ownership,
    counts: tuple[int, int],
    options: SyncOptions,
    before: Unwritten,
    foreign_keys: list[ForeignKey],
    *,
    held: array,
    waiting: array = NO_IDS,
    refusal: Refusal | None = None,
    target_edits: array = NO_IDS,
) -> tuple[TablePlan, Unwritten]:
    """``table``'s plan, and what is not written once it is (call parents first).

    ``held``: the source rows pointing at a parent row not written (``before.rows``, or a key
    other than the parent's primary key on ``before.stale``); ``waiting``: those pointing at a
    refused table's rows (``before.refused``). A ``refusal`` writes nothing of the table.
    ``target_edits``: rows written on the target since the last sync (change tracking's).
    """
    rows, stale = dict(before.rows), dict(before.stale)
    refused, origins = dict(before.refused), dict(before.origins)
    if waiting:
        refused[table] = waiting
        origins[table] = tuple(
            sorted(
                {
                    origin
                    for fk in foreign_keys
                    if fk.child == table and fk.parent != table
                    for origin in origins.get(fk.parent, ())
                }
            )
        )
    settled, held_count = own.settle(found, options, counts[0], held)
    edits = array("q", (i for i in settled.to_update if contains(target_edits, i)))
    keep_edits = bool(edits) and options.on_railway_edit == "keep"
    if keep_edits:
        settled = replace(settled, to_update=without(settled.to_update, edits))
        # Kept as the target has them: only keys on another column than the primary key
        # may point at what changed.
        stale[table] = array("q", sorted({*stale.get(table, ()), *edits}))
    unwritten = {*own.kept_conflicts(options), *held}
    if refusal is not None:
        unwritten.update(settled.to_insert)
        refused[table] = array("q", sorted({*settled.to_insert, *refused.get(table, ())}))
        stale[table] = settled.to_update
        origins[table] = (table,)
    rows[table] = array("q", sorted(unwritten))
    plan = TablePlan(
        table=table,
        source_count=counts[0],
        target_count=counts[1],
        found=found,
        ownership=own,
        settled=settled,
        held=held,
        held_count=held_count,
        unwritten=rows[table],
        origins=origins.get(table, ()),
        refusal=refusal,
        target_edits=edits,
        edits_kept=keep_edits,
    )
    return plan, Unwritten(rows, stale, refused, origins)


def hold_back_more(plan: TablePlan, more: array, options: SyncOptions) -> TablePlan:
    """``plan`` also holding back ``more`` source rows: they point at rows the site took
    while the sync wrote their parents (so those were not written either)."""
    held = array("q", sorted({*plan.held, *more}))
    if len(held) == len(plan.held):
        return plan
    settled, held_count = plan.ownership.settle(plan.found, options, plan.source_count, held)
    if plan.edits_kept:
        settled = replace(settled, to_update=without(settled.to_update, plan.target_edits))
    unwritten = array("q", sorted({*plan.unwritten, *held}))
    return replace(plan, settled=settled, held=held, held_count=held_count, unwritten=unwritten)


def refused_result(table_plan: TablePlan) -> TableResult:
    """A refused table's line: nothing written, and why."""
    refusal = table_plan.refusal
    assert refusal is not None, "called for refused tables only"
    return TableResult(
        table=table_plan.table,
        local_count=table_plan.source_count,
        railway_count=table_plan.target_count,
        compared=table_plan.method,
        refused=refusal.reason,
        refused_fix=refusal.fix,
    )


def edits_result(table_plan: TablePlan) -> dict[str, Any]:
    """The ``TableResult`` fields that name the rows edited on the target since the last
    sync: overwritten from the source, or kept as the target has them."""
    edits = table_plan.target_edits
    return {
        "railway_edits": 0 if table_plan.edits_kept else len(edits),
        "railway_edits_kept": len(edits) if table_plan.edits_kept else 0,
        "railway_edit_ids": tuple(edits[:EDIT_IDS_SHOWN]),
    }


def target_edits_phrase(plan: SyncPlan) -> str:
    """``animals 17, 912; organizations 3``: the rows edited on the target, per table."""
    return "; ".join(
        f"{table.table} {', '.join(str(i) for i in table.target_edits[:EDIT_IDS_SHOWN])}"
        + (", ..." if len(table.target_edits) > EDIT_IDS_SHOWN else "")
        for table in plan
        if table.target_edits
    )


def refuse_target_edits(plan: SyncPlan, options: SyncOptions, outcome: str) -> None:
    """``--on-railway-edit fail``: refuse, before anything is written, a sync that would
    overwrite rows edited on the target since the last sync."""
    count = sum(len(table.target_edits) for table in plan)
    if options.on_railway_edit != "fail" or not count:
        return
    raise GuardRefused(
        f"{count} row{'s' if count != 1 else ''} edited on Railway since the last sync would "
        f"be overwritten from local: {target_edits_phrase(plan)}; {outcome}. Bring them home "
        "with python manage.py railway_pull, keep Railway's with --on-railway-edit keep, or "
        "overwrite them with --on-railway-edit local.",
        (f"rows edited on Railway since the last sync: {target_edits_phrase(plan)}",),
    )
