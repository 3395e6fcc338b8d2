"""``railway_makemigrations``: the changes that bring Railway's synced tables to the local shape,
written as a Django migration of RunSQL operations.

What Railway's migrations describe is read from the migrations themselves, not from Railway:
each generated migration ends with a :class:`~railway_sync.operations.SchemaState` holding
the shape it leaves the tables in (before any, the shape railway_sync's ``0001_initial``
creates, ``baseline.json``). So ``--check`` needs only the local database and the migration
files, and a column the site added on Railway outside these migrations is never in that
shape, so never dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connections
from django.db.migrations import Migration, RunSQL
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.writer import MigrationWriter

from railway_sync import conf, tables
from railway_sync.errors import ConfigurationError, SchemaMismatch
from railway_sync.operations import SchemaState
from railway_sync.schema import DRIFT_FIX, Column, compare_schemas
from railway_sync.sql import quote_name

BASELINE = Path(__file__).parent / "railway_schema" / "baseline.json"
# The migration of railway_sync that creates the baseline tables on Railway.
BASE_MIGRATION = ("railway_sync", "0001_initial")
HINTS = {"railway_schema": True}
SERIAL = {"integer": "serial", "bigint": "bigserial", "smallint": "smallserial"}

# table -> {"columns": [[name, type, not_null, default]], "constraints": {..}, "indexes": {..}}
State = dict[str, dict[str, Any]]

_SCHEMA = "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())"


def snapshot(alias: str, names: tuple[str, ...]) -> State:
    """The shape of tables ``names`` on ``alias``: columns (type with length and precision,
    NOT NULL, default), constraints (primary, unique, check, foreign keys to tables among
    ``names``, with ON DELETE) and the other indexes. Excluded columns, and the constraints
    and indexes on them, are left out."""
    excluded = conf.exclude_columns()
    state: State = {name: {"columns": [], "constraints": {}, "indexes": {}} for name in names}
    with connections[alias].cursor() as cursor:
        cursor.execute(
            f"""
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   CASE WHEN a.attidentity <> '' THEN 'identity'
                        ELSE pg_get_expr(d.adbin, d.adrelid) END
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE c.relname = ANY(%s) AND c.relnamespace = {_SCHEMA}
              AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY c.relname, a.attnum
            """,
            [list(names)],
        )
        for table, column, type_, not_null, default in cursor.fetchall():
            if (table, column) not in excluded:
                state[table]["columns"].append([column, type_, not_null, default])
        cursor.execute(
            f"""
            SELECT c.relname, k.conname, pg_get_constraintdef(k.oid),
                   ARRAY(SELECT attname FROM pg_attribute
                         WHERE attrelid = k.conrelid AND attnum = ANY(k.conkey)),
                   (SELECT relname FROM pg_class WHERE oid = k.confrelid)
            FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
            WHERE c.relname = ANY(%s) AND c.relnamespace = {_SCHEMA}
              AND k.contype IN ('p', 'u', 'c', 'f', 'x')
            ORDER BY 1, 2
            """,
            [list(names)],
        )
        for table, name, definition, columns, parent in cursor.fetchall():
            if any((table, column) in excluded for column in columns):
                continue
            if parent is not None and parent not in names:
                continue  # Railway may not have the parent: only keys among synced tables
            state[table]["constraints"][name] = definition
        cursor.execute(
            """
            SELECT c.relname, i.relname,
                   replace(pg_get_indexdef(x.indexrelid),
                           ' ON ' || quote_ident(n.nspname) || '.', ' ON '),
                   ARRAY(SELECT attname FROM pg_attribute
                         WHERE attrelid = c.oid AND attnum = ANY(x.indkey::int2[]))
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class c ON c.oid = x.indrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relname = ANY(%s) AND n.nspname = current_schema()
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid
                              AND k.conrelid = c.oid AND k.contype IN ('p', 'u', 'x'))
            ORDER BY 1, 2
            """,
            [list(names)],
        )
        for table, name, definition, columns in cursor.fetchall():
            if not any((table, column) in excluded for column in columns):
                state[table]["indexes"][name] = definition
    return state


def baseline() -> State:
    """The synced tables as railway_sync's own ``0001_initial`` creates them on Railway."""
    loaded: State = json.loads(BASELINE.read_text())
    return loaded


