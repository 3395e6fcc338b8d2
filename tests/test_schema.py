"""The models and Railway's migrated schema against the scrapers' SQL, column for column."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections, models

from railway_sync.models import SYNCED_MODELS, SYNCED_TABLES
from railway_sync.pg import embedded
from railway_sync.pg.columns import live_columns
from railway_sync.sample import SOURCE_SCHEMA
from railway_sync.schema.drift import compare_schemas, railway_columns
from railway_sync.schema.meaning import Meaning
from tests.conftest import (
    DB,
    database_url,
    execute,
    fetch,
    migrate_railway,
    run,
    run_process,
    unmigrate_railway,
)
from tests.helpers import STATUS_KEYS

POSTGRES_TYPES = {
    models.AutoField: "integer",
    models.IntegerField: "integer",
    models.ForeignKey: "integer",
    models.TextField: "text",
    models.BooleanField: "boolean",
    models.DateTimeField: "timestamp without time zone",
    models.JSONField: "jsonb",
}


def expected_type(field: models.Field) -> str:
    if isinstance(field, models.CharField):
        return f"character varying({field.max_length})"
    if isinstance(field, models.DecimalField):
        return f"numeric({field.max_digits},{field.decimal_places})"
    return POSTGRES_TYPES[type(field)]


@DB
def test_models_map_the_local_schema_column_for_column(clean):
    for model in SYNCED_MODELS:
        live = live_columns("default", model._meta.db_table)
        mapped = [
            (field.column, expected_type(field), not field.null)
            for field in model._meta.concrete_fields
        ]
        assert mapped == [(c.name, c.type, c.not_null) for c in live], model.__name__
        for field in model._meta.concrete_fields:
            assert not getattr(field, "auto_now", False)
            assert not getattr(field, "auto_now_add", False)


@DB
def test_railway_schema_matches_local_columns_and_keeps_its_constraints(clean):
    assert compare_schemas("default", railway_columns("railway", SYNCED_TABLES), SYNCED_TABLES)

    constraints = """
        SELECT conrelid::regclass::text, contype, condeferrable, condeferred, confdeltype,
               pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE conrelid::regclass::text = ANY(%s) AND contype IN ('f', 'u', 'c', 'p')
        ORDER BY 1, 6
    """
    local = fetch("default", constraints, [list(SYNCED_TABLES)])
    railway = fetch("railway", constraints, [list(SYNCED_TABLES)])

    # Railway's constraints are made from local's printed definitions, which PostgreSQL may
    # print back differently (as after a restore): compared by what they mean, on one server.
    meaning = Meaning("default")

    def shape(rows, deferrable_uniques):
        return [
            (
                table,
                kind,
                confdeltype,
                meaning.canonical_constraint(
                    table, definition.replace(" DEFERRABLE INITIALLY DEFERRED", "")
                ),
            )
            for table, kind, deferrable, deferred, confdeltype, definition in rows
            if kind != "u" or (deferrable, deferred) == (deferrable_uniques, deferrable_uniques)
        ]

    assert shape(railway, True) == shape(local, False)
    assert len([row for row in railway if row[1] == "u"]) == 5

    indexes = """
        SELECT indexname, regexp_replace(indexdef, ' ON [a-z_.]+\\.', ' ON ')
        FROM pg_indexes WHERE tablename = ANY(%s) AND indexname LIKE 'idx_%%' ORDER BY 1
    """
    assert fetch("railway", indexes, [list(SYNCED_TABLES)]) == fetch(
        "default", indexes, [list(SYNCED_TABLES)]
    )
    defaults = """
        SELECT table_name, column_name, column_default FROM information_schema.columns
        WHERE table_name = ANY(%s) AND table_schema = current_schema() ORDER BY 1, 2
    """
    assert fetch("railway", defaults, [list(SYNCED_TABLES)]) == fetch(
        "default", defaults, [list(SYNCED_TABLES)]
    )


@DB
def test_migrate_adopts_tables_an_earlier_tool_created(clean):
    """A Railway set up by the old Alembic tool keeps its rows; its unique keys become deferrable."""
    from tests.conftest import run, scalar

    run("migrate", "railway_sync", "zero", "--database", "railway", "--verbosity", "0")
    execute("railway", SOURCE_SCHEMA.read_text())
    execute(
        "railway",
        "INSERT INTO organizations (id, name, website_url, slug) VALUES (1, 'Old', 'w', 'old')",
    )

    out, err, code = run("railway_migrate")

    assert code == 0, err
    assert scalar("railway", "SELECT name FROM organizations WHERE id = 1") == "Old"
    assert scalar(
        "railway",
        "SELECT bool_and(condeferrable) FROM pg_constraint "
        "WHERE contype = 'u' AND conrelid::regclass::text = ANY(%s)",
        [list(SYNCED_TABLES)],
    )


EMPTY_LOCAL = "railway_sync_empty_local"
NO_LOCAL_TABLES = (
    "The local database has no table organizations, animals, animal_images, scrape_logs, "
    "service_regions. Check DATABASE_URL points at the scrapers' database, or "
    "RAILWAY_SYNC_TABLES."
)


@pytest.fixture
def empty_local() -> Iterator[dict[str, str]]:
    """The environment of a user whose DATABASE_URL names a database without the scrapers'
    tables (a fresh database on the embedded server), with the real Railway test database."""
    socket_dir = Path(connections["default"].settings_dict["HOST"])
    embedded.drop_database(socket_dir, EMPTY_LOCAL)
    embedded.ensure_database(socket_dir, EMPTY_LOCAL)
    try:
        yield {
            "DATABASE_URL": embedded.database_url(socket_dir, EMPTY_LOCAL),
            "RAILWAY_DATABASE_URL": database_url("railway"),
        }
    finally:
        embedded.drop_database(socket_dir, EMPTY_LOCAL)


@pytest.fixture
def bare_railway(clean) -> Iterator[None]:
    """Railway as before the first setup: no railway_sync migrations, no tables."""
    unmigrate_railway()
    try:
        yield
    finally:
        migrate_railway()


@DB
def test_status_against_a_local_database_without_the_tables_says_so_in_one_line(clean, empty_local):
    out, err, code = run_process("railway_status", env=empty_local)

    assert (out, err.splitlines(), code) == (
        "",
        [f"❌ Railway status failed: {NO_LOCAL_TABLES}"],
        1,
    )

    out, err, code = run_process("railway_status", "--format", "json", env=empty_local)

    document = json.loads(out)
    assert code == 1, err
    assert set(document) == STATUS_KEYS
    assert (document["outcome"], document["exit_code"], document["error"]) == (
        "failed",
        1,
        NO_LOCAL_TABLES,
    )
    assert err.splitlines() == [f"❌ Railway status failed: {NO_LOCAL_TABLES}"]


@DB
def test_setup_against_a_local_database_without_the_tables_leaves_railway_untouched(
    bare_railway, empty_local
):
    out, err, code = run_process("railway_setup", env=empty_local)

    assert (out.splitlines(), err.splitlines(), code) == (
        ["🚀 Starting Railway setup..."],
        [f"❌ Railway setup failed: {NO_LOCAL_TABLES}"],
        1,
    )
    assert fetch("railway", "SELECT name FROM django_migrations WHERE app = 'railway_sync'") == []
    assert (
        fetch(
            "railway",
            "SELECT relname FROM pg_class WHERE relname = ANY(%s) OR relname = %s",
            [list(SYNCED_TABLES), "railway_sync_state"],
        )
        == []
    )


@DB
def test_a_dry_run_against_a_local_database_without_the_tables_says_so(bare_railway, empty_local):
    out, err, code = run_process("railway_sync", "--dry-run", env=empty_local)

    assert (out.splitlines(), err.splitlines(), code) == (
        ["🚀 Starting Railway data sync... (dry run)"],
        [
            # This database has no history table either: the first line says so.
            "Sync history not recorded: run python manage.py migrate to create it.",
            f"❌ Railway data sync failed: {NO_LOCAL_TABLES}",
        ],
        1,
    )


@DB
def test_status_before_setup_cannot_compare_and_exits_1(bare_railway):
    out, err, code = run("railway_status")

    assert code == 1
    assert err == (
        "❌ Railway status could not compare the rows: Railway has no schema yet. Run: python "
        "manage.py railway_setup"
    )
    assert out.splitlines()[1:] == [
        "  organizations: 0 → - (no table on Railway)",
        "  animals: 0 → - (no table on Railway)",
        "  animal_images: 0 → - (no table on Railway)",
        "  scrape_logs: 0 → - (no table on Railway)",
        "  service_regions: 0 → - (no table on Railway)",
        "⚠ Railway has no schema yet. Run: python manage.py railway_setup",
        "Recommendation: Run: python manage.py railway_setup",
    ]
