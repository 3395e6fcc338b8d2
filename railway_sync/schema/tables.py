"""Which tables and columns a sync carries, read from the local catalog and the settings.

``RAILWAY_SYNC_TABLES`` names the tables; each needs a single-column ``integer`` or ``bigint``
primary key (any name). Unset, the tables are those the local database has of the guide's five
(``conf.DEFAULT_TABLES``): the scrapers dropped ``animal_images`` since, and a default that
names a table the schema no longer has must not stop every command; the catalog says so in
a notice. ``RAILWAY_SYNC_EXCLUDE_COLUMNS`` removes columns. The order is the local foreign
keys' (parents first), so writes never point at a row not yet written and deletions go
children first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.db import connections

from railway_sync import conf
from railway_sync.errors import ConfigurationError
from railway_sync.pg.columns import Column, live_columns
from railway_sync.pg.sql import CURRENT_SCHEMA

KEY_TYPES = ("integer", "bigint")


@dataclass(frozen=True)
class ForeignKey:
    child: str
    column: str
    parent: str
    parent_column: str


@dataclass(frozen=True)
class Table:
    """A synced table: its name, primary key column, and the columns the sync carries."""

    name: str
    key: str
    columns: tuple[Column, ...]
    foreign_keys: tuple[ForeignKey, ...]


@dataclass(frozen=True)
class Catalog:
    """The configured tables, parents first; ``notices`` are the warnings reading them gave
    (a default table the local database lacks), one line each, for every command to show."""

    tables: tuple[Table, ...]
    notices: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(table.name for table in self.tables)

    def keys(self) -> dict[str, str]:
        """table -> its primary key column."""
        return {table.name: table.key for table in self.tables}

    def __getitem__(self, name: str) -> Table:
        return next(table for table in self.tables if table.name == name)

    def foreign_keys(self) -> list[ForeignKey]:
        """Every foreign key between two configured tables."""
        names = set(self.names)
        return [fk for table in self.tables for fk in table.foreign_keys if fk.parent in names]


# The single-column foreign keys of the current schema, as (child, column, parent, parent
# column); the caller adds which children and how to order them.
FOREIGN_KEY_COLUMNS = "child.relname, a.attname, parent.relname, pa.attname"
FOREIGN_KEYS = f"""
    FROM pg_constraint k
    JOIN pg_class child ON child.oid = k.conrelid
    JOIN pg_class parent ON parent.oid = k.confrelid
    JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
    JOIN pg_attribute pa ON pa.attrelid = k.confrelid AND pa.attnum = k.confkey[1]
    WHERE k.contype = 'f' AND cardinality(k.conkey) = 1 AND child.relnamespace = {CURRENT_SCHEMA}
