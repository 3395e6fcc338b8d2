"""Adding, dropping and changing columns."""

from __future__ import annotations

from typing import Any

from railway_sync.operations.base import (
    ADOPTED,
    MIGRATE,
    Railway,
    RailwayOperation,
    Step,
    conflict,
    run_step,
)
from railway_sync.operations.checks import column_differs, column_named
from railway_sync.operations.statements import column_sql, default_sql, retype_sql
from railway_sync.pg.sql import quote_name
from railway_sync.schema.catalog import Shape, column_phrase, generated_of, is_sequence, name_of


class AddColumn(RailwayOperation):
    def __init__(self, table: str, column: list[Any]) -> None:
        self.table = table
        self.column = column

    def describe(self) -> str:
        return f"Add column {self.table}.{name_of(self.column)} ({self.column[1]})"

    def forwards_sql(self) -> list[str]:
        return [f"ALTER TABLE {quote_name(self.table)} ADD COLUMN {column_sql(self.column)}"]

    def backwards_sql(self) -> list[str]:
        return [
            f"ALTER TABLE {quote_name(self.table)} DROP COLUMN IF EXISTS "
            f"{quote_name(name_of(self.column))}"
        ]

    def step(self, railway: Shape, probe: Railway) -> Step:
        found = column_named(railway, self.table, name_of(self.column))
        if found is None:
            return run_step(self.forwards_sql())
        differs = column_differs(self.table, self.column, found, probe)
        return conflict(differs) if differs else ADOPTED

    def apply_to(self, railway: Shape) -> None:
        if railway.tables.get(self.table) and not column_named(
            railway, self.table, name_of(self.column)
        ):
            railway.tables[self.table]["columns"].append(list(self.column))


class DropColumn(RailwayOperation):
    """Drop a column local dropped: destructive when it holds values on Railway."""

    def __init__(self, table: str, column: list[Any]) -> None:
        self.table = table
        self.column = column

    def describe(self) -> str:
        return f"Drop column {self.table}.{name_of(self.column)}"

    def forwards_sql(self) -> list[str]:
        return [
            f"ALTER TABLE {quote_name(self.table)} DROP COLUMN IF EXISTS "
            f"{quote_name(name_of(self.column))}"
        ]

    def backwards_sql(self) -> list[str]:
        return [f"ALTER TABLE {quote_name(self.table)} ADD COLUMN {column_sql(self.column)}"]

    def step(self, railway: Shape, probe: Railway) -> Step:
        name = name_of(self.column)
        found = column_named(railway, self.table, name)
        if found is None:
            return ADOPTED
        values = 0 if generated_of(found) else probe.values(self.table, name)
        if values:
            return Step(
                "destructive",
                tuple(self.forwards_sql()),
                f"column {self.table}.{name} ({values} values)",
            )
        return run_step(self.forwards_sql())

    def apply_to(self, railway: Shape) -> None:
        shape = railway.tables.get(self.table)
        if shape:
            shape["columns"] = [c for c in shape["columns"] if name_of(c) != name_of(self.column)]


class AlterColumn(RailwayOperation):
    """Change a column's type, default, nullability or generation expression, from ``old``
    to ``new`` (both whole column definitions)."""

    def __init__(self, table: str, old: list[Any], new: list[Any]) -> None:
        self.table = table
        self.old = old
        self.new = new

    def describe(self) -> str:
        name = f"{self.table}.{name_of(self.new)}"
        if generated_of(self.old) != generated_of(self.new):
            return f"Change how {name} is generated"
        if self.old[1] != self.new[1]:
            return f"Retype {name} from {self.old[1]} to {self.new[1]}"
        if self.old[3] != self.new[3]:
            return f"Change the default of {name} to {self.new[3] or 'none'}"
        return f"Make {name} {'NOT NULL' if self.new[2] else 'nullable'}"

    def _sql(self, old: list[Any], new: list[Any]) -> list[str]:
        table, name = self.table, name_of(new)
        target, column = quote_name(table), quote_name(name)
        if generated_of(old) != generated_of(new):
            # Its values are computed: dropping and adding it again loses nothing.
            return [
                f"ALTER TABLE {target} DROP COLUMN IF EXISTS {column}",
                f"ALTER TABLE {target} ADD COLUMN {column_sql(new)}",
            ]
        statements = []
        if old[1] != new[1]:
            statements.append(retype_sql(table, name, old[1], new[1]))
        if old[3] != new[3] and not (is_sequence(old[3]) and is_sequence(new[3])):
            statements.append(default_sql(table, name, new[3]))
        if bool(old[2]) != bool(new[2]):
            statements.append(
                f"ALTER TABLE {target} ALTER COLUMN {column} {'SET' if new[2] else 'DROP'} NOT NULL"
            )
        return statements

    def forwards_sql(self) -> list[str]:
        return self._sql(self.old, self.new)

    def backwards_sql(self) -> list[str]:
        return self._sql(self.new, self.old)

    def step(self, railway: Shape, probe: Railway) -> Step:
        found = column_named(railway, self.table, name_of(self.new))
        if found is None:
            return conflict(
                f"{self.table}.{name_of(self.new)} is not on Railway, so it cannot be changed to "
                f"{column_phrase(self.new)}; add it on Railway, then run {MIGRATE} again"
            )
        if column_differs(self.table, self.new, found, probe) is None:
            return ADOPTED
        if found[1] not in (self.old[1], self.new[1]):
            return conflict(
                f"{self.table}.{name_of(self.new)} is {found[1]} on Railway, neither "
                f"{self.old[1]} (before) nor {self.new[1]} (local); retype it on Railway, then "
                f"run {MIGRATE} again"
            )
        return run_step(self._sql(found, self.new))

    def apply_to(self, railway: Shape) -> None:
        shape = railway.tables.get(self.table)
        if shape:
            shape["columns"] = [
                list(self.new) if name_of(c) == name_of(self.new) else c for c in shape["columns"]
            ]
