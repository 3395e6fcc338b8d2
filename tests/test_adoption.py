"""Adopting the Railway the first users really have (issue 19): their schema as it stands
today locally (four tables, animals with 40 columns), and a production Railway made and
evolved by another tool (an ``alembic_version`` table, a table and a column the scrapers
dropped since), holding every row."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from railway_sync import sample
from tests.conftest import (
    DB,
    DEFAULT_TABLES,
    execute,
    fetch,
    reset_both,
    run,
    scalar,
    unmigrate_railway,
)
from tests.helpers import FIX, columns, create_today_tables

TODAY = ",".join(sample.TODAY_TABLES)

# What production holds beside the synced tables: Alembic's bookkeeping, and animal_images,
# which the scrapers dropped locally in 2026-02.
ANOTHER_TOOL = """
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
INSERT INTO alembic_version VALUES ('8f2a1c9d4e7b');
ALTER TABLE animals ADD COLUMN source_last_updated TIMESTAMP;
UPDATE animals SET source_last_updated = '2026-01-02 03:04:05' WHERE id <= 10;
CREATE TABLE animal_images (
    id SERIAL PRIMARY KEY,
    animal_id INTEGER NOT NULL REFERENCES animals(id) ON DELETE CASCADE,
    image_url TEXT NOT NULL
);
INSERT INTO animal_images (animal_id, image_url)
SELECT id, 'https://img.example.org/' || id || '.jpg' FROM animals WHERE id <= 20;
"""


def everything(alias: str) -> dict[str, list[tuple]]:
    """Every row of the four tables, and of the other tool's tables where they exist."""
    found = {}
    for table in [*sample.TODAY_TABLES, "alembic_version", "animal_images"]:
        if scalar(alias, "SELECT to_regclass(%s) IS NOT NULL", [table]):
            key = "version_num" if table == "alembic_version" else "id"
            found[table] = fetch(alias, f"SELECT * FROM {table} ORDER BY {key}")
    return found


@pytest.fixture
def adopted(migrations_package) -> Iterator[tuple[str, Path]]:
    """Local: today's schema and rows. Railway: the same tables and rows, made by SQL the
    way another tool made production, never by railway_sync; no railway_sync migration."""
    unmigrate_railway()
    for alias in ("default", "railway"):
        create_today_tables(alias, organizations=6, animals=60)
    execute("railway", ANOTHER_TOOL)
    try:
        with override_settings(RAILWAY_SYNC_TABLES=TODAY):
            yield migrations_package
    finally:
        execute("railway", "DROP TABLE IF EXISTS alembic_version, animal_images CASCADE")
        reset_both()


