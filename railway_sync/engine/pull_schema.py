"""The local tables a pull writes, as Railway has them: which columns it copies, and, for a
new machine (``--create-tables``), the tables local lacks created from Railway's catalog.

Local's schema belongs to the scrapers: a pull never alters a table that exists. Columns
that differ refuse the pull with one line each; a column only Railway has (the site's) is
left there, with a notice.
"""

from __future__ import annotations

from django.db import connections

from railway_sync import conf
from railway_sync.engine.railway_facts import RailwayFacts
from railway_sync.errors import NOTHING_CHANGED, ConfigurationError, SchemaMismatch
from railway_sync.operations.statements import add_constraint_sql, create_table_sql
from railway_sync.operations.types import CreateExtension, CreateType
from railway_sync.pg.columns import Column, live_columns
from railway_sync.schema import catalog, guide_tables, migration_files, tables
from railway_sync.schema.drift import DRIFT_FIX, column_differences, site_columns
from railway_sync.schema.tables import Catalog


def create_missing(
    local: str, railway: str, names: tuple[str, ...], facts: RailwayFacts, *, create: bool
) -> set[str]:
    """Create, in local's open transaction, the tables of ``names`` local lacks, as Railway
    has them (columns, types, defaults, keys, indexes, constraints, sequences), but the
    site's columns; return their names. Without ``create`` a missing table is refused."""
    missing = [name for name in names if name not in tables.present(local, names)]
    if not missing:
        return set()
    if not create:
        raise ConfigurationError(
            f"The local database has no table {', '.join(missing)}; {NOTHING_CHANGED}. To "
            "create them as Railway has them, run: python manage.py railway_pull --create-tables"
        )
    shape = catalog.snapshot(railway, tuple(missing), _site_columns(local, railway, missing, facts))
    statements = [
        statement
        for extension in shape.extensions
        for statement in CreateExtension(extension).forwards_sql()
    ]
    present_types = catalog.types_named(local, tuple(shape.types))
    statements += [
        statement
        for name, definition in shape.types.items()
        if name not in present_types
        for statement in CreateType(name, definition).forwards_sql()
    ]
    for table in missing:
        statements += create_table_sql(table, shape.tables[table])
    for table in missing:
        statements += [
            add_constraint_sql(table, name, definition)
            for name, definition in shape.tables[table]["constraints"].items()
            if definition.startswith("FOREIGN KEY")
        ]
    with connections[local].cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return set(missing)


def _site_columns(
    local: str, railway: str, missing: list[str], facts: RailwayFacts
) -> frozenset[tuple[str, str]]:
    """The columns a created table leaves out: the excluded ones, and on Railway the site's
    (those no migration applied there made), which a sync never reads."""
    migrated = migration_files.migrated_columns(
        facts.applied_migrations, guide_tables.configured_guide_tables(local)
    )
    left_out = set(conf.exclude_columns())
    for table in missing:
        if table not in migrated:
            continue
        for column in live_columns(railway, table) or []:
            if column.name not in migrated[table]:
                left_out.add((table, column.name))
    return frozenset(left_out)


def pulled_columns(
    local: str, railway: str, local_catalog: Catalog
) -> tuple[dict[str, list[Column]], tuple[str, ...]]:
    """(the columns a pull copies, per table; one notice per column only Railway has)."""
    excluded = conf.exclude_columns()
    columns: dict[str, list[Column]] = {}
    differences: list[str] = []
    notices = []
    for table in local_catalog.tables:
        on_railway = [
            column
            for column in live_columns(railway, table.name) or []
            if (table.name, column.name) not in excluded
        ]
        differences += column_differences(table.name, list(table.columns), on_railway)
        columns[table.name] = list(table.columns)
        for name in site_columns(list(table.columns), on_railway):
            notices.append(
                f"Railway's {table.name}.{name} is not in the local table (the site's "
                "column): it is not pulled."
            )
    if differences:
        raise SchemaMismatch(
            f"The local tables differ from Railway's; {NOTHING_CHANGED}. Bring Railway up to "
            f"date with: {DRIFT_FIX}; then run railway_pull again.",
            differences,
        )
    return columns, tuple(notices)
