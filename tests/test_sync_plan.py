"""Planning without a database: facts in (how the two sides differ, who owns the target's
rows, which parent rows are not written), a plan out; then the dry run's and the status's
lines rendered from it."""

from __future__ import annotations

from array import array

from railway_sync.engine.diff import TableDiff
from railway_sync.engine.options import SyncOptions
from railway_sync.engine.ownership import Ownership
from railway_sync.engine.preview import would_do
from railway_sync.engine.status import summarise
from railway_sync.engine.sync_plan import (
    Refusal,
    SyncPlan,
    Unwritten,
    hold_back_more,
    refused_result,
    settle_table,
)
from railway_sync.report import Conflict, TableResult, TableStatus
from railway_sync.schema.tables import ForeignKey

INCREMENTAL = SyncOptions(batch_size=1000)
LOCAL_WINS = SyncOptions(batch_size=1000, on_conflict="local")
REBUILD = SyncOptions(batch_size=1000, mode="rebuild", confirm_destructive=True)
ANIMALS_TO_ORGANIZATIONS = [ForeignKey("animals", "organization_id", "organizations", "id")]


def ids(*values: int) -> array:
    return array("q", values)


def found(insert=(), update=(), target_only=(), unchanged=0, method="tracked") -> TableDiff:
    return TableDiff(ids(*insert), ids(*update), ids(*target_only), unchanged, method)


def test_a_table_with_no_site_rows_writes_what_was_found():
    diff = found(insert=(4, 5), update=(2,), unchanged=3)
    own = Ownership("organizations", owned_count=3)

    plan, after = settle_table(
        "organizations", diff, own, (6, 4), INCREMENTAL, Unwritten(), [], held=ids()
    )

    assert (list(plan.settled.to_insert), list(plan.settled.to_update)) == ([4, 5], [2])
    assert (plan.settled.unchanged, plan.held_count, plan.method) == (3, 0, "tracked")
    assert (list(plan.unwritten), dict(after.rows)) == ([], {"organizations": ids()})
    assert would_do(plan, INCREMENTAL) == TableResult(
        "organizations", 6, 4, inserted=2, updated=1, unchanged=3, compared="tracked"
    )


def test_a_kept_conflict_is_not_written_and_holds_back_the_rows_pointing_at_it():
    conflict = Conflict(7, {"name": "Local name"}, {"name": "Site name"})
    own = Ownership("organizations", 5, conflict_ids=ids(7), conflicts=(conflict,))
    parents, after = settle_table(
        "organizations",
        found(update=(7, 8), unchanged=4),
        own,
        (6, 6),
        INCREMENTAL,
        Unwritten(),
        ANIMALS_TO_ORGANIZATIONS,
        held=ids(),
    )
    # The source's animals 70 and 71 point at organization 7 (what the planner's query finds).
    children, _ = settle_table(
        "animals",
        found(insert=(70,), update=(71, 72), unchanged=10),
        Ownership("animals", 12),
        (13, 12),
        INCREMENTAL,
        after,
        ANIMALS_TO_ORGANIZATIONS,
        held=ids(70, 71),
    )

    assert list(parents.settled.to_update) == [8]
    assert list(parents.unwritten) == [7]
    assert (list(children.settled.to_insert), list(children.settled.to_update)) == ([], [72])
    assert (children.held_count, children.waiting_for) == (2, ())
    assert would_do(parents, INCREMENTAL) == TableResult(
        "organizations",
        6,
        6,
        updated=1,
        unchanged=4,
        compared="tracked",
        site_rows=1,
        conflicts=1,
        conflict_rows=(conflict,),
    )
    assert would_do(children, INCREMENTAL).held_back == 2


def test_the_source_winning_a_conflict_writes_it():
    own = Ownership("organizations", 5, conflict_ids=ids(7))

    plan, after = settle_table(
        "organizations", found(unchanged=6), own, (6, 6), LOCAL_WINS, Unwritten(), [], held=ids()
    )

    assert (list(plan.settled.to_update), plan.settled.unchanged) == ([7], 5)
    assert list(after.rows["organizations"]) == []


def test_a_refused_table_writes_nothing_and_its_childrens_new_rows_wait_for_it():
    refusal = Refusal("organizations", "organizations: 3 rows missing", "3 rows missing", "fix")
    parents, after = settle_table(
        "organizations",
        found(insert=(9,), update=(2,), unchanged=4),
        Ownership("organizations", 8),
        (6, 8),
        INCREMENTAL,
        Unwritten(),
        ANIMALS_TO_ORGANIZATIONS,
        held=ids(),
        refusal=refusal,
    )
    children, _ = settle_table(
        "animals",
        found(insert=(90, 91), unchanged=10),
        Ownership("animals", 10),
        (12, 10),
        INCREMENTAL,
        after,
        ANIMALS_TO_ORGANIZATIONS,
        held=ids(90),
        waiting=ids(90),
    )

    assert (list(after.refused["organizations"]), list(after.stale["organizations"])) == (
        [9],
        [2],
    )
    assert refused_result(parents) == TableResult(
        "organizations", 6, 8, compared="tracked", refused="3 rows missing", refused_fix="fix"
    )
    assert would_do(parents, INCREMENTAL) == refused_result(parents)
    assert (list(children.settled.to_insert), children.waiting_for) == ([91], ("organizations",))
    assert would_do(children, INCREMENTAL).waiting_for == ("organizations",)