def migrated_state(loader: MigrationLoader | None = None) -> tuple[State, tuple[str, str] | None]:
    """(the shape Railway's migrations leave the synced tables in, the latest generated
    migration or None), read from the migration files alone."""
    loader = loader or MigrationLoader(None, ignore_no_migrations=True)
    label = conf.SCHEMA_APP_LABEL
    leaves = loader.graph.leaf_nodes(label)
    if len(leaves) > 1:
        raise ConfigurationError(
            f"The {label} migrations have {len(leaves)} latest migrations "
            f"({', '.join(name for _, name in leaves)}); keep one, or merge them "
            f"(python manage.py makemigrations --merge {label})."
        )
    if not leaves:
        return baseline(), None
    state = baseline()
    for app, name in loader.graph.forwards_plan(leaves[0]):
        if app != label:
            continue
        for operation in loader.get_migration(app, name).operations:
            if isinstance(operation, SchemaState):
                state = operation.tables
    return state, leaves[0]


def migrated_columns(applied: frozenset[tuple[str, str]]) -> dict[str, frozenset[str]]:
    """table -> the columns the migrations ``applied`` on Railway ((app, name), as
    ``railway_facts`` reads them) gave it (railway_sync's ``0001_initial``, then the
    generated migrations recorded there).

    A Railway column local lacks is the site's (issue 10) unless it is one of these: then local
    dropped it, and the generated migrations drop it too (drift).
    """
    loader = MigrationLoader(None, ignore_no_migrations=True)
    label = conf.SCHEMA_APP_LABEL
    state = baseline()
    seen: set[tuple[str, str]] = set()
    for leaf in loader.graph.leaf_nodes(label):
        for node in loader.graph.forwards_plan(leaf):
            if node[0] != label or node in seen or node not in applied:
                continue
            seen.add(node)
            for operation in loader.get_migration(*node).operations:
                if isinstance(operation, SchemaState):
                    state = operation.tables
    return {
        table: frozenset(column[0] for column in shape.get("columns", ()))
        for table, shape in state.items()
    }


@dataclass(frozen=True)
class Change:
    """One step towards the local shape: what it does, its SQL and the SQL that undoes it."""

    description: str
    sql: tuple[str, ...]
    reverse_sql: tuple[str, ...] = ()

    def operation(self) -> RunSQL:
        reverse: Any = list(self.reverse_sql) if self.reverse_sql else RunSQL.noop
        return RunSQL(list(self.sql), reverse_sql=reverse, hints=HINTS, elidable=False)


@dataclass(frozen=True)
class SchemaPlan:
    """What ``railway_makemigrations`` would write."""

    changes: tuple[Change, ...]
    state: State
    previous: tuple[str, str] | None
    number: int = 1
    names: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.changes


def _is_sequence(default: str | None) -> bool:
    return bool(default) and (default == "identity" or str(default).startswith("nextval("))


def _column_sql(column: list[Any]) -> str:
    name, type_, not_null, default = column
    if _is_sequence(default):
        if default == "identity":
            return f"{quote_name(name)} {type_} GENERATED BY DEFAULT AS IDENTITY"
        return f"{quote_name(name)} {SERIAL.get(type_, type_)}"
    sql = f"{quote_name(name)} {type_}"
    if default is not None:
        sql += f" DEFAULT {default}"
    if not_null:
        sql += " NOT NULL"
    return sql


def _constraint_sql(definition: str) -> str:
    # Railway's unique keys are checked at commit, so a value moving between rows syncs.
    if definition.startswith("UNIQUE") and "DEFERRABLE" not in definition:
        return definition + " DEFERRABLE INITIALLY DEFERRED"
    return definition


def _add_constraint(table: str, name: str, definition: str) -> str:
    return (
        f"ALTER TABLE {quote_name(table)} ADD CONSTRAINT {quote_name(name)} "
        f"{_constraint_sql(definition)}"
    )


def _drop_constraint(table: str, name: str) -> str:
    return f"ALTER TABLE {quote_name(table)} DROP CONSTRAINT IF EXISTS {quote_name(name)}"


def _drop_index(name: str) -> str:
    return f"DROP INDEX IF EXISTS {quote_name(name)}"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _retype_sql(table: str, column: str, old: str, new: str) -> str:
    """Retype ``column`` with a cast; when a value does not cast, fail naming the table, the
    column and the first such value (the migration's transaction then leaves Railway as it
    was)."""
    target, col = quote_name(table), quote_name(column)
    what = _literal(f"{table}.{column}")
    return f"""DO $railway_sync$
DECLARE
    bad text;
    row record;
BEGIN
    ALTER TABLE {target} ALTER COLUMN {col} TYPE {new} USING {col}::{new};
EXCEPTION WHEN data_exception THEN
    FOR row IN SELECT {col} AS value FROM {target} WHERE {col} IS NOT NULL LOOP
        BEGIN
            PERFORM row.value::{new};
        EXCEPTION WHEN data_exception THEN
            bad := row.value::text;
            EXIT;
        END;
    END LOOP;
    RAISE EXCEPTION 'Railway cannot retype % from {old} to {new}: the value % does not cast (%). Fix that value (locally, then sync; or on Railway), then run railway_migrate again', {what}, quote_nullable(bad), SQLERRM;
END
$railway_sync$"""


