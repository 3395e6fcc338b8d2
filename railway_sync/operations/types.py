"""Extensions, enums and domains the synced columns use."""

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
from railway_sync.operations.statements import literal
from railway_sync.pg.sql import quote_name
from railway_sync.schema.catalog import Shape


class CreateExtension(RailwayOperation):
    """An extension a synced column, default or index needs (citext, hstore, pg_trgm...)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def describe(self) -> str:
        return f"Create extension {self.name}"

    def forwards_sql(self) -> list[str]:
        return [f"CREATE EXTENSION IF NOT EXISTS {quote_name(self.name)}"]

    def backwards_sql(self) -> list[str]:
        return []  # other objects on Railway may use it

    def step(self, railway: Shape, probe: Railway) -> Step:
        if self.name in railway.extensions:
            return ADOPTED
        why = probe.cannot_create_extension(self.name)
        if why:
            return conflict(
                f"Railway cannot create extension {self.name} ({why}), which the synced tables "
                "use; create it on Railway as its owner, or leave the columns that need it out "
                "(RAILWAY_SYNC_EXCLUDE_COLUMNS), then run railway_makemigrations and "
                f"{MIGRATE} again"
            )
        return run_step(self.forwards_sql())

    def apply_to(self, railway: Shape) -> None:
        railway.extensions.append(self.name)

    @property
    def migration_name_fragment(self) -> str:
        return self.name


def _labels_sql(name: str, wanted: list[str], have: list[str]) -> list[str]:
    """``ALTER TYPE ... ADD VALUE`` for each label of ``wanted`` an enum that has ``have``
    lacks, each placed after the label local has before it (or before the one after it)."""
    statements = []
    for index, label in enumerate(wanted):
        if label in have:
            continue
        if index:
            where = f" AFTER {literal(wanted[index - 1])}"
        elif len(wanted) > 1:
            where = f" BEFORE {literal(wanted[1])}"
        else:
            where = ""
        statements.append(
            f"ALTER TYPE {quote_name(name)} ADD VALUE IF NOT EXISTS {literal(label)}{where}"
        )
    return statements


def _domain_sql(name: str, domain: dict[str, Any]) -> str:
    sql = f"CREATE DOMAIN {quote_name(name)} AS {domain['base']}"
    if domain.get("default") is not None:
        sql += f" DEFAULT {domain['default']}"
    if domain.get("not_null"):
        sql += " NOT NULL"
    for check, definition in domain.get("checks", {}).items():
        sql += f" CONSTRAINT {quote_name(check)} {definition}"
    return sql


class CreateType(RailwayOperation):
    """An enum or a domain a synced column uses. An enum Railway already has is adopted
    when it has every label (labels local added are added); a domain must be the same."""

    def __init__(self, name: str, definition: dict[str, Any]) -> None:
        self.name = name
        self.definition = definition

    def types(self) -> tuple[str, ...]:
        return (self.name,)

    def describe(self) -> str:
        return f"Create {self.definition['kind']} {self.name}"

    def forwards_sql(self) -> list[str]:
        if self.definition["kind"] == "enum":
            labels = ", ".join(literal(label) for label in self.definition["labels"])
            return [f"CREATE TYPE {quote_name(self.name)} AS ENUM ({labels})"]
        return [_domain_sql(self.name, self.definition)]

    def backwards_sql(self) -> list[str]:
        kind = "TYPE" if self.definition["kind"] == "enum" else "DOMAIN"
        return [f"DROP {kind} IF EXISTS {quote_name(self.name)}"]

    def step(self, railway: Shape, probe: Railway) -> Step:
        found = railway.types.get(self.name)
        if found is None:
            return run_step(self.forwards_sql())
        if found == self.definition:
            return ADOPTED
        if found["kind"] == "enum" == self.definition["kind"]:
            wanted, have = self.definition["labels"], found["labels"]
            if [label for label in have if label in wanted] == [
                label for label in wanted if label in have
            ]:
                return run_step(_labels_sql(self.name, wanted, have))
        return conflict(
            f"type {self.name} is {_type_phrase(found)} on Railway but {_type_phrase(self.definition)} "
            f"locally; make them the same on Railway, then run {MIGRATE} again"
        )

    def apply_to(self, railway: Shape) -> None:
        railway.types[self.name] = dict(self.definition)

    @property
    def migration_name_fragment(self) -> str:
        return self.name


class AlterType(RailwayOperation):
    """Labels local added to an enum, or a domain's new definition."""

    def __init__(self, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.name = name
        self.old = old
        self.new = new

    def types(self) -> tuple[str, ...]:
        return (self.name,)

    def describe(self) -> str:
        if self.new["kind"] == "enum":
            added = [label for label in self.new["labels"] if label not in self.old["labels"]]
            return f"Add {', '.join(repr(label) for label in added)} to enum {self.name}"
        return f"Change domain {self.name}"

    def _domain_sql(self, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
        target = quote_name(self.name)
        statements = [
            f"ALTER DOMAIN {target} DROP CONSTRAINT IF EXISTS {quote_name(check)}"
            for check, definition in old.get("checks", {}).items()
            if new.get("checks", {}).get(check) != definition
        ]
        if old.get("default") != new.get("default"):
            statements.append(
                f"ALTER DOMAIN {target} DROP DEFAULT"
                if new.get("default") is None
                else f"ALTER DOMAIN {target} SET DEFAULT {new['default']}"
            )
        if bool(old.get("not_null")) != bool(new.get("not_null")):
            statements.append(
                f"ALTER DOMAIN {target} {'SET' if new.get('not_null') else 'DROP'} NOT NULL"
            )
        statements += [
            f"ALTER DOMAIN {target} ADD CONSTRAINT {quote_name(check)} {definition}"
            for check, definition in new.get("checks", {}).items()
            if old.get("checks", {}).get(check) != definition
        ]
        return statements

    def forwards_sql(self) -> list[str]:
        if self.new["kind"] == "enum":
            return _labels_sql(self.name, self.new["labels"], self.old["labels"])
        return self._domain_sql(self.old, self.new)

    def backwards_sql(self) -> list[str]:
        if self.new["kind"] == "enum":
            return []  # PostgreSQL cannot remove an enum label
        return self._domain_sql(self.new, self.old)

    def step(self, railway: Shape, probe: Railway) -> Step:
        found = railway.types.get(self.name)
        if found == self.new:
            return ADOPTED
        if found is not None and found["kind"] == "enum" == self.new["kind"]:
            return CreateType(self.name, self.new).step(railway, probe)
        if found is not None and found["kind"] == "domain" == self.new["kind"]:
            return run_step(self._domain_sql(found, self.new))
        return run_step(self.forwards_sql())

    def apply_to(self, railway: Shape) -> None:
        railway.types[self.name] = dict(self.new)

    @property
    def migration_name_fragment(self) -> str:
        return self.name


def _type_phrase(definition: dict[str, Any]) -> str:
    if definition["kind"] == "enum":
        return "enum (" + ", ".join(definition["labels"]) + ")"
    return "domain " + _domain_sql("", definition).partition(" AS ")[2]
