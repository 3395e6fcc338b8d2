"""Railway as it is now, as a migration step is decided against it: the shape of the tables
and types the steps read, from Railway's catalog, and what a step asks beyond that shape
(definitions compared by meaning on Railway, rows a drop would lose, whether an extension can
be created).

``railway_migrate`` reads it once for every pending step (``schema.migrate.decide``); a step
run by Django's own ``migrate`` reads it for itself (``base.decided``).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connections

from railway_sync.pg.sql import quote_name
from railway_sync.schema import catalog
from railway_sync.schema.catalog import Shape
from railway_sync.schema.meaning import Meaning


class LiveRailway:
    """What a step asks Railway while it is decided: definitions compared by meaning on
    Railway, rows and values a drop would lose, whether an extension can be created."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.meaning = Meaning(alias)

    def same_constraint(self, table: str, first: str, second: str) -> bool:
        return self.meaning.same_constraint(table, first, second)

    def same_index(self, table: str, first: str, second: str) -> bool:
        return self.meaning.same_index(table, first, second)

    def same_default(self, first: str | None, second: str | None) -> bool:
        return self.meaning.same_default(first, second)

    def same_generated(self, table: str, first: str | None, second: str | None) -> bool:
        return self.meaning.same_generated(table, first, second)

    def _count(self, sql: str) -> int:
        with connections[self.alias].cursor() as cursor:
            cursor.execute(sql)
            return int(cursor.fetchone()[0])

    def rows(self, table: str) -> int:
        return self._count(f"SELECT count(*) FROM {quote_name(table)}")

    def values(self, table: str, column: str) -> int:
        return self._count(f"SELECT count({quote_name(column)}) FROM {quote_name(table)}")

    def cannot_create_extension(self, name: str) -> str | None:
        with connections[self.alias].cursor() as cursor:
            cursor.execute(
                """
                SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = %s),
                       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
                       EXISTS (SELECT 1 FROM pg_available_extension_versions
                               WHERE name = %s AND trusted),
                       has_database_privilege(current_database(), 'CREATE'),
                       current_setting('server_version'), current_user
                """,
                [name, name],
            )
            available, superuser, trusted, may_create, version, user = cursor.fetchone()
        if not available:
            return f"it is not installed on Railway's PostgreSQL {version.split()[0]}"
        if not superuser and not (trusted and may_create):
            return f"the role {user} may not create it: it needs a superuser"
        return None


def read_shape(alias: str, tables: Iterable[str], type_names: Iterable[str]) -> Shape:
    """Railway's shape as far as a step reads it: ``tables``, the types ``type_names``, the
    extensions installed."""
    shape = catalog.snapshot(alias, tuple(sorted(tables)))
    shape.types.update(catalog.types_named(alias, tuple(sorted(type_names))))
    shape.extensions = catalog.installed_extensions(alias)
    return shape