def _create_table(table: str, shape: dict[str, Any]) -> tuple[str, ...]:
    columns = ",\n    ".join(_column_sql(column) for column in shape["columns"])
    return (f"CREATE TABLE {quote_name(table)} (\n    {columns}\n)",)


def _keys_and_indexes(table: str, shape: dict[str, Any], *, foreign: bool) -> tuple[str, ...]:
    """ADD CONSTRAINT for ``shape``'s constraints (foreign keys only, or all but them), and its
    indexes with the rest."""
    statements = [
        _add_constraint(table, name, definition)
        for name, definition in shape["constraints"].items()
        if definition.startswith("FOREIGN KEY") == foreign
    ]
    if not foreign:
        statements.extend(shape["indexes"].values())
    return tuple(statements)


def _referenced(state: State, table: str) -> set[str]:
    """The tables ``table``'s foreign keys point at."""
    found = set()
    for definition in state[table]["constraints"].values():
        match = re.search(r"REFERENCES ([^(]+)\(", definition)
        if match:
            found.add(match.group(1).strip().strip('"'))
    return found


def _same_default(old: str | None, new: str | None) -> bool:
    if _is_sequence(old) and _is_sequence(new):
        return True
    return old == new


def _default_sql(table: str, column: str, value: str | None) -> str:
    alter = f"ALTER TABLE {quote_name(table)} ALTER COLUMN {quote_name(column)}"
    return f"{alter} DROP DEFAULT" if value is None else f"{alter} SET DEFAULT {value}"


