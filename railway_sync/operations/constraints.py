"""Adding and dropping constraints, foreign keys and indexes."""

from __future__ import annotations

from railway_sync.operations.base import (
    ADOPTED,
    Railway,
    RailwayOperation,
    Step,
    conflict,
    run_step,
)
from railway_sync.operations.checks import constraint_step, index_step
from railway_sync.operations.statements import (
    add_constraint_sql,
    drop_constraint_sql,
    drop_index_sql,
)
from railway_sync.schema.catalog import Shape
from railway_sync.schema.meaning import deferred


class NamedOnTable(RailwayOperation):
    """A step about one named constraint or index of a table, with its definition."""

    def __init__(self, table: str, name: str, definition: str) -> None:
        self.table = table
        self.name = name
        self.definition = definition


class AddConstraint(NamedOnTable):
    def describe(self) -> str:
        return f"Add constraint {self.name} on {self.table}: {self.definition}"

    def forwards_sql(self) -> list[str]:
        return [add_constraint_sql(self.table, self.name, self.definition)]

    def backwards_sql(self) -> list[str]:
        return [drop_constraint_sql(self.table, self.name)]

    def step(self, railway: Shape, probe: Railway) -> Step:
        return constraint_step(self.table, self.name, self.definition, railway, probe)

    def apply_to(self, railway: Shape) -> None:
        shape = railway.tables.get(self.table)
        if shape is not None:
            shape["constraints"][self.name] = deferred(self.definition)


class AddForeignKeys(RailwayOperation):
    """The foreign keys of a table just created (after every new table exists)."""

    def __init__(self, table: str, constraints: dict[str, str]) -> None:
        self.table = table
        self.constraints = constraints

    def describe(self) -> str:
        return f"Add the foreign keys of {self.table}"

    def forwards_sql(self) -> list[str]:
        return [add_constraint_sql(self.table, n, d) for n, d in self.constraints.items()]

    def backwards_sql(self) -> list[str]:
        return [drop_constraint_sql(self.table, name) for name in self.constraints]

    def step(self, railway: Shape, probe: Railway) -> Step:
        steps = [
            constraint_step(self.table, name, definition, railway, probe)
            for name, definition in self.constraints.items()
        ]
        conflicts = [s.detail for s in steps if s.outcome == "conflict"]
        if conflicts:
            return conflict("; ".join(conflicts))
        statements = [statement for s in steps for statement in s.statements]
        return run_step(statements) if statements else ADOPTED

    def apply_to(self, railway: Shape) -> None:
        shape = railway.tables.get(self.table)
        if shape is not None:
            shape["constraints"].update(self.constraints)


class DropConstraint(NamedOnTable):
    def describe(self) -> str:
        return f"Drop constraint {self.name} on {self.table}"

    def forwards_sql(self) -> list[str]:
        return [drop_constraint_sql(self.table, self.name)]

    def backwards_sql(self) -> list[str]:
        return [add_constraint_sql(self.table, self.name, self.definition)]

    def step(self, railway: Shape, probe: Railway) -> Step:
        if self.name not in railway.tables.get(self.table, {}).get("constraints", {}):
            return ADOPTED
        return run_step(self.forwards_sql())

    def apply_to(self, railway: Shape) -> None:
        railway.tables.get(self.table, {}).get("constraints", {}).pop(self.name, None)


class AddIndex(NamedOnTable):
    def describe(self) -> str:
        return f"Add index {self.name} on {self.table}"

    def forwards_sql(self) -> list[str]:
        return [self.definition]

    def backwards_sql(self) -> list[str]:
        return [drop_index_sql(self.name)]

    def step(self, railway: Shape, probe: Railway) -> Step:
        return index_step(self.table, self.name, self.definition, railway, probe)

    def apply_to(self, railway: Shape) -> None:
        shape = railway.tables.get(self.table)
        if shape is not None:
            shape["indexes"][self.name] = self.definition


class DropIndex(NamedOnTable):
    def describe(self) -> str:
        return f"Drop index {self.name} on {self.table}"

    def forwards_sql(self) -> list[str]:
        return [drop_index_sql(self.name)]

    def backwards_sql(self) -> list[str]:
        return [self.definition]

    def step(self, railway: Shape, probe: Railway) -> Step:
        if self.name not in railway.tables.get(self.table, {}).get("indexes", {}):
            return ADOPTED
        return run_step(self.forwards_sql())

    def apply_to(self, railway: Shape) -> None:
        railway.tables.get(self.table, {}).get("indexes", {}).pop(self.name, None)