@DB
def test_an_existing_railway_is_adopted_step_by_step_and_nothing_is_dropped_unasked(adopted):
    _, folder = adopted
    before = everything("railway")

    # railway_sync's own migrations: the guide's tables exist, so none is created or changed;
    # animal_images is not configured, so it is not touched either.
    out, err, code = run("railway_migrate")
    assert (err, code) == ("", 0)
    assert everything("railway") == before

    out, err, code = run("railway_makemigrations")
    assert code == 0, err
    written = out.splitlines()[0].split()[1]
    steps = len(out.splitlines()) - 2
    assert "  - Drop column animals.source_last_updated" in out.splitlines()

    # The drop holds data on Railway: refused, naming it, until confirmed; nothing changes.
    out, err, code = run("railway_migrate", "--dry-run")
    assert code == 1
    assert out.splitlines()[:2] == [
        "Would apply 1 migration(s) to Railway:",
        f"  {written}: {steps - 1} of {steps} steps already on Railway; would delete column "
        "animals.source_last_updated (10 values)",
    ]
    assert out.splitlines()[2:] == [
        "SQL that would run:",
        'ALTER TABLE "animals" DROP COLUMN IF EXISTS "source_last_updated";',
        "Dry run: nothing was changed on Railway.",
    ]
    assert err == (
        "⚠ railway_migrate would refuse: the migrations would delete data on Railway "
        f"({written} drops column animals.source_last_updated (10 values)). If local dropped "
        "them on purpose, run: python manage.py railway_migrate --confirm-destructive"
    )
    out, err, code = run("railway_migrate")
    assert (code, err.startswith("❌ Railway database migration failed: Refused:")) == (1, True)
    assert everything("railway") == before

    out, err, code = run("railway_migrate", "--confirm-destructive")
    assert (err, code) == ("", 0)
    assert out.splitlines() == [
        "🚀 Running Railway database migration...",
        f"  Applied {written} ({steps - 1} of {steps} steps already on Railway: recorded "
        "without running)",
        "✅ Railway database migration completed successfully",
    ]
    assert "source_last_updated" not in [c[0] for c in columns("railway", "animals")]
    assert columns("railway", "animals") == columns("default", "animals")
    # Railway's other tables are never touched.
    after = everything("railway")
    assert after["alembic_version"] == before["alembic_version"]
    assert after["animal_images"] == before["animal_images"]

    assert run("railway_makemigrations", "--check") == (
        "No changes: Railway's migrations match the local schema.\n",
        "",
        0,
    )
    # The rows are already equal: the first sync writes nothing.
    out, err, code = run("railway_sync")
    assert (err, code) == ("", 0)
    assert re.sub(r"\d+\.\d+ s", "<t> s", out).splitlines() == [
        "🚀 Starting Railway data sync...",
        "⚠ No earlier sync of this table is recorded: compared every row",
        *[f"  {table}: up to date, 0 rows written (<t> s)" for table in sample.TODAY_TABLES],
        "Verified: every local row is on Railway with identical content.",
        "✅ Railway data sync completed successfully (0 rows written in <t> s)",
    ]
    assert everything("railway") == {
        **everything("default"),
        "alembic_version": before["alembic_version"],
        "animal_images": before["animal_images"],
    }
    assert sorted(p.name for p in folder.glob("0*.py")) == [f"{written.split('.')[1]}.py"]


@DB
def test_a_real_conflict_is_one_line_naming_both_definitions_and_nothing_changes(adopted):
    # Production's own drift: a column of another type, a CHECK with another list.
    execute("railway", "ALTER TABLE animals ALTER COLUMN breed_raw TYPE text")
    execute("railway", "ALTER TABLE animals DROP CONSTRAINT animals_status_check")
    execute(
        "railway",
        "ALTER TABLE animals ADD CONSTRAINT animals_status_check "
        "CHECK (status IN ('available', 'unknown', 'adopted', 'reserved', 'archived'))",
    )
    assert run("railway_migrate")[2] == 0
    out, err, code = run("railway_makemigrations")
    assert code == 0, err
    written = out.splitlines()[0].split()[1]
    railway_check = scalar(
        "railway",
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'animals_status_check'",
    )
    local_check = scalar(
        "default",
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'animals_status_check'",
    )
    before = everything("railway"), columns("railway", "animals")

    out, err, code = run("railway_migrate", "--confirm-destructive")

    recorded = fetch("railway", "SELECT 1 FROM django_migrations WHERE app = 'railway_schema'")
    assert (code, recorded) == (1, [])
    assert err.splitlines() == [
        "❌ Railway database migration failed: The migrations do not fit Railway as it is "
        f"({written}: animals.breed_raw is text on Railway but "
        "character varying(255) locally; make them the same (on Railway: ALTER TABLE "
        '"animals" ALTER COLUMN "breed_raw" TYPE character varying(255); or locally), then run '
        f"python manage.py railway_migrate again; {written}: constraint "
        f"animals_status_check on animals is {railway_check} on Railway but {local_check} "
        'locally; drop or change it on Railway (ALTER TABLE "animals" DROP CONSTRAINT '
        '"animals_status_check"), then run python manage.py railway_migrate again). Nothing '
        "was changed."
    ]
    assert (everything("railway"), columns("railway", "animals")) == before


