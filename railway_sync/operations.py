"""The migration operation that records, in each generated migration, the shape of the synced
tables on Railway once it is applied: ``railway_makemigrations`` compares the local schema
with the last one recorded, so it needs no connection to Railway."""

from __future__ import annotations

from typing import Any

from django.db.migrations.operations.base import Operation


class SchemaState(Operation):
    """Changes no database: states what the migration leaves Railway's synced tables like.

    ``tables`` maps a table to ``{"columns": [[name, type, not_null, default], ...],
    "constraints": {name: definition}, "indexes": {name: definition}}``.
    """

    reversible = True
    reduces_to_sql = True
    serialization_expand_args = ["tables"]

    def __init__(self, tables: dict[str, Any]) -> None:
        self.tables = tables

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return self.__class__.__name__, [], {"tables": self.tables}

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        pass

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        pass

    def describe(self) -> str:
        return f"Record the Railway schema of {len(self.tables)} table(s)"

    @property
    def migration_name_fragment(self) -> str:
        return "schema_state"
