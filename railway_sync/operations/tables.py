"""Creating and dropping tables: one the configuration names, and the guide's first ones."""

from __future__ import annotations

from typing import Any

from django.db.migrations.operations.base import Operation

from railway_sync import conf
from railway_sync.operations.base import (
    ADOPTED,
    Railway,
    RailwayOperation,
    Step,
    conflict,
    on_railway,
    run_step,
)
from railway_sync.operations.checks import (
    column_differs,
    column_named,
    constraint_step,
    index_step,
)
from railway_sync.operations.statements import (
    add_constraint_sql,
    column_sql,
    create_table_sql,
    drop_constraint_sql,
)
from railway_sync.pg.sql import quote_name
from railway_sync.schema.catalog import Shape, name_of, snapshot
from railway_sync.schema.guide_tables import baseline, configured_guide_tables
from railway_sync.schema.meaning import deferred


class CreateTable(RailwayOperation):
    """Create ``table`` with its columns, constraints (but foreign keys) and indexes. A
    table Railway already has is adopted: what it lacks is added, what differs is a
    conflict, columns only Railway has are left (the site's)."""

    def __init__(self, table: str, shape: dict[str, Any]) -> None:
        self.table = table
        self.shape = shape

    def describe(self) -> str:
        return f"Create table {self.table}"

    def forwards_sql(self) -> list[str]:
        return create_table_sql(self.table, self.shape)

    def backwards_sql(self) -> list[str]:
        return [f"DROP TABLE IF EXISTS {quote_name(self.table)}"]

    def step(self, railway: Shape, probe: Railway) -> Step:
        if self.table not in railway.tables:
            return run_step(self.forwards_sql())
        statements: list[str] = []
        conflicts: list[str] = []
        for column in self.shape["columns"]:
            found = column_named(railway, self.table, name_of(column))
            if found is None:
                statements.append(
                    f"ALTER TABLE {quote_name(self.table)} ADD COLUMN {column_sql(column)}"
                )
            else:
                differs = column_differs(self.table, column, found, probe)
                if differs:
                    conflicts.append(differs)
        for name, definition in self.shape["constraints"].items():
            if definition.startswith("FOREIGN KEY"):
                continue
            step = constraint_step(self.table, name, definition, railway, probe)
            conflicts.extend([step.detail] if step.outcome == "conflict" else [])
            statements.extend(step.statements)
        for name, definition in self.shape["indexes"].items():
            step = index_step(self.table, name, definition, railway, probe)
            conflicts.extend([step.detail] if step.outcome == "conflict" else [])
            statements.extend(step.statements)
        if conflicts:
            return conflict("; ".join(conflicts))
        return run_step(statements) if statements else ADOPTED

    def apply_to(self, railway: Shape) -> None:
        existing = railway.tables.get(self.table)
        if existing is None:
            railway.tables[self.table] = {
                "columns": [list(c) for c in self.shape["columns"]],
                "constraints": {
                    n: deferred(d)
                    for n, d in self.shape["constraints"].items()
                    if not d.startswith("FOREIGN KEY")
                },
                "indexes": dict(self.shape["indexes"]),
            }
            return
        names = {name_of(c) for c in existing["columns"]}
        existing["columns"].extend(
            list(c) for c in self.shape["columns"] if name_of(c) not in names
        )
        for name, definition in self.shape["constraints"].items():
            if not definition.startswith("FOREIGN KEY"):
                existing["constraints"][name] = deferred(definition)
        existing["indexes"].update(self.shape["indexes"])


class DropTable(RailwayOperation):
    """Drop ``table`` (local dropped it): destructive when it holds rows on Railway."""

    def __init__(self, table: str, shape: dict[str, Any]) -> None:
        self.table = table
        self.shape = shape

    def describe(self) -> str:
        return f"Drop table {self.table}"

    def forwards_sql(self) -> list[str]:
        return [f"DROP TABLE IF EXISTS {quote_name(self.table)}"]

    def backwards_sql(self) -> list[str]:
        foreign = [
            add_constraint_sql(self.table, n, d)
            for n, d in self.shape["constraints"].items()
            if d.startswith("FOREIGN KEY")
        ]
        return create_table_sql(self.table, self.shape) + foreign

    def step(self, railway: Shape, probe: Railway) -> Step:
        if self.table not in railway.tables:
            return ADOPTED
        rows = probe.rows(self.table)
        if rows:
            return Step(
                "destructive", tuple(self.forwards_sql()), f"table {self.table} ({rows} rows)"
            )
        return run_step(self.forwards_sql())

    def apply_to(self, railway: Shape) -> None:
        railway.tables.pop(self.table, None)


class CreateGuideTables(Operation):
    """railway_sync's first migration: the guide's tables the configuration names, in their
    first shape (``baseline.json``), created where Railway lacks them. A table Railway already
    has keeps its rows and its shape (the generated migrations adopt it), but for unique keys,
    which become checked at commit. Tables the configuration does not name are never created
    or dropped."""

    reduces_to_sql = True
    reversible = True

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return self.__class__.__name__, [], {}

    def names(self) -> tuple[str, ...]:
        return configured_guide_tables(conf.local_alias())

    def _shapes(self) -> dict[str, dict[str, Any]]:
        return baseline(self.names())

    def statements(self, railway: Shape) -> list[str]:
        """What runs on Railway shaped like ``railway``."""
        shapes = self._shapes()
        created = [table for table in shapes if table not in railway.tables]
        statements = [s for table in created for s in create_table_sql(table, shapes[table])]
        statements += [
            add_constraint_sql(table, name, definition)
            for table in created
            for name, definition in shapes[table]["constraints"].items()
            if definition.startswith("FOREIGN KEY")
        ]
        for table, shape in shapes.items():
            if table in created:
                continue
            existing = railway.tables[table]["constraints"]
            for name, definition in shape["constraints"].items():
                found = existing.get(name)
                if definition.startswith("UNIQUE") and found and "DEFERRABLE" not in found:
                    statements += [
                        drop_constraint_sql(table, name),
                        add_constraint_sql(table, name, definition),
                    ]
        return statements

    def apply_to(self, railway: Shape) -> None:
        for table, shape in self._shapes().items():
            if table not in railway.tables:
                railway.tables[table] = {
                    "columns": [list(c) for c in shape["columns"]],
                    "constraints": {n: deferred(d) for n, d in shape["constraints"].items()},
                    "indexes": dict(shape["indexes"]),
                }

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if not on_railway(schema_editor, app_label):
            return
        if schema_editor.collect_sql:
            railway = Shape({})
        else:
            railway = snapshot(schema_editor.connection.alias, self.names())
        for statement in self.statements(railway):
            schema_editor.execute(statement, params=None)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if not on_railway(schema_editor, app_label):
            return
        for table in reversed(self.names()):
            schema_editor.execute(f"DROP TABLE IF EXISTS {quote_name(table)}", params=None)

    def describe(self) -> str:
        return "Create the guide's tables the configuration names, where Railway lacks them"