def test_rows_the_site_took_meanwhile_hold_back_more():
    plan, _ = settle_table(
        "animals",
        found(insert=(1, 2, 3), unchanged=5),
        Ownership("animals", 5),
        (8, 5),
        INCREMENTAL,
        Unwritten(),
        [],
        held=ids(1),
    )

    more = hold_back_more(plan, ids(2), INCREMENTAL)

    assert (list(plan.settled.to_insert), plan.held_count) == ([2, 3], 1)
    assert (list(more.settled.to_insert), more.held_count, list(more.unwritten)) == ([3], 2, [1, 2])
    assert hold_back_more(plan, ids(1), INCREMENTAL) is plan


def test_a_deleting_sync_deletes_only_the_rows_it_owns_unless_told_otherwise():
    own = Ownership("animals", 10, gone=ids(20, 21), site_only=ids(30))
    diff = found(target_only=(20, 21, 30), unchanged=8, method="full")

    plan, _ = settle_table("animals", diff, own, (8, 11), REBUILD, Unwritten(), [], held=ids())
    discarding = SyncOptions(
        batch_size=1000, mode="rebuild", confirm_destructive=True, discard_railway_rows=True
    )
    discard, _ = settle_table(
        "animals", diff, own, (8, 11), discarding, Unwritten(), [], held=ids()
    )

    assert list(plan.settled.railway_only) == [20, 21]
    assert list(discard.settled.railway_only) == [20, 21, 30]
    assert would_do(plan, REBUILD) == TableResult(
        "animals", 8, 11, unchanged=8, deleted=2, compared="full", site_rows=1
    )
    assert would_do(discard, discarding).site_rows == 0


def test_the_status_line_counts_what_differs_whoever_wrote_it():
    own = Ownership("animals", 9, gone=ids(50), site_only=ids(60), conflict_ids=ids(7))
    diff = found(insert=(3, 4), update=(5, 7), target_only=(50, 60), unchanged=6)
    plan, _ = settle_table("animals", diff, own, (10, 11), INCREMENTAL, Unwritten(), [], held=ids())

    assert summarise(plan, ("site_note",)) == TableStatus(
        table="animals",
        local_count=10,
        railway_count=11,
        missing_on_railway=2,
        differing=1,
        railway_only=1,
        compared="tracked",
        site_rows=2,
        conflicts=1,
        site_columns=("site_note",),
    )


def test_a_sync_plan_finds_its_tables_by_name_in_order():
    first, _ = settle_table(
        "organizations",
        found(),
        Ownership("organizations", 0),
        (0, 0),
        INCREMENTAL,
        Unwritten(),
        [],
        held=ids(),
    )
    second, _ = settle_table(
        "animals",
        found(),
        Ownership("animals", 0),
        (0, 0),
        INCREMENTAL,
        Unwritten(),
        [],
        held=ids(),
    )
    plan = SyncPlan((first, second), ("notice",))

    assert [table.table for table in plan] == ["organizations", "animals"]
    assert plan["animals"] is second


def test_rows_edited_on_the_target_are_overwritten_or_kept_as_asked():
    diff = found(update=(3, 4, 5), unchanged=5)
    own = Ownership("animals", 8)
    keep = SyncOptions(batch_size=1000, on_railway_edit="keep")

    overwrite, _ = settle_table(
        "animals",
        diff,
        own,
        (8, 8),
        INCREMENTAL,
        Unwritten(),
        [],
        held=ids(),
        target_edits=ids(4, 9),
    )
    kept, after = settle_table(
        "animals", diff, own, (8, 8), keep, Unwritten(), [], held=ids(), target_edits=ids(4, 9)
    )

    assert (list(overwrite.settled.to_update), list(overwrite.target_edits)) == ([3, 4, 5], [4])
    assert would_do(overwrite, INCREMENTAL).railway_edits == 1
    assert (list(kept.settled.to_update), kept.edits_kept) == ([3, 5], True)
    assert list(after.stale["animals"]) == [4]
    result = would_do(kept, keep)
    assert (result.railway_edits, result.railway_edits_kept, result.railway_edit_ids) == (
        0,
        1,
        (4,),
    )
