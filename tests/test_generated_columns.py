"""Generated columns in the sync path (issue 19, item 2): a ``GENERATED ALWAYS AS (...) STORED``
column is never written (Railway computes it) but is compared, to plan, to verify and in
``railway_status``; generated on one side and plain on the other is a schema difference.

The columns are made by SQL on both sides, as an adopted Railway has them;
``railway_makemigrations`` only records them in the migrations' state (a temporary package)."""

from __future__ import annotations

from tests.conftest import DB, execute, fetch, run, table_rows
from tests.helpers import FIX, without_timing

NAME_SEARCH = "ADD COLUMN name_search text GENERATED ALWAYS AS (lower(name)) STORED"
# NOT NULL too: a sync that staged every column would refuse each row.
NAME_KEY = "ADD COLUMN name_key text GENERATED ALWAYS AS (lower(name) || '-' || id) STORED NOT NULL"


def generated_columns(alias: str) -> list[tuple]:
    return fetch(
        alias,
        "SELECT attrelid::regclass::text, attname, attgenerated FROM pg_attribute "
        "WHERE attgenerated <> '' AND attrelid IN ('organizations'::regclass, 'animals'::regclass) "
        "ORDER BY 1, 2",
    )


def add_generated_columns(*aliases: str) -> None:
    for alias in aliases:
        execute(alias, f"ALTER TABLE organizations {NAME_SEARCH}")
        execute(alias, f"ALTER TABLE animals {NAME_KEY}")


@DB
def test_generated_columns_are_computed_by_railway_and_compared(seeded, migrations_package):  # noqa: F811
    add_generated_columns("default", "railway")
    assert run("railway_makemigrations")[2] == 0

    # Into empty tables (COPY): the generated columns are left to Railway.
    out, err, code = run("railway_sync")

    assert code == 0, err
    assert without_timing(out)[1:3] == [
        "  organizations: 6 inserted, 0 updated, 0 unchanged, 0 deleted",
        "  animals: 60 inserted, 0 updated, 0 unchanged, 0 deleted",
    ]
    assert generated_columns("railway") == [
        ("animals", "name_key", "s"),
        ("organizations", "name_search", "s"),
    ]
    for table in ("organizations", "animals"):
        assert table_rows("railway", table) == table_rows("default", table), table

    # Through the upsert (staging, INSERT ... ON CONFLICT ... IS DISTINCT FROM).
    execute("default", "UPDATE organizations SET name = 'Hunde HILFE' WHERE id = 2")
    execute("default", "UPDATE animals SET name = 'RENAMED' WHERE id = 3")
    execute(
        "default",
        "INSERT INTO organizations (id, name, website_url) VALUES (7, 'New ONE', 'https://7.e')",
    )

    out, err, code = run("railway_sync")

    assert code == 0, err
    assert without_timing(out)[1:3] == [
        "  organizations: 1 inserted, 1 updated, 5 unchanged, 0 deleted",
        "  animals: 0 inserted, 1 updated, 59 unchanged, 0 deleted",
    ]
    assert fetch(
        "railway", "SELECT name_search FROM organizations WHERE id IN (2, 7) ORDER BY id"
    ) == [
        ("hunde hilfe",),
        ("new one",),
    ]
    assert fetch("railway", "SELECT name_key FROM animals WHERE id = 3") == [("renamed-3",)]
    for table in ("organizations", "animals"):
        assert table_rows("railway", table) == table_rows("default", table), table
    out, err, code = run("railway_status", "--deep", "--check")
    assert code == 0, out + err
    assert "  organizations: 7 → 7 (✅ content matches)" in out.splitlines()

    # Compared: Railway computing another value is a difference status shows and a sync's
    # verification refuses (it cannot write the column to repair it).
    execute("railway", "ALTER TABLE organizations DROP COLUMN name_search")
    execute(
        "railway",
        "ALTER TABLE organizations ADD COLUMN name_search text "
        "GENERATED ALWAYS AS (upper(name)) STORED",
    )

    out, err, code = run("railway_status", "--deep")

    assert code == 0, err
    assert "  organizations: 7 → 7 (⚠ 7 differ)" in out.splitlines()

    out, err, code = run("railway_sync")

    assert code == 1
    assert err == (
        "❌ Railway data sync failed: Verification failed for organizations on Railway: 7 rows "
        "with different content; the transaction was rolled back. Run python manage.py "
        "railway_status --deep for details."
    )


@DB
def test_generated_on_one_side_and_plain_on_the_other_is_named_in_one_line(
    seeded,
    migrations_package,  # noqa: F811
):
    add_generated_columns("default", "railway")
    assert run("railway_makemigrations")[2] == 0
    assert run("railway_sync")[2] == 0
    before = table_rows("railway", "organizations")
    execute("railway", "ALTER TABLE organizations DROP COLUMN name_search")
    execute("railway", "ALTER TABLE organizations ADD COLUMN name_search text")
    execute("default", "UPDATE organizations SET name = 'Changed' WHERE id = 1")
    refusal = [
        f"Railway's columns differ from local in 1 place(s); nothing was written. Run: {FIX}",
        "  organizations.name_search: a generated column locally but a plain column on Railway",
    ]

    out, err, code = run("railway_sync")

    assert code == 1
    assert err.splitlines() == [f"❌ Railway data sync failed: {refusal[0]}", refusal[1]]
    assert table_rows("railway", "organizations") == [row[:-1] + (None,) for row in before]

    out, err, code = run("railway_status")

    # Not compared, so not "content matches", and it says so: exit 1, each line its own.
    assert code == 1
    assert err == (
        "❌ Railway status could not compare the rows: Railway's columns differ from local in "
        f"1 place(s). Run: {FIX}"
    )
    lines = out.splitlines()
    assert lines[0].startswith("✅ Railway connection successful")
    assert lines[-1].startswith("Last successful sync: ")
    assert lines[1:-1] == [
        "  organizations: 6 → 6 (not compared)",
        "  animals: 60 → 60 (not compared)",
        "  animal_images: 20 → 20 (not compared)",
        "  scrape_logs: 15 → 15 (not compared)",
        "  service_regions: 5 → 5 (not compared)",
        f"⚠ Railway's columns differ from local in 1 place(s). Run: {FIX}",
        refusal[1],
        f"Recommendation: Run: {FIX}",
    ]

    # The other way round: plain locally, generated on Railway (which would refuse values).
    for alias, definition in (
        ("default", "text"),
        ("railway", NAME_SEARCH[len("ADD COLUMN name_search ") :]),
    ):
        execute(alias, "ALTER TABLE organizations DROP COLUMN name_search")
        execute(alias, f"ALTER TABLE organizations ADD COLUMN name_search {definition}")

    out, err, code = run("railway_sync")

    assert code == 1
    assert err.splitlines()[1] == (
        "  organizations.name_search: a plain column locally but a generated column on Railway"
    )