"""


def _existing(alias: str, names: tuple[str, ...]) -> set[str]:
    with connections[alias].cursor() as cursor:
        cursor.execute(
            f"SELECT relname FROM pg_class WHERE relname = ANY(%s) AND relkind IN ('r', 'p') "
            f"AND relnamespace = {CURRENT_SCHEMA}",
            [list(names)],
        )
        return {row[0] for row in cursor.fetchall()}


def _primary_keys(alias: str, names: tuple[str, ...]) -> dict[str, list[tuple[str, str]]]:
    """table -> [(column, type)] of its primary key (empty when it has none)."""
    keys: dict[str, list[tuple[str, str]]] = {name: [] for name in names}
    with connections[alias].cursor() as cursor:
        cursor.execute(
            f"""
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
            FROM pg_constraint k
            JOIN pg_class c ON c.oid = k.conrelid
            CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, n)
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = u.attnum
            WHERE k.contype = 'p' AND c.relname = ANY(%s) AND c.relnamespace = {CURRENT_SCHEMA}
            ORDER BY c.relname, u.n
            """,
            [list(names)],
        )
        for table, column, type_ in cursor.fetchall():
            keys[table].append((column, type_))
    return keys


def _foreign_keys(alias: str, names: tuple[str, ...]) -> dict[str, list[ForeignKey]]:
    found: dict[str, list[ForeignKey]] = {name: [] for name in names}
    with connections[alias].cursor() as cursor:
        cursor.execute(
            f"""
            SELECT {FOREIGN_KEY_COLUMNS} {FOREIGN_KEYS} AND child.relname = ANY(%s)
            ORDER BY child.relname, k.conname
            """,
            [list(names)],
        )
        for child, column, parent, parent_column in cursor.fetchall():
            found[child].append(ForeignKey(child, column, parent, parent_column))
    return found


def parents_first(names: tuple[str, ...], foreign_keys: list[ForeignKey]) -> tuple[str, ...]:
    """``names`` ordered so every table comes after the tables its foreign keys point at
    (otherwise in the configured order); a cycle is a :class:`ConfigurationError`."""
    parents = {name: set() for name in names}  # type: dict[str, set[str]]
    for fk in foreign_keys:
        if fk.parent in parents and fk.parent != fk.child:
            parents[fk.child].add(fk.parent)
    ordered: list[str] = []
    remaining = list(names)
    while remaining:
        ready = [name for name in remaining if parents[name] <= set(ordered)]
        if not ready:
            raise ConfigurationError(
                "RAILWAY_SYNC_TABLES: the foreign keys between "
                + ", ".join(sorted(remaining))
                + " form a cycle, so no table can be written first. Sync them separately, "
                "or leave one of them out of RAILWAY_SYNC_TABLES."
            )
        # One at a time, so tables keep their configured order wherever the keys allow.
        ordered.append(ready[0])
        remaining.remove(ready[0])
    return tuple(ordered)


def read(alias: str, names: tuple[str, ...]) -> Catalog:
    """The tables ``names`` as the catalog of ``alias`` describes them, parents first.

    Raises :class:`ConfigurationError` for a table ``alias`` lacks or whose primary key is
    not one integer or bigint column.
    """
    missing = [name for name in names if name not in _existing(alias, names)]
    if missing:
        raise ConfigurationError(
            f"The local database has no table {', '.join(missing)}. Check DATABASE_URL points "
            "at the scrapers' database, or RAILWAY_SYNC_TABLES."
        )
    keys = _primary_keys(alias, names)
    for name in names:
        key = keys[name]
        if len(key) != 1 or key[0][1] not in KEY_TYPES:
            shown = (
                "no primary key"
                if not key
                else "primary key (" + ", ".join(f"{c} {t}" for c, t in key) + ")"
            )
            raise ConfigurationError(
                f"{name} has {shown}; railway_sync needs a single integer or bigint primary "
                "key column. Add one, or remove the table from RAILWAY_SYNC_TABLES."
            )
    excluded = conf.exclude_columns()
    for table, column in sorted(excluded):
        if table in names and keys[table][0][0] == column:
            raise ConfigurationError(
                f"RAILWAY_SYNC_EXCLUDE_COLUMNS names {table}.{column}, the primary key; "
                "rows cannot be synced without it. Remove it from the setting."
            )
    foreign_keys = _foreign_keys(alias, names)
    tables = {}
    for name in names:
        columns = live_columns(alias, name) or []
        tables[name] = Table(
            name=name,
            key=keys[name][0][0],
            columns=tuple(c for c in columns if (name, c.name) not in excluded),
            foreign_keys=tuple(
                fk for fk in foreign_keys[name] if (name, fk.column) not in excluded
            ),
        )
    order = parents_first(names, [fk for fks in foreign_keys.values() for fk in fks])
    return Catalog(tuple(tables[name] for name in order))


def selected(local: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the tables to sync, the notices choosing them gave): those ``RAILWAY_SYNC_TABLES``
    names, else those the local database has of the default tables, with one notice naming
    the ones it lacks. When it has none of them, all five are returned, so that ``read``
    names them in its error (a database without the scrapers' tables is a wrong
    ``DATABASE_URL``, not a schema that moved on)."""
    named = conf.tables_named()
    if named:
        return named, ()
    present = _existing(local, conf.DEFAULT_TABLES)
    names = tuple(name for name in conf.DEFAULT_TABLES if name in present)
    absent = [name for name in conf.DEFAULT_TABLES if name not in present]
    if not names or not absent:
        return conf.DEFAULT_TABLES, ()
    notice = (
        f"The local database has no table{'s' if len(absent) > 1 else ''} {', '.join(absent)}: "
        f"syncing the default tables it has, {', '.join(names)} (set RAILWAY_SYNC_TABLES to "
        "choose the tables)."
    )
    return names, (notice,)


def configured(local: str | None = None) -> Catalog:
    """The tables to sync (``selected``), as the local catalog describes them, with the
    notices choosing them gave."""
    local = local or conf.local_alias()
    names, notices = selected(local)
    return replace(read(local, names), notices=notices)


def primary_keys(alias: str, names: tuple[str, ...]) -> dict[str, str]:
    """Each table of ``names`` with a one-column primary key on ``alias``: that column."""
    return {name: key[0][0] for name, key in _primary_keys(alias, names).items() if len(key) == 1}


def present(alias: str, names: tuple[str, ...]) -> set[str]:
    """Which of ``names`` exist as tables in the current schema of ``alias``."""
    return _existing(alias, names) if names else set()
