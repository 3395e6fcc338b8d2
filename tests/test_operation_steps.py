"""How each migration step decides against Railway's shape: pure functions (shape in,
decision out), so these need no database. What Railway is asked beyond its shape (meaning,
counts, extensions) comes from a stand-in that answers from plain data."""

from __future__ import annotations

from railway_sync.operations import (
    AddColumn,
    AddConstraint,
    AddIndex,
    AlterType,
    CreateExtension,
    DropColumn,
    Step,
)
from railway_sync.schema.catalog import Shape


class Answers:
    """Railway's answers: definitions equal when their texts are, counts from a dict."""

    def __init__(self, values: dict[tuple[str, str], int] | None = None) -> None:
        self._values = values or {}

    def same_constraint(self, table: str, first: str, second: str) -> bool:
        return first == second

    def same_index(self, table: str, first: str, second: str) -> bool:
        return first.split(" ON ")[1] == second.split(" ON ")[1]

    def same_default(self, first: str | None, second: str | None) -> bool:
        return first == second

    def same_generated(self, table: str, first: str | None, second: str | None) -> bool:
        return first == second

    def values(self, table: str, column: str) -> int:
        return self._values.get((table, column), 0)

    def rows(self, table: str) -> int:
        return 0

    def cannot_create_extension(self, name: str) -> str | None:
        return None if name == "citext" else "it is not installed on Railway's PostgreSQL 15"


def railway(columns: list[list], constraints: dict | None = None, indexes: dict | None = None):
    return Shape(
        {
            "animals": {
                "columns": columns,
                "constraints": constraints or {},
                "indexes": indexes or {},
            }
        }
    )


BREED = ["breed_raw", "character varying(255)", False, None]


def test_a_column_railway_already_has_is_adopted_and_one_of_another_type_conflicts():
    assert AddColumn("animals", BREED).step(railway([BREED]), Answers()) == Step("adopted")
    found = ["breed_raw", "text", False, None]
    step = AddColumn("animals", BREED).step(railway([found]), Answers())
    assert step == Step(
        "conflict",
        detail="animals.breed_raw is text on Railway but character varying(255) locally; make "
        'them the same (on Railway: ALTER TABLE "animals" ALTER COLUMN "breed_raw" TYPE '
        "character varying(255); or locally), then run python manage.py railway_migrate again",
    )
    assert AddColumn("animals", BREED).step(railway([]), Answers()) == Step(
        "run", ('ALTER TABLE "animals" ADD COLUMN "breed_raw" character varying(255)',)
    )


def test_dropping_a_column_is_destructive_only_when_it_holds_values():
    column = ["notes", "text", False, None]
    drop = 'ALTER TABLE "animals" DROP COLUMN IF EXISTS "notes"'
    assert DropColumn("animals", column).step(railway([column]), Answers()) == Step("run", (drop,))
    held = Answers({("animals", "notes"): 10})
    assert DropColumn("animals", column).step(railway([column]), held) == Step(
        "destructive", (drop,), "column animals.notes (10 values)"
    )
    assert DropColumn("animals", column).step(railway([]), held) == Step("adopted")


def test_a_constraint_or_index_under_another_name_is_renamed():
    check = "CHECK ((age >= 0))"
    shape = railway([], constraints={"ck_age": check})
    assert AddConstraint("animals", "animals_age_check", check).step(shape, Answers()) == Step(
        "run", ('ALTER TABLE "animals" RENAME CONSTRAINT "ck_age" TO "animals_age_check"',)
    )
    index = "CREATE INDEX idx_animals_breed ON animals USING btree (breed)"
    shape = railway(
        [], indexes={"ix_breed": "CREATE INDEX ix_breed ON animals USING btree (breed)"}
    )
    assert AddIndex("animals", "idx_animals_breed", index).step(shape, Answers()) == Step(
        "run", ('ALTER INDEX "ix_breed" RENAME TO "idx_animals_breed"',)
    )


def test_a_unique_key_not_checked_at_commit_is_replaced_by_one_that_is():
    shape = railway([], constraints={"animals_slug_key": "UNIQUE (slug)"})
    step = AddConstraint("animals", "animals_slug_key", "UNIQUE (slug)").step(shape, Answers())
    assert step == Step(
        "run",
        (
            'ALTER TABLE "animals" DROP CONSTRAINT IF EXISTS "animals_slug_key"',
            'ALTER TABLE "animals" ADD CONSTRAINT "animals_slug_key" UNIQUE (slug) DEFERRABLE '
            "INITIALLY DEFERRED",
        ),
    )


def test_enum_labels_local_added_go_where_local_has_them():
    old = {"kind": "enum", "labels": ["listed", "reserved", "adopted"]}
    new = {"kind": "enum", "labels": ["draft", "listed", "reserved", "returned", "adopted"]}
    shape = Shape({}, types={"stage": dict(old)})
    assert AlterType("stage", old, new).step(shape, Answers()) == Step(
        "run",
        (
            """ALTER TYPE "stage" ADD VALUE IF NOT EXISTS 'draft' BEFORE 'listed'""",
            """ALTER TYPE "stage" ADD VALUE IF NOT EXISTS 'returned' AFTER 'reserved'""",
        ),
    )
    shape.types["stage"] = dict(new)
    assert AlterType("stage", old, new).step(shape, Answers()) == Step("adopted")


def test_an_extension_is_created_installed_or_refused_with_the_reason():
    assert CreateExtension("citext").step(Shape({}, extensions=["citext"]), Answers()) == Step(
        "adopted"
    )
    assert CreateExtension("citext").step(Shape({}), Answers()).outcome == "run"
    refused = CreateExtension("postgis").step(Shape({}), Answers())
    assert (refused.outcome, refused.detail.split(", which")[0]) == (
        "conflict",
        "Railway cannot create extension postgis (it is not installed on Railway's PostgreSQL 15)",
    )
