"""The models and Railway's migrated schema against the scrapers' SQL, column for column."""

from __future__ import annotations

from django.db import models

from railway_sync.models import SYNCED_MODELS, SYNCED_TABLES
from railway_sync.sample import SOURCE_SCHEMA
from railway_sync.schema import compare_schemas, live_columns
from tests.conftest import DB, fetch

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
    assert compare_schemas("default", "railway", SYNCED_TABLES)

    constraints = """
        SELECT conrelid::regclass::text, contype, condeferrable, condeferred, confdeltype,
               pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE conrelid::regclass::text = ANY(%s) AND contype IN ('f', 'u', 'c', 'p')
        ORDER BY 1, 6
    """
    local = fetch("default", constraints, [list(SYNCED_TABLES)])
    railway = fetch("railway", constraints, [list(SYNCED_TABLES)])

    def shape(rows, deferrable_uniques):
        return [
            (table, kind, confdeltype, definition.replace(" DEFERRABLE INITIALLY DEFERRED", ""))
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
    from tests.conftest import execute, run, scalar

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