OWN = """
CREATE TABLE shelters (id SERIAL PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE dogs (id SERIAL PRIMARY KEY, shelter_id INTEGER REFERENCES shelters(id), name TEXT);
INSERT INTO shelters (name) VALUES ('North'), ('South');
INSERT INTO dogs (shelter_id, name) VALUES (1, 'Rex'), (2, 'Bo');
"""


@DB
def test_a_team_syncing_only_its_own_tables_never_creates_or_drops_the_guides(
    clean, migrations_package
):
    unmigrate_railway()
    execute("default", OWN)
    guide_tables = "SELECT count(*) FROM unnest(%s::text[]) t WHERE to_regclass(t) IS NOT NULL"
    try:
        with override_settings(RAILWAY_SYNC_TABLES="dogs,shelters"):
            for command in ("railway_migrate", "railway_makemigrations", "railway_migrate"):
                out, err, code = run(command)
                assert (err, code) == ("", 0), command
                assert scalar("railway", guide_tables, [DEFAULT_TABLES]) == 0
            assert run("railway_sync")[2] == 0
            assert fetch("railway", "SELECT * FROM dogs ORDER BY id") == fetch(
                "default", "SELECT * FROM dogs ORDER BY id"
            )
            assert run("railway_makemigrations", "--check")[2] == 0
    finally:
        execute("railway", "DROP TABLE IF EXISTS dogs, shelters CASCADE")
        execute("default", "DROP TABLE IF EXISTS dogs, shelters CASCADE")


@DB
def test_a_broken_migration_file_is_one_line_from_every_command(seeded, migrations_package):
    _, folder = migrations_package
    broken = folder / "0001_broken.py"
    text = "from django.db import migrations\n\nclass Migration(migrations.Migration:\n"
    broken.write_text(text)
    try:
        compile(text, str(broken), "exec")
    except SyntaxError as exc:  # Python's own words for it, which differ between versions
        error = exc
    expected = (
        f"A migration file does not load: {broken}, line {error.lineno} ({error.msg}). Fix or "
        "delete that file, then run the command again."
    )
    for command, failure in (
        ("railway_makemigrations", "❌ Railway makemigrations failed"),
        ("railway_migrate", "❌ Railway database migration failed"),
        ("railway_sync", "❌ Railway data sync failed"),
        ("railway_status", "❌ Railway status failed"),
    ):
        out, err, code = run(command)
        assert (err, code) == (f"{failure}: {expected}", 1), command


FEATURES = """
CREATE EXTENSION IF NOT EXISTS citext;
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TYPE adoption_stage AS ENUM ('listed', 'reserved', 'adopted');
CREATE DOMAIN percentage AS numeric(5,2) CHECK (VALUE >= 0 AND VALUE <= 100);
CREATE TABLE kennels (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    name_search TEXT GENERATED ALWAYS AS (lower(name)) STORED,
    email CITEXT,
    attributes HSTORE,
    stage adoption_stage NOT NULL DEFAULT 'listed',
    history adoption_stage[] DEFAULT '{}',
    occupancy percentage,
    code TEXT COLLATE "C",
    open_during TSRANGE,
    CONSTRAINT kennels_no_overlap EXCLUDE USING gist (name WITH =, open_during WITH &&)
);
CREATE INDEX kennels_lower_email ON kennels (lower(email::text));
INSERT INTO kennels (name, email, attributes, stage, history, occupancy, code, open_during)
VALUES ('North', 'A@Example.org', 'size=>large', 'reserved', '{listed,reserved}', 55.5, 'b',
        '[2026-01-01,2026-02-01)'),
       ('South', NULL, NULL, 'listed', '{}', NULL, 'A', NULL);
"""
FEATURES_GONE = """
DROP TABLE IF EXISTS kennels;
DROP DOMAIN IF EXISTS percentage;
DROP TYPE IF EXISTS adoption_stage;
DROP EXTENSION IF EXISTS citext;
DROP EXTENSION IF EXISTS hstore;
DROP EXTENSION IF EXISTS btree_gist;
"""


