"""The schema follows the scrapers: a year of local schema changes replayed against a synced
pair, each closed by railway_makemigrations and railway_migrate; and a project with tables of
its own, synced through its settings alone."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.test import override_settings

from tests.conftest import (
    DB,
    DEFAULT_TABLES,
    database_url,
    execute,
    fetch,
    run,
    run_process,
    scalar,
)
from tests.helpers import FIX, columns

BEHIND = f"⚠ Railway's migrations are behind the local schema. Run: {FIX}"


def rows(alias: str, table: str) -> list[tuple]:
    key = "id" if table not in ("shelters", "dogs") else f"{table[:-1]}_id"
    return fetch(alias, f'SELECT * FROM "{table}" ORDER BY "{key}"')


def assert_same(tables: list[str]) -> None:
    for table in tables:
        assert columns("railway", table) == columns("default", table), table
        assert rows("railway", table) == rows("default", table), table


def close_the_gap(
    tables: list[str], expected_changes: list[str], deletes: str | None = None
) -> None:
    """--check exits 1 listing the changes; makemigrations, migrate and sync exit 0; both
    sides hold the same rows in every column; --check then exits 0. ``deletes``: what the
    migration drops that holds data, which railway_migrate refuses (changing nothing) until
    confirmed."""
    out, err, code = run("railway_makemigrations", "--check")
    assert (out.splitlines(), err, code) == (
        [
            f"{len(expected_changes)} change(s) to the local schema no Railway migration covers:",
            *[f"  - {change}" for change in expected_changes],
        ],
        BEHIND,
        1,
    )
    out, err, code = run("railway_makemigrations")
    assert code == 0, err
    assert (
        out.splitlines()[-1]
        == "✅ Review and commit it, then run: python manage.py railway_migrate"
    )
    written = out.splitlines()[0].split()[1]  # "Wrote railway_schema.0001_animals (...):"
    out, err, code = run("migrate", "railway_schema", "--plan", "--database", "railway")
    assert code == 0, err
    assert out.splitlines()[:2] == ["Planned operations:", written]
    confirm = ()
    if deletes:
        schema = (
            columns("railway", "animals"),
            fetch(
                "railway", "SELECT to_regclass(t)::text FROM unnest(%s::text[]) t", [DEFAULT_TABLES]
            ),
        )
        out, err, code = run("railway_migrate")
        assert (err, code) == (
            "❌ Railway database migration failed: Refused: the migrations would delete data "
            f"on Railway ({written} drops {deletes}). Nothing was changed. If local dropped "
            "them on purpose, run: python manage.py railway_migrate --confirm-destructive (to "
            "keep a column instead, add it to RAILWAY_SYNC_EXCLUDE_COLUMNS, delete that "
            "migration and run railway_makemigrations again).",
            1,
        )
        assert (
            columns("railway", "animals"),
            fetch(
                "railway", "SELECT to_regclass(t)::text FROM unnest(%s::text[]) t", [DEFAULT_TABLES]
            ),
        ) == schema
        confirm = ("--confirm-destructive",)
    out, err, code = run("railway_migrate", *confirm)
    assert code == 0, err
    assert f"  Applied {written}" in out.splitlines()
    out, err, code = run("railway_sync")
    assert code == 0, err
    assert_same(tables)
    assert run("railway_makemigrations", "--check") == (
        "No changes: Railway's migrations match the local schema.\n",
        "",
        0,
    )


def assert_sync_refuses(first_line: str) -> None:
    out, err, code = run("railway_sync")
    assert code == 1
    assert err.splitlines()[0] == f"❌ Railway data sync failed: {first_line}"


DRIFT = "Railway's columns differ from local in {} place(s); nothing was written. Run: " + FIX
UNCOVERED = (
    "The local schema has {} change(s) no Railway migration covers ({}); nothing was written. "
    "Run: " + FIX
)


@DB
def test_a_year_of_scraper_schema_changes_replays_step_by_step(seeded, migrations_package):
    _, folder = migrations_package
    assert run("railway_sync")[2] == 0
    assert run("railway_makemigrations", "--check")[2] == 0

    # Enrichment: JSONB columns (one with a default) and a breed detail column.
    execute(
        "default",
        "ALTER TABLE animals ADD COLUMN dog_profiler_data JSONB DEFAULT '{}', "
        "ADD COLUMN translations JSONB, ADD COLUMN breed_confidence VARCHAR(50)",
    )
    execute(
        "default",
        """UPDATE animals SET translations = '{"de": {"name": "Bello"}}',
           breed_confidence = '0.85' WHERE id % 3 = 0""",
    )
    assert_sync_refuses(DRIFT.format(3))
    close_the_gap(
        DEFAULT_TABLES,
        [
            "Add column animals.dog_profiler_data (jsonb)",
            "Add column animals.translations (jsonb)",
            "Add column animals.breed_confidence (character varying(50))",
        ],
    )
    assert scalar("railway", "SELECT dog_profiler_data::text FROM animals WHERE id = 1") == "{}"

    # A year later the varchar becomes NUMERIC(3,2), with a cast.
    execute(
        "default",
        "ALTER TABLE animals ALTER COLUMN breed_confidence TYPE NUMERIC(3,2) "
        "USING breed_confidence::numeric(3,2)",
    )
    assert_sync_refuses(DRIFT.format(1))
    close_the_gap(
        DEFAULT_TABLES,
        ["Retype animals.breed_confidence from character varying(50) to numeric(3,2)"],
    )

    # A column dropped.
    execute("default", "ALTER TABLE animals DROP COLUMN source_last_updated")
    assert_sync_refuses(DRIFT.format(1))
    values = scalar("railway", "SELECT count(source_last_updated) FROM animals")
    close_the_gap(
        DEFAULT_TABLES,
        ["Drop column animals.source_last_updated"],
        deletes=f"column animals.source_last_updated ({values} values)",
    )

    # A CHECK constraint on status, after old values were rewritten.
    execute("default", "UPDATE animals SET status = 'unknown' WHERE status IS NULL")
    execute(
        "default",
        "ALTER TABLE animals ADD CONSTRAINT animals_status_check "
        "CHECK (status IN ('available', 'unknown', 'adopted', 'reserved'))",
    )
    definition = scalar(
        "default",
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'animals_status_check'",
    )
    added = f"Add constraint animals_status_check on animals: {definition}"
    assert_sync_refuses(UNCOVERED.format(1, added))
    out, err, code = run("railway_status", "--check")
    assert code == 1
    # railway_status never writes, so never says what was not written (issue 19).
    uncovered = UNCOVERED.format(1, added).replace("; nothing was written", "")
    assert f"⚠ {uncovered}" in out.splitlines()
    assert err == f"❌ Railway status could not compare the rows: {uncovered}"
    assert f"Recommendation: Run: {FIX}" in out.splitlines()
    close_the_gap(DEFAULT_TABLES, [added])
    assert fetch(
        "railway",
        "SELECT conname, contype FROM pg_constraint WHERE conname = 'animals_status_check'",
    ) == [("animals_status_check", "c")]

    # animal_images dropped locally and from RAILWAY_SYNC_TABLES.
    without_images = [t for t in DEFAULT_TABLES if t != "animal_images"]
    execute("default", "DROP TABLE animal_images")
    with override_settings(RAILWAY_SYNC_TABLES=",".join(without_images)):
        assert_sync_refuses(UNCOVERED.format(1, "Drop table animal_images"))
        rows_there = scalar("railway", "SELECT count(*) FROM animal_images")
        close_the_gap(
            without_images,
            ["Drop table animal_images"],
            deletes=f"table animal_images ({rows_there} rows)",
        )
    assert scalar("railway", "SELECT to_regclass('animal_images')") is None

    # A new table keyed by animal, then a unique key on it.
    tables = [*without_images, "photo_analysis"]
    execute(
        "default",
        """CREATE TABLE photo_analysis (
            id BIGSERIAL PRIMARY KEY,
            animal_id INTEGER NOT NULL REFERENCES animals(id) ON DELETE CASCADE,
            analysis JSONB NOT NULL DEFAULT '{}',
            score NUMERIC(4,3),
            created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
        )""",
    )
    execute(
        "default",
        """INSERT INTO photo_analysis (animal_id, analysis, score)
           SELECT id, jsonb_build_object('quality', id), id / 100.0 FROM animals WHERE id <= 9""",
    )
    with override_settings(RAILWAY_SYNC_TABLES=",".join(tables)):
        assert_sync_refuses(f"Railway has no table photo_analysis. Run: {FIX}")
        close_the_gap(
            tables,
            ["Create table photo_analysis", "Add the foreign keys of photo_analysis"],
        )
        execute(
            "default",
            "ALTER TABLE photo_analysis ADD CONSTRAINT photo_analysis_animal_id_key "
            "UNIQUE (animal_id)",
        )
        unique = "Add constraint photo_analysis_animal_id_key on photo_analysis: UNIQUE (animal_id)"
        assert_sync_refuses(UNCOVERED.format(1, unique))
        close_the_gap(
            tables,
            ["Add constraint photo_analysis_animal_id_key on photo_analysis: UNIQUE (animal_id)"],
        )
        # The site's own inserts on Railway get ids past the synced ones: in the site's id
        # range (RAILWAY_SYNC_SITE_ID_START, issue 10), also for a table added later.
        execute("railway", "INSERT INTO photo_analysis (animal_id) VALUES (10)")
        assert scalar("railway", "SELECT max(id) FROM photo_analysis") == 1_000_000_000

    written = sorted(path.name for path in folder.glob("0*.py"))
    assert written == [
        "0001_animals.py",
        "0002_animals.py",
        "0003_animals.py",
        "0004_animals.py",
        "0005_animal_images.py",
        "0006_photo_analysis.py",
        "0007_photo_analysis.py",
    ]
    # Real Django migrations: showmigrations and sqlmigrate read them.
    out, err, code = run("showmigrations", "railway_schema", "--database", "railway")
    assert (out.splitlines(), code) == (
        ["railway_schema", *[f" [X] {name[:-3]}" for name in written]],
        0,
    )
    out, err, code = run("sqlmigrate", "railway_schema", "0003_animals", "--database", "railway")
    assert code == 0, err
    assert 'ALTER TABLE "animals" DROP COLUMN IF EXISTS "source_last_updated";' in out.splitlines()


@DB
def test_a_column_the_site_added_on_railway_is_never_dropped(seeded, migrations_package):
    assert run("railway_sync")[2] == 0
    execute("railway", "ALTER TABLE animals ADD COLUMN site_notes TEXT")
    execute("default", "ALTER TABLE animals ADD COLUMN slug_raw TEXT")

    out, err, code = run("railway_makemigrations", "--dry-run")

    assert (out.splitlines(), err, code) == (
        [
            f"Would write railway_schema.0001_animals ({migrations_package[1]}/0001_animals.py):",
            "  - Add column animals.slug_raw (text)",
            'ALTER TABLE "animals" ADD COLUMN "slug_raw" text;',
            "Dry run: no file was written.",
        ],
        "",
        0,
    )
    assert list(migrations_package[1].glob("0*.py")) == []
    assert run("railway_makemigrations")[2] == 0
    assert run("railway_migrate")[2] == 0
    assert [c[0] for c in columns("railway", "animals")][-2:] == ["site_notes", "slug_raw"]


@DB
def test_a_retype_railway_data_cannot_take_fails_atomically_naming_the_value(
    seeded, migrations_package
):
    execute("default", "ALTER TABLE animals ADD COLUMN breed_confidence VARCHAR(50)")
    execute("default", "UPDATE animals SET breed_confidence = '0.5'")
    execute("default", "ALTER TABLE animals ADD COLUMN adoption_checked_at TIMESTAMP")
    assert run("railway_makemigrations")[2] == 0
    assert run("railway_migrate")[2] == 0
    assert run("railway_sync")[2] == 0
    # An operator's fix on Railway that is not a number.
    execute("railway", "UPDATE animals SET breed_confidence = 'high' WHERE id = 7")
    execute(
        "default",
        "ALTER TABLE animals ALTER COLUMN breed_confidence TYPE NUMERIC(3,2) "
        "USING breed_confidence::numeric(3,2), ADD COLUMN llm_log JSONB",
    )
    assert run("railway_makemigrations")[2] == 0
    before = columns("railway", "animals")

    out, err, code = run("railway_migrate")

    assert code == 1
    assert err.splitlines() == [
        "❌ Railway database migration failed: railway_schema.0002_animals, step 1 of 3 "
        "(Retype animals.breed_confidence from character varying(50) to numeric(3,2)) failed "
        "on Railway: Railway cannot retype animals.breed_confidence from character varying(50) "
        "to numeric(3,2): the value 'high' does not cast (invalid input syntax for type "
        'numeric: "high"). Fix that value (locally, then sync; or on Railway), then run '
        "railway_migrate again. Railway's schema was left as it was."
    ]
    assert columns("railway", "animals") == before
    assert fetch(
        "railway", "SELECT name FROM django_migrations WHERE app = 'railway_schema' ORDER BY 1"
    ) == [("0001_animals",)]


OWN_SCHEMA = """
CREATE TABLE shelters (
    shelter_id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    api_token TEXT
);
CREATE TABLE dogs (
    dog_id SERIAL PRIMARY KEY,
    shelter INTEGER NOT NULL REFERENCES shelters (shelter_id),
    name VARCHAR(80) NOT NULL,
    traits JSONB DEFAULT '[]'
);
INSERT INTO shelters (name, api_token) VALUES ('North', 's3cret'), ('South', 'x');
INSERT INTO dogs (shelter, name, traits) VALUES (1, 'Rex', '["calm"]'), (2, 'Bo', '[]'), (1, 'Ty', NULL);
"""


@DB
def test_a_project_with_tables_of_its_own_syncs_through_its_settings_alone(
    clean, migrations_package
):
    name, folder = migrations_package
    execute("default", OWN_SCHEMA)
    env = {
        "DATABASE_URL": database_url("default"),
        "RAILWAY_DATABASE_URL": database_url("railway"),
        "RAILWAY_SYNC_TABLES": "dogs, shelters",
        "RAILWAY_SYNC_EXCLUDE_COLUMNS": "shelters.api_token",
        "RAILWAY_SYNC_MIGRATIONS_MODULE": name,
        "PYTHONPATH": str(folder.parent),
    }

    out, err, code = run_process("railway_makemigrations", env=env)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"Wrote railway_schema.0001_shelters_dogs ({folder}/0001_shelters_dogs.py):",
        "  - Create table shelters",
        "  - Create table dogs",
        "  - Add the foreign keys of dogs",
        "✅ Review and commit it, then run: python manage.py railway_migrate",
    ]
    for command in ("railway_migrate", "railway_sync"):
        out, err, code = run_process(command, env=env)
        assert code == 0, err

    assert [c[0] for c in columns("railway", "shelters")] == ["shelter_id", "name"]
    assert fetch("railway", "SELECT * FROM shelters ORDER BY 1") == fetch(
        "default", "SELECT shelter_id, name FROM shelters ORDER BY 1"
    )
    assert rows("railway", "dogs") == rows("default", "dogs")
    # The scrapers' five tables, not configured but still local, are left alone on Railway.
    assert scalar("railway", "SELECT to_regclass('animals') IS NOT NULL")
    out, err, code = run_process("railway_makemigrations", "--check", env=env)
    assert (out, code) == ("No changes: Railway's migrations match the local schema.\n", 0)
    out, err, code = run_process("railway_status", env=env)
    assert code == 0, out + err

    # A routine sync after edits on both sides: change tracking, by the tables' own keys.
    execute("default", "UPDATE dogs SET name = 'Rexy' WHERE dog_id = 1")
    execute("default", "INSERT INTO dogs (shelter, name) VALUES (2, 'New')")
    execute("railway", "UPDATE dogs SET traits = '[\"edited\"]' WHERE dog_id = 2")
    for args in (("railway_sync",), ("railway_sync", "--prune"), ("railway_status", "--deep")):
        out, err, code = run_process(*args, env=env)
        assert code == 0, out + err
    assert rows("railway", "dogs") == rows("default", "dogs")
    # Moved by the table's own key (dog_id) into the site's id range (issue 10).
    assert scalar("railway", "SELECT nextval('dogs_dog_id_seq')") == 1_000_000_000


@DB
def test_ownership_works_by_the_tables_own_keys(clean, migrations_package):
    """Issue 10's ownership on issue 11's tables: keys named shelter_id and dog_id, a foreign
    key to a non-"id" column, an identity column; the site's rows, a conflict, a site row
    pointing at a row local deleted."""
    execute("default", OWN_SCHEMA)
    own = override_settings(
        RAILWAY_SYNC_TABLES="dogs,shelters", RAILWAY_SYNC_EXCLUDE_COLUMNS="shelters.api_token"
    )
    with own:
        for command in ("railway_makemigrations", "railway_migrate", "railway_sync"):
            out, err, code = run(command)
            assert code == 0, out + err
        # The site inserts through Railway's sequences (moved into its own range) and writes
        # a dog at an id local then also uses: a conflict.
        execute("railway", "INSERT INTO shelters (name) VALUES ('Site shelter')")
        execute("railway", "INSERT INTO dogs (shelter, name) VALUES (2, 'Site pup')")
        execute("railway", "INSERT INTO dogs (dog_id, shelter, name) VALUES (4, 1, 'Site dog')")
        execute("default", "INSERT INTO dogs (dog_id, shelter, name) VALUES (4, 2, 'Local dog')")
        site = 1_000_000_000
        assert fetch("railway", "SELECT max(shelter_id) FROM shelters") == [(site,)]

        out, err, code = run("railway_sync", "--format", "json")
        document = json.loads(out)
        assert (code, document["outcome"]) == (1, "conflicts"), out + err
        shelters, dogs = document["tables"]
        assert (shelters["table"], shelters["site_rows"], shelters["conflicts"]) == (
            "shelters",
            1,
            0,
        )
        assert (dogs["table"], dogs["site_rows"], dogs["conflicts"]) == ("dogs", 2, 1)
        assert dogs["conflict_rows"] == [
            {"id": 4, "local": {"name": "Local dog"}, "railway": {"name": "Site dog"}}
        ]
        assert fetch("railway", "SELECT name FROM dogs WHERE dog_id = 4") == [("Site dog",)]

        # Local deletes shelter 2 (and its dog); the site's pup still points at it.
        execute("default", "DELETE FROM dogs WHERE shelter = 2 AND dog_id <> 4")
        execute("default", "UPDATE dogs SET shelter = 1 WHERE dog_id = 4")
        execute("default", "DELETE FROM shelters WHERE shelter_id = 2")
        before = rows("railway", "dogs"), rows("railway", "shelters")
        out, err, code = run("railway_sync", "--prune", "--confirm-destructive")
        assert code == 1
        assert f"dogs {site} (the site's) points at shelters 2, which local deleted" in err
        assert (rows("railway", "dogs"), rows("railway", "shelters")) == before

        execute("railway", f"DELETE FROM dogs WHERE dog_id = {site}")
        out, err, code = run(
            "railway_sync", "--prune", "--confirm-destructive", "--on-conflict", "local"
        )
        assert code == 0, out + err
        assert rows("railway", "dogs") == rows("default", "dogs")
        assert fetch("railway", "SELECT shelter_id, name FROM shelters ORDER BY 1") == [
            *fetch("default", "SELECT shelter_id, name FROM shelters ORDER BY 1"),
            (site, "Site shelter"),
        ]
        out, err, code = run("railway_status", "--check")
        assert code == 0, out + err


@pytest.fixture
def scratch_tables(clean) -> Iterator[None]:
    try:
        yield
    finally:
        execute("default", "DROP TABLE IF EXISTS tags, pairs, cycle_a, cycle_b CASCADE")


def sync_error(tables: str) -> tuple[str, int]:
    with override_settings(RAILWAY_SYNC_TABLES=tables):
        out, err, code = run("railway_sync")
    return err, code


@DB
def test_tables_the_sync_cannot_carry_are_refused_in_one_line(scratch_tables):
    execute("default", "CREATE TABLE tags (code TEXT PRIMARY KEY)")
    execute("default", "CREATE TABLE pairs (a INTEGER, b INTEGER, PRIMARY KEY (a, b))")
    execute("default", "CREATE TABLE cycle_a (id SERIAL PRIMARY KEY, b_id INTEGER)")
    execute(
        "default",
        "CREATE TABLE cycle_b (id SERIAL PRIMARY KEY, a_id INTEGER REFERENCES cycle_a (id))",
    )
    execute("default", "ALTER TABLE cycle_a ADD FOREIGN KEY (b_id) REFERENCES cycle_b (id)")
    failed = "❌ Railway data sync failed: "
    fix = "railway_sync needs a single integer or bigint primary key column. Add one, or "
    assert sync_error("animals,adopters") == (
        f"{failed}The local database has no table adopters. Check DATABASE_URL points at the "
        "scrapers' database, or RAILWAY_SYNC_TABLES.",
        1,
    )
    assert sync_error("tags") == (
        f"{failed}tags has primary key (code text); {fix}remove the table from "
        "RAILWAY_SYNC_TABLES.",
        1,
    )
    assert sync_error("pairs") == (
        f"{failed}pairs has primary key (a integer, b integer); {fix}remove the table from "
        "RAILWAY_SYNC_TABLES.",
        1,
    )
    assert sync_error("cycle_a,cycle_b") == (
        f"{failed}RAILWAY_SYNC_TABLES: the foreign keys between cycle_a, cycle_b form a cycle, "
        "so no table can be written first. Sync them separately, or leave one of them out of "
        "RAILWAY_SYNC_TABLES.",
        1,
    )


@DB
def test_excluded_columns_are_never_read_written_or_dropped(seeded, migrations_package):
    assert run("railway_sync")[2] == 0
    execute("railway", """UPDATE animals SET properties = '{"site": 1}' WHERE id = 2""")
    execute(
        "default", """UPDATE animals SET properties = '{"local": 1}', name = 'N' WHERE id = 1"""
    )
    before = fetch("railway", "SELECT id, properties::text FROM animals ORDER BY id")

    with override_settings(RAILWAY_SYNC_EXCLUDE_COLUMNS="animals.properties"):
        assert run("railway_sync")[2] == 0
        # Railway's copy of an excluded column is not synced: status lists it with the
        # site's columns (issue 10's site_columns).
        out, err, code = run("railway_status", "--format", "json")
        assert code == 0, out + err
        assert [t["site_columns"] for t in json.loads(out)["tables"]][1] == ["properties"]
        assert run("railway_makemigrations", "--check") == (
            "No changes: Railway's migrations match the local schema.\n",
            "",
            0,
        )

    assert fetch("railway", "SELECT id, properties::text FROM animals ORDER BY id") == before
    assert scalar("railway", "SELECT name FROM animals WHERE id = 1") == "N"


@DB
def test_makemigrations_without_a_project_folder_names_the_setting(scratch_tables):
    execute("default", "ALTER TABLE animals ADD COLUMN breed_slug TEXT")
    try:
        with override_settings(MIGRATION_MODULES={}):
            out, err, code = run("railway_makemigrations")
    finally:
        execute("default", "ALTER TABLE animals DROP COLUMN breed_slug")

    assert (out, err, code) == (
        "",
        '❌ Railway makemigrations failed: MIGRATION_MODULES has no "railway_schema" entry, '
        "so there is no folder to write Railway's migrations to. Add MIGRATION_MODULES = "
        '{"railway_schema": "yourproject.railway_migrations"} to settings.',
        1,
    )
