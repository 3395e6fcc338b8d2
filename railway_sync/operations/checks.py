"""How a wanted column, constraint or index compares with what Railway has."""

from __future__ import annotations

from typing import Any

from railway_sync.operations.base import ADOPTED, MIGRATE, Railway, Step, conflict, run_step
from railway_sync.operations.statements import add_constraint_sql, column_sql, drop_constraint_sql
from railway_sync.pg.sql import quote_name
from railway_sync.schema.catalog import Shape, column_phrase, generated_of, name_of
from railway_sync.schema.meaning import deferred, without_deferral


def column_named(railway: Shape, table: str, column: str) -> list[Any] | None:
    shape = railway.tables.get(table)
    if shape is None:
        return None
    return next((c for c in shape["columns"] if name_of(c) == column), None)


def column_differs(table: str, wanted: list[Any], found: list[Any], probe: Railway) -> str | None:
    """How Railway's column ``found`` differs from ``wanted`` and the statement that makes
    Railway's like local's, or None when they are the same."""
    target, column = quote_name(table), quote_name(name_of(wanted))
    if not probe.same_generated(table, generated_of(found), generated_of(wanted)):
        fix = f"ALTER TABLE {target} DROP COLUMN {column}, ADD COLUMN {column_sql(wanted)}"
    else:
        changes = []
        if found[1] != wanted[1]:
            changes.append(f"TYPE {wanted[1]}")
        if generated_of(wanted) is None and not probe.same_default(found[3], wanted[3]):
            changes.append("DROP DEFAULT" if wanted[3] is None else f"SET DEFAULT {wanted[3]}")
        if bool(found[2]) != bool(wanted[2]):
            changes.append("SET NOT NULL" if wanted[2] else "DROP NOT NULL")
        if not changes:
            return None
        fix = f"ALTER TABLE {target} " + ", ".join(f"ALTER COLUMN {column} {c}" for c in changes)
    return (
        f"{table}.{name_of(wanted)} is {column_phrase(found)} on Railway but "
        f"{column_phrase(wanted)} locally; make them the same (on Railway: {fix}; or locally), "
        f"then run {MIGRATE} again"
    )


def constraint_step(table: str, name: str, definition: str, railway: Shape, probe: Railway) -> Step:
    """Adding constraint ``name`` on ``table`` to Railway as it is: absent (run), present the
    same (adopted; a unique key not yet checked at commit is replaced by one that is), present
    under another name (renamed), or present and different (conflict)."""
    existing = railway.tables.get(table, {}).get("constraints", {})
    add = add_constraint_sql(table, name, definition)
    found = existing.get(name)
    if found is not None:
        if found == deferred(definition) or probe.same_constraint(
            table, found, deferred(definition)
        ):
            return ADOPTED
        if probe.same_constraint(table, without_deferral(found), without_deferral(definition)):
            return run_step([drop_constraint_sql(table, name), add])
        return conflict(
            f"constraint {name} on {table} is {found} on Railway but {definition} locally; "
            f"drop or change it on Railway (ALTER TABLE {quote_name(table)} DROP CONSTRAINT "
            f"{quote_name(name)}), then run {MIGRATE} again"
        )
    for other, found in existing.items():
        if found == deferred(definition) or probe.same_constraint(
            table, found, deferred(definition)
        ):
            return run_step(
                [
                    f"ALTER TABLE {quote_name(table)} RENAME CONSTRAINT {quote_name(other)} "
                    f"TO {quote_name(name)}"
                ]
            )
    return run_step([add])


def index_step(table: str, name: str, definition: str, railway: Shape, probe: Railway) -> Step:
    existing = railway.tables.get(table, {}).get("indexes", {})
    found = existing.get(name)
    if found is not None:
        if probe.same_index(table, found, definition):
            return ADOPTED
        return conflict(
            f"index {name} on {table} is {found} on Railway but {definition} locally; drop it "
            f"on Railway (DROP INDEX {quote_name(name)}), then run {MIGRATE} again"
        )
    for other, found in existing.items():
        if probe.same_index(table, found, definition):
            return run_step([f"ALTER INDEX {quote_name(other)} RENAME TO {quote_name(name)}"])
    return run_step([definition])