@pytest.fixture
def kennels(clean, migrations_package) -> Iterator[tuple[str, Path]]:
    """A local table using what today's PostgreSQL schemas use beyond plain columns."""
    execute("default", FEATURES)
    try:
        with override_settings(RAILWAY_SYNC_TABLES="kennels"):
            yield migrations_package
    finally:
        for alias in ("default", "railway"):
            execute(alias, FEATURES_GONE)


def catalog_of(alias: str) -> list[tuple]:
    return fetch(
        alias,
        """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
               a.attgenerated, pg_get_expr(d.adbin, d.adrelid), co.collname
        FROM pg_attribute a
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_collation co ON co.oid = a.attcollation
        WHERE a.attrelid = 'kennels'::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
    )


@DB
def test_what_migrations_cannot_carry_is_refused_in_one_line_before_anything_is_written(
    clean, migrations_package
):
    _, folder = migrations_package
    execute(
        "default",
        """
        CREATE TYPE kennel_address AS (street text, city text);
        CREATE TABLE kennels (id SERIAL PRIMARY KEY, address kennel_address);
        ALTER TABLE kennels ENABLE ROW LEVEL SECURITY;
        CREATE POLICY kennels_own ON kennels USING (true);
        CREATE TABLE visits (id SERIAL PRIMARY KEY, at date) PARTITION BY RANGE (id);
        """,
    )
    refusal = (
        "railway_sync cannot carry these to Railway: kennels has row-level security (1 "
        "policies); visits is a partitioned table; type kennel_address is a composite type "
        "of the database's own. Leave "
        "those tables out of RAILWAY_SYNC_TABLES (or the columns out with "
        "RAILWAY_SYNC_EXCLUDE_COLUMNS); nothing was written."
    )
    try:
        with override_settings(RAILWAY_SYNC_TABLES="kennels,visits"):
            for command, failure in (
                ("railway_makemigrations", "❌ Railway makemigrations failed"),
                ("railway_sync", "❌ Railway data sync failed"),
            ):
                out, err, code = run(command)
                assert (err.splitlines(), code) == ([f"{failure}: {refusal}"], 1), command
        assert list(folder.glob("0*.py")) == []
        assert scalar("railway", "SELECT to_regclass('kennels')") is None
    finally:
        execute("default", "DROP TABLE kennels, visits; DROP TYPE kennel_address")


@DB
def test_an_extension_railway_cannot_create_is_named_before_anything_is_written(
    clean, migrations_package
):
    _, folder = migrations_package
    (folder / "0001_kennels.py").write_text(
        "from django.db import migrations\n\n"
        "import railway_sync.operations\n\n\n"
        "class Migration(migrations.Migration):\n"
        '    dependencies = [("railway_sync", "0001_initial")]\n'
        "    operations = [\n"
        '        railway_sync.operations.CreateType(name="kennel_size", '
        'definition={"kind": "enum", "labels": ["s", "m"]}),\n'
        '        railway_sync.operations.CreateExtension(name="no_such_extension"),\n'
        "    ]\n"
    )
    version = scalar("railway", "SHOW server_version").split()[0]

    out, err, code = run("railway_migrate")

    assert (err.splitlines(), code) == (
        [
            "❌ Railway database migration failed: The migrations do not fit Railway as it is "
            "(railway_schema.0001_kennels: Railway cannot create extension no_such_extension "
            f"(it is not installed on Railway's PostgreSQL {version}), which the synced tables "
            "use; create it on Railway as its owner, or leave the columns that need it out "
            "(RAILWAY_SYNC_EXCLUDE_COLUMNS), then run railway_makemigrations and python "
            "manage.py railway_migrate again). Nothing was changed."
        ],
        1,
    )
    assert scalar("railway", "SELECT to_regtype('kennel_size')") is None


@DB
def test_generated_columns_enums_domains_and_extension_types_are_carried(kennels):
    out, err, code = run("railway_makemigrations")
    assert (err, code) == ("", 0)
    assert out.splitlines()[1:-1] == [
        "  - Create extension btree_gist",
        "  - Create extension citext",
        "  - Create extension hstore",
        "  - Create enum adoption_stage",
        "  - Create domain percentage",
        "  - Create table kennels",
    ]
    # A migration like any other: Django's sqlmigrate shows the types it creates.
    out, err, code = run("sqlmigrate", "railway_schema", "0001", "--database", "railway")
    assert code == 0, err
    assert [line for line in out.splitlines() if line.startswith("CREATE TYPE")] == [
        """CREATE TYPE "adoption_stage" AS ENUM ('listed', 'reserved', 'adopted');"""
    ]
    assert (
        'CREATE DOMAIN "percentage" AS numeric(5,2) CONSTRAINT "percentage_check" CHECK '
        "(((VALUE >= (0)::numeric) AND (VALUE <= (100)::numeric)));" in out.splitlines()
    )
    assert run("railway_migrate")[2] == 0
    assert catalog_of("railway") == catalog_of("default")
    assert catalog_of("railway")[2][4] == "s"  # name_search, generated and stored

    out, err, code = run("railway_sync")
    assert (err, code) == ("", 0)
    kennel_rows = "SELECT * FROM kennels ORDER BY id"
    assert fetch("railway", kennel_rows) == fetch("default", kennel_rows)

    # Local adds an enum label and uses it: the sync refuses until a migration covers it.
    execute("default", "ALTER TYPE adoption_stage ADD VALUE 'returned' AFTER 'reserved'")
    execute("default", "UPDATE kennels SET stage = 'returned', name = 'North 2' WHERE id = 1")
    out, err, code = run("railway_sync")
    assert (code, err.splitlines()[0]) == (
        1,
        "❌ Railway data sync failed: The local schema has 1 change(s) no Railway migration "
        "covers (Add 'returned' to enum adoption_stage); nothing was written. Run: " + FIX,
    )
    for command in ("railway_makemigrations", "railway_migrate", "railway_sync"):
        out, err, code = run(command)
        assert (err, code) == ("", 0), command
    assert fetch("railway", kennel_rows) == fetch("default", kennel_rows)
    assert fetch("railway", "SELECT name_search FROM kennels WHERE id = 1") == [("north 2",)]
    assert fetch("railway", "SELECT enum_range(NULL::adoption_stage)::text") == [
        ("{listed,reserved,returned,adopted}",)
    ]


@DB
def test_setup_refuses_a_drop_of_data_until_confirmed_as_migrate_does(adopted):
    assert run("railway_migrate")[2] == 0
    out, err, code = run("railway_makemigrations")
    assert code == 0, err
    written = out.splitlines()[0].split()[1]
    before = everything("railway")
    refusal = (
        "the migrations would delete data on Railway "
        f"({written} drops column animals.source_last_updated (10 values))"
    )

    out, err, code = run("railway_setup", "--dry-run")
    assert (code, err) == (
        1,
        f"⚠ railway_migrate would refuse: {refusal}. If local dropped them on purpose, run: "
        "python manage.py railway_migrate --confirm-destructive",
    )
    out, err, code = run("railway_setup")
    assert code == 1
    assert err.startswith(f"❌ Railway setup failed: Refused: {refusal}. Nothing was changed.")
    assert everything("railway") == before

    out, err, code = run("railway_setup", "--confirm-destructive")
    assert (err, code) == ("", 0)
    assert out.splitlines()[-1] == "✅ Railway setup completed successfully"
    assert "source_last_updated" not in [c[0] for c in columns("railway", "animals")]
