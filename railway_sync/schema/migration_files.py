"""Railway's migration files as railway_sync reads them: loading them (a file that does not
load is one line naming it), and the shape the generated migrations leave the synced tables
in (their ``SchemaState``, from the first shape ``guide_tables.baseline`` gives), overall and
as applied on Railway."""

from __future__ import annotations

import os
import traceback

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader
from django.db.utils import DatabaseError, InterfaceError

from railway_sync import conf
from railway_sync.errors import ConfigurationError
from railway_sync.operations import SchemaState
from railway_sync.schema.catalog import Shape, name_of
from railway_sync.schema.guide_tables import baseline


def loader(connection: BaseDatabaseWrapper | None = None) -> MigrationLoader:
    """Django's migration loader, with a migration file that does not import (a syntax error,
    a bad name) reported as one line naming the file and the line."""
    try:
        return MigrationLoader(connection, ignore_no_migrations=True)
    except (DatabaseError, InterfaceError):
        raise  # reading which migrations Railway has (a lock, a lost connection): not a file's
    except Exception as exc:  # a migration module's own error, whatever it is
        raise _broken_migration(exc) from None


def _broken_migration(exc: Exception) -> ConfigurationError:
    where = None
    if isinstance(exc, SyntaxError) and exc.filename:
        where = (exc.filename, exc.lineno)
    else:
        frames = [
            f
            for f in traceback.extract_tb(exc.__traceback__)
            if "migrations" in f.filename and f"{os.sep}django{os.sep}" not in f.filename
        ]
        if frames:
            where = (frames[-1].filename, frames[-1].lineno)
    place = f"{where[0]}, line {where[1]}" if where else "a migration file"
    reason = exc.msg if isinstance(exc, SyntaxError) else f"{type(exc).__name__}: {exc}"
    return ConfigurationError(
        f"A migration file does not load: {place} ({reason}). Fix or delete that file, then "
        "run the command again."
    )


def migrated_state(
    names: tuple[str, ...], migrations: MigrationLoader | None = None
) -> tuple[Shape, tuple[str, str] | None]:
    """(the shape Railway's migrations leave the synced tables in, the latest generated
    migration or None), read from the migration files alone. ``names``: the guide's tables
    the configuration names (what ``0001_initial`` made, before any generated migration)."""
    migrations = migrations or loader()
    label = conf.SCHEMA_APP_LABEL
    leaves = migrations.graph.leaf_nodes(label)
    if len(leaves) > 1:
        raise ConfigurationError(
            f"The {label} migrations have {len(leaves)} latest migrations "
            f"({', '.join(name for _, name in leaves)}); keep one, or merge them "
            f"(python manage.py makemigrations --merge {label})."
        )
    state = Shape(baseline(names))
    if not leaves:
        return state, None
    for app, name in migrations.graph.forwards_plan(leaves[0]):
        if app != label:
            continue
        for operation in migrations.get_migration(app, name).operations:
            if isinstance(operation, SchemaState):
                state = operation.shape()
    return state, leaves[0]


def migrated_columns(
    applied: frozenset[tuple[str, str]],
    names: tuple[str, ...],
    migrations: MigrationLoader | None = None,
) -> dict[str, frozenset[str]]:
    """table -> the columns the migrations ``applied`` on Railway ((app, name), as
    ``railway_facts`` reads them) gave it (``0001_initial`` for the guide's tables ``names``,
    then the generated migrations recorded there).

    A Railway column local lacks is the site's (issue 10) unless it is one of these: then local
    dropped it, and the generated migrations drop it too (drift).
    """
    migrations = migrations or loader()
    label = conf.SCHEMA_APP_LABEL
    state = baseline(names)
    seen: set[tuple[str, str]] = set()
    for leaf in migrations.graph.leaf_nodes(label):
        for node in migrations.graph.forwards_plan(leaf):
            if node[0] != label or node in seen or node not in applied:
                continue
            seen.add(node)
            for operation in migrations.get_migration(*node).operations:
                if isinstance(operation, SchemaState):
                    state = operation.tables
    return {
        table: frozenset(name_of(column) for column in shape.get("columns", ()))
        for table, shape in state.items()
    }