def _table_changes(table: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    changes: list[Change] = []
    target = quote_name(table)
    old_constraints, new_constraints = old["constraints"], new["constraints"]
    old_indexes, new_indexes = old["indexes"], new["indexes"]
    for name, definition in old_constraints.items():
        if new_constraints.get(name) != definition:
            changes.append(
                Change(
                    f"Drop constraint {name} on {table}",
                    (_drop_constraint(table, name),),
                    (_add_constraint(table, name, definition),),
                )
            )
    for name, definition in old_indexes.items():
        if new_indexes.get(name) != definition:
            changes.append(
                Change(f"Drop index {name} on {table}", (_drop_index(name),), (definition,))
            )
    old_columns = {column[0]: column for column in old["columns"]}
    new_columns = {column[0]: column for column in new["columns"]}
    for name, column in old_columns.items():
        if name not in new_columns:
            changes.append(
                Change(
                    f"Drop column {table}.{name}",
                    (f"ALTER TABLE {target} DROP COLUMN IF EXISTS {quote_name(name)}",),
                    (f"ALTER TABLE {target} ADD COLUMN {_column_sql(column)}",),
                )
            )
    for name, column in new_columns.items():
        col = quote_name(name)
        before = old_columns.get(name)
        if before is None:
            changes.append(
                Change(
                    f"Add column {table}.{name} ({column[1]})",
                    (f"ALTER TABLE {target} ADD COLUMN {_column_sql(column)}",),
                    (f"ALTER TABLE {target} DROP COLUMN IF EXISTS {col}",),
                )
            )
            continue
        _, old_type, old_not_null, old_default = before
        _, new_type, new_not_null, new_default = column
        if old_type != new_type:
            changes.append(
                Change(
                    f"Retype {table}.{name} from {old_type} to {new_type}",
                    (_retype_sql(table, name, old_type, new_type),),
                    (_retype_sql(table, name, new_type, old_type),),
                )
            )
        if not _same_default(old_default, new_default):
            changes.append(
                Change(
                    f"Change the default of {table}.{name} to {new_default or 'none'}",
                    (_default_sql(table, name, new_default),),
                    (_default_sql(table, name, old_default),),
                )
            )
        if old_not_null != new_not_null:
            set_, drop = "SET NOT NULL", "DROP NOT NULL"
            changes.append(
                Change(
                    f"Make {table}.{name} {'NOT NULL' if new_not_null else 'nullable'}",
                    (f"ALTER TABLE {target} ALTER COLUMN {col} {set_ if new_not_null else drop}",),
                    (f"ALTER TABLE {target} ALTER COLUMN {col} {set_ if old_not_null else drop}",),
                )
            )
    for name, definition in new_constraints.items():
        if old_constraints.get(name) != definition:
            changes.append(
                Change(
                    f"Add constraint {name} on {table}: {definition}",
                    (_add_constraint(table, name, definition),),
                    (_drop_constraint(table, name),),
                )
            )
    for name, definition in new_indexes.items():
        if old_indexes.get(name) != definition:
            changes.append(
                Change(f"Add index {name} on {table}", (definition,), (_drop_index(name),))
            )
    return changes


def target_state(local: str, old: State) -> tuple[State, tuple[str, ...]]:
    """(the shape Railway should have, the configured tables parents first).

    A table the migrations know but the settings no longer name stays as it is while local
    still has it; dropped locally, it is dropped on Railway. Excluded columns Railway's
    migrations know are kept (the site may own them).
    """
    catalog = tables.configured(local)
    names = catalog.names
    new = snapshot(local, names)
    excluded = conf.exclude_columns()
    for table in names:
        if table in old:
            kept = [c for c in old[table]["columns"] if (table, c[0]) in excluded]
            new[table]["columns"].extend(kept)
            # And what Railway's migrations built on them (the local snapshot leaves it out).
            words = [re.compile(rf"\b{re.escape(column[0])}\b") for column in kept]
            for kind in ("constraints", "indexes"):
                for name, definition in old[table][kind].items():
                    if name not in new[table][kind] and any(w.search(definition) for w in words):
                        new[table][kind][name] = definition
    others = tuple(t for t in old if t not in new)
    present = tables.present(local, others)
    for table in others:
        if table in present:
            new[table] = old[table]
    return new, names


def plan(local: str | None = None, loader: MigrationLoader | None = None) -> SchemaPlan:
    """The changes no migration covers yet, and the shape they leave Railway in."""
    local = local or conf.local_alias()
    old, previous = migrated_state(loader)
    new, names = target_state(local, old)
    changes: list[Change] = []
    created = [t for t in names if t not in old]
    for table in created:
        changes.append(
            Change(
                f"Create table {table}",
                _create_table(table, new[table])
                + _keys_and_indexes(table, new[table], foreign=False),
                (f"DROP TABLE IF EXISTS {quote_name(table)}",),
            )
        )
    for table in created:
        foreign = _keys_and_indexes(table, new[table], foreign=True)
        if foreign:
            changes.append(
                Change(
                    f"Add the foreign keys of {table}",
                    foreign,
                    tuple(
                        _drop_constraint(table, name)
                        for name, d in new[table]["constraints"].items()
                        if d.startswith("FOREIGN KEY")
                    ),
                )
            )
    for table in names:
        if table in old:
            changes.extend(_table_changes(table, old[table], new[table]))
    dropped = [t for t in old if t not in new]
    # Children first: a table another dropped table points at goes after it.
    dropped.sort(key=lambda t: sum(t in _referenced(old, other) for other in dropped))
    for table in dropped:
        changes.append(
            Change(
                f"Drop table {table}",
                (f"DROP TABLE IF EXISTS {quote_name(table)}",),
                _create_table(table, old[table])
                + _keys_and_indexes(table, old[table], foreign=False)
                + _keys_and_indexes(table, old[table], foreign=True),
            )
        )
    number = 1
    if previous is not None:
        match = re.match(r"(\d+)_", previous[1])
        number = int(match.group(1)) + 1 if match else 1
    touched = tuple(dict.fromkeys([*created, *[t for t in names if t in old], *dropped]))
    changed = tuple(t for t in touched if any(t in c.description for c in changes))
    return SchemaPlan(tuple(changes), new, previous, number, changed)


def migration(schema_plan: SchemaPlan, name: str | None = None) -> Migration:
    """The Django migration ``schema_plan`` describes (not yet written)."""
    label = conf.SCHEMA_APP_LABEL
    if not name:
        name = "_".join(schema_plan.names[:3]) or "schema"
        if len(schema_plan.names) > 3:
            name += "_and_more"
    name = f"{schema_plan.number:04d}_{re.sub(r'[^0-9A-Za-z_]', '_', name)}"
    operations: list[Any] = [change.operation() for change in schema_plan.changes]
    operations.append(SchemaState(schema_plan.state))
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


def require_covered(local: str) -> None:
    """Raise :class:`SchemaMismatch` when local's tables have changes no Railway migration
    covers: constraints, indexes and defaults as well as the columns the sync compares."""
    pending = plan(local)
    if not pending.empty:
        listed = "; ".join(change.description for change in pending.changes)
        raise SchemaMismatch(
            f"The local schema has {len(pending.changes)} change(s) no Railway migration "
            f"covers ({listed}); nothing was written. Run: {DRIFT_FIX}",
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
    local change is covered by a migration; else :class:`SchemaMismatch` naming the fix."""
    columns = compare_schemas(
        local, railway_columns, names, conf.exclude_columns(), migrated_columns(applied)
    )
    require_covered(local)
    return columns
