"""``railway_makemigrations``: the steps that bring Railway's synced tables to the local shape,
written as a Django migration of ``railway_sync.operations``.

What Railway's migrations describe is read from the migrations themselves, not from Railway:
each generated migration ends with a :class:`~railway_sync.operations.SchemaState` holding
the shape it leaves the tables in (before any, the first shape railway_sync's own
``0001_initial`` gives the guide's tables the configuration names, ``baseline.json``). So
``--check`` needs only the local database and the migration files, and a column the site
added on Railway outside these migrations is never in that shape, so never dropped.

Definitions are compared by what they mean to PostgreSQL (``meaning``), not by how one server
printed them, so a local database restored from a dump is not a schema change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db.migrations import Migration
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.writer import MigrationWriter

from railway_sync import conf
from railway_sync.errors import NOTHING_WRITTEN, ConfigurationError, SchemaMismatch
from railway_sync.operations import (
    AddColumn,
    AddConstraint,
    AddForeignKeys,
    AddIndex,
    AlterColumn,
    AlterType,
    CreateExtension,
    CreateTable,
    CreateType,
    DropColumn,
    DropConstraint,
    DropIndex,
    DropTable,
    RailwayOperation,
    SchemaState,
)
from railway_sync.pg.columns import Column
from railway_sync.schema import catalog, tables
from railway_sync.schema.catalog import Shape, State, generated_of, name_of
from railway_sync.schema.drift import DRIFT_FIX, compare_schemas
from railway_sync.schema.guide_tables import BASE_MIGRATION, configured_guide_tables, referenced
from railway_sync.schema.meaning import Meaning
from railway_sync.schema.migration_files import loader, migrated_columns, migrated_state


@dataclass(frozen=True)
class SchemaPlan:
    """What ``railway_makemigrations`` would write."""

    operations: tuple[RailwayOperation, ...]
    state: Shape
    previous: tuple[str, str] | None
    number: int = 1
    names: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.operations


def _referenced_by(state: State, table: str) -> set[str]:
    return {t for d in state[table]["constraints"].values() for t in referenced(d)}


def _column_steps(
    table: str, before: list[Any], after: list[Any], meaning: Meaning
) -> list[RailwayOperation]:
    """One operation per aspect of the column that changed (type, default, nullability),
    or one for a change of generation expression."""
    if not meaning.same_generated(table, generated_of(before), generated_of(after)):
        return [AlterColumn(table, before, after)]
    steps: list[RailwayOperation] = []
    current = list(before)
    if current[1] != after[1]:
        steps.append(AlterColumn(table, current, [*current[:1], after[1], *current[2:]]))
        current = steps[-1].new  # type: ignore[attr-defined]
    if generated_of(after) is None and not meaning.same_default(current[3], after[3]):
        steps.append(AlterColumn(table, current, [*current[:3], after[3], *current[4:]]))
        current = steps[-1].new  # type: ignore[attr-defined]
    if bool(current[2]) != bool(after[2]):
        steps.append(AlterColumn(table, current, [*current[:2], after[2], *current[3:]]))
    return steps


def _table_changes(
    table: str, old: dict[str, Any], new: dict[str, Any], meaning: Meaning
) -> list[RailwayOperation]:
    steps: list[RailwayOperation] = []
    old_constraints, new_constraints = old["constraints"], new["constraints"]
    old_indexes, new_indexes = old["indexes"], new["indexes"]

    def same_constraint(name: str) -> bool:
        return name in new_constraints and meaning.same_constraint(
            table, old_constraints[name], new_constraints[name]
        )

    def same_index(name: str) -> bool:
        return name in new_indexes and meaning.same_index(
            table, old_indexes[name], new_indexes[name]
        )

    for name, definition in old_constraints.items():
        if not same_constraint(name):
            steps.append(DropConstraint(table, name, definition))
    for name, definition in old_indexes.items():
        if not same_index(name):
            steps.append(DropIndex(table, name, definition))
    old_columns = {name_of(column): column for column in old["columns"]}
    new_columns = {name_of(column): column for column in new["columns"]}
    for name, column in old_columns.items():
        if name not in new_columns:
            steps.append(DropColumn(table, column))
    for name, column in new_columns.items():
        before = old_columns.get(name)
        if before is None:
            steps.append(AddColumn(table, column))
        else:
            steps.extend(_column_steps(table, before, column, meaning))
    for name, definition in new_constraints.items():
        if name not in old_constraints or not same_constraint(name):
            steps.append(AddConstraint(table, name, definition))
    for name, definition in new_indexes.items():
        if name not in old_indexes or not same_index(name):
            steps.append(AddIndex(table, name, definition))
    return steps


def _type_steps(old: Shape, new: Shape) -> list[RailwayOperation]:
    """Extensions first, then enums, then domains (a domain may be over an enum)."""
    steps: list[RailwayOperation] = [
        CreateExtension(name) for name in new.extensions if name not in old.extensions
    ]
    ordered = sorted(new.types.items(), key=lambda item: item[1]["kind"] != "enum")
    for name, definition in ordered:
        before = old.types.get(name)
        if before is None:
            steps.append(CreateType(name, definition))
        elif before != definition:
            if definition["kind"] == "enum" == before["kind"]:
                kept = [label for label in definition["labels"] if label in before["labels"]]
                if kept != before["labels"]:
                    raise ConfigurationError(
                        f"The local enum {name} lost or reordered labels ({', '.join(before['labels'])} "
                        f"-> {', '.join(definition['labels'])}); PostgreSQL cannot remove enum "
                        "labels, so no migration can follow. Restore the labels locally, or "
                        f"rename the type locally so Railway gets a new one."
                    )
            steps.append(AlterType(name, before, definition))
    return steps


def target_state(local: str, old: Shape) -> tuple[Shape, tuple[str, ...]]:
    """(the shape Railway should have, the configured tables parents first).

    A table the migrations know but the settings no longer name stays as it is while local
    still has it; dropped locally, it is dropped on Railway. Excluded columns Railway's
    migrations know are kept (the site may own them).
    """
    names = tables.configured(local).names
    excluded = conf.exclude_columns()
    new = catalog.snapshot(local, names, excluded)
    if new.unsupported:
        raise ConfigurationError(
            "railway_sync cannot carry these to Railway: "
            + "; ".join(new.unsupported)
            + ". Leave those tables out of RAILWAY_SYNC_TABLES (or the columns out with "
            "RAILWAY_SYNC_EXCLUDE_COLUMNS); nothing was written."
        )
    for table in names:
        if table in old.tables:
            kept = [c for c in old.tables[table]["columns"] if (table, name_of(c)) in excluded]
            new.tables[table]["columns"].extend(kept)
            # And what Railway's migrations built on them (the local snapshot leaves it out).
            words = [re.compile(rf"\b{re.escape(name_of(column))}\b") for column in kept]
            for kind in ("constraints", "indexes"):
                for name, definition in old.tables[table][kind].items():
                    if name not in new.tables[table][kind] and any(
                        w.search(definition) for w in words
                    ):
                        new.tables[table][kind][name] = definition
    others = tuple(t for t in old.tables if t not in new.tables)
    present = tables.present(local, others)
    for table in others:
        if table in present:
            new.tables[table] = old.tables[table]
    # Types Railway's migrations made stay recorded while another kept table may use them.
    new.types = {**{n: d for n, d in old.types.items() if n not in new.types}, **new.types}
    new.extensions = sorted(set(old.extensions) | set(new.extensions))
    return new, names


def plan(local: str | None = None, migrations: MigrationLoader | None = None) -> SchemaPlan:
    """The steps no migration covers yet, and the shape they leave Railway in."""
    local = local or conf.local_alias()
    old, previous = migrated_state(configured_guide_tables(local), migrations)
    new, names = target_state(local, old)
    meaning = Meaning(local)
    steps: list[RailwayOperation] = _type_steps(old, new)
    created = [t for t in names if t not in old.tables]
    for table in created:
        shape = new.tables[table]
        steps.append(CreateTable(table, shape))
    for table in created:
        foreign = {
            name: definition
            for name, definition in new.tables[table]["constraints"].items()
            if definition.startswith("FOREIGN KEY")
        }
        if foreign:
            steps.append(AddForeignKeys(table, foreign))
    for table in names:
        if table in old.tables:
            steps.extend(_table_changes(table, old.tables[table], new.tables[table], meaning))
    dropped = [t for t in old.tables if t not in new.tables]
    # Children first: a table another dropped table points at goes after it.
    dropped.sort(key=lambda t: sum(t in _referenced_by(old.tables, other) for other in dropped))
    steps.extend(DropTable(table, old.tables[table]) for table in dropped)
    number = 1
    if previous is not None:
        match = re.match(r"(\d+)_", previous[1])
        number = int(match.group(1)) + 1 if match else 1
    touched = tuple(dict.fromkeys([*created, *[t for t in names if t in old.tables], *dropped]))
    changed = tuple(t for t in touched if any(step.table == t for step in steps))
    return SchemaPlan(tuple(steps), new, previous, number, changed)


def migration(schema_plan: SchemaPlan, name: str | None = None) -> Migration:
    """The Django migration ``schema_plan`` describes (not yet written)."""
    label = conf.SCHEMA_APP_LABEL
    if not name:
        name = "_".join(schema_plan.names[:3]) or "schema"
        if len(schema_plan.names) > 3:
            name += "_and_more"
    name = f"{schema_plan.number:04d}_{re.sub(r'[^0-9A-Za-z_]', '_', name)}"
    state = schema_plan.state
    operations: list[Any] = [*schema_plan.operations]
    operations.append(SchemaState(state.tables, state.types, state.extensions))
    generated = type(
        "Migration",
        (Migration,),
        {
            "dependencies": [schema_plan.previous or BASE_MIGRATION],
            "initial": schema_plan.previous is None,
            "operations": operations,
        },
    )
    return generated(name, label)


def writer(schema_plan: SchemaPlan, name: str | None = None) -> MigrationWriter:
    """A :class:`MigrationWriter` for the migration, refusing a folder inside site-packages."""
    module = conf.migrations_module()
    if not module:
        raise ConfigurationError(
            f'MIGRATION_MODULES has no "{conf.SCHEMA_APP_LABEL}" entry, so there is no folder '
            f"to write Railway's migrations to. Add MIGRATION_MODULES = "
            f'{{"{conf.SCHEMA_APP_LABEL}": "yourproject.railway_migrations"}} to settings.'
        )
    result = MigrationWriter(migration(schema_plan, name), include_header=True)
    if "site-packages" in Path(result.basedir).parts:
        raise ConfigurationError(
            f"MIGRATION_MODULES[{conf.SCHEMA_APP_LABEL!r}] is {module!r}, inside site-packages; "
            "point it at a package of your project, which you commit."
        )
    return result


def require_covered(local: str, migrations: MigrationLoader | None = None) -> None:
    """Raise :class:`SchemaMismatch` when local's tables have changes no Railway migration
    covers: constraints, indexes, defaults and types as well as the columns the sync compares."""
    pending = plan(local, migrations)
    if not pending.empty:
        listed = "; ".join(step.describe() for step in pending.operations)
        raise SchemaMismatch(
            f"The local schema has {len(pending.operations)} change(s) no Railway migration "
            f"covers ({listed}){NOTHING_WRITTEN}. Run: {DRIFT_FIX}",
            [],
        )


def synced_columns(
    local: str,
    railway_columns: dict[str, list[Column] | None],
    applied: frozenset[tuple[str, str]],
    names: tuple[str, ...],
) -> dict[str, list[Column]]:
    """The columns a run syncs of each table of ``names``, once Railway's live columns
    (``railway_columns``, with the migrations ``applied`` there) match local's and every
    local change is covered by a migration; else :class:`SchemaMismatch` naming the fix.
    The migration files are read once."""
    migrations = loader()
    try:
        columns = compare_schemas(
            local,
            railway_columns,
            names,
            conf.exclude_columns(),
            migrated_columns(applied, configured_guide_tables(local), migrations),
        )
    except SchemaMismatch:
        # What no migration can carry is named first: the fix the drift names would fail.
        target_state(local, Shape({}))
        raise
    require_covered(local, migrations)
    return columns
