"""The shape a generated migration leaves the synced tables in."""

from __future__ import annotations

from typing import Any

from django.db.migrations.operations.base import Operation

from railway_sync.schema.catalog import Shape


class SchemaState(Operation):
    """Changes no database: states what the migration leaves Railway's synced tables like.

    ``tables`` maps a table to ``{"columns": [[name, type, not_null, default(, generated)],
    ...], "constraints": {name: definition}, "indexes": {name: definition}}``; ``types`` the
    enums and domains their columns use; ``extensions`` the extensions they need.
    """

    reversible = True
    reduces_to_sql = True
    serialization_expand_args = ["tables"]

    def __init__(
        self,
        tables: dict[str, Any],
        types: dict[str, Any] | None = None,
        extensions: list[str] | None = None,
    ) -> None:
        self.tables = tables
        self.types = types or {}
        self.extensions = extensions or []

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        arguments: dict[str, Any] = {"tables": self.tables}
        if self.types:
            arguments["types"] = self.types
        if self.extensions:
            arguments["extensions"] = self.extensions
        return self.__class__.__name__, [], arguments

    def shape(self) -> Shape:
        return Shape(self.tables, self.types, list(self.extensions)).copy()

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
