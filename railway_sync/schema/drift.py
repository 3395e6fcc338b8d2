"""How the synced tables' columns differ between the two databases (drift)."""

from __future__ import annotations

from railway_sync.errors import NOTHING_WRITTEN, SchemaMismatch
from railway_sync.pg.columns import Column, live_columns


def _nullability(column: Column) -> str:
    return "NOT NULL" if column.not_null else "NULL"


def _kind(column: Column) -> str:
    return "a generated column" if column.generated else "a plain column"


def column_differences(table: str, local: list[Column], railway: list[Column]) -> list[str]:
    """One line per column of ``table`` that differs between local and Railway.

    A column only Railway has is not a difference: it is the site's, and the sync never reads
    or writes it (``site_columns``).
    """
    railway_by_name = {column.name: column for column in railway}
    lines = []
    for column in local:
        other = railway_by_name.get(column.name)
        if other is None:
            lines.append(f"  {table}.{column.name}: missing on Railway (local has {column.type})")
        elif other.type != column.type:
            lines.append(
                f"  {table}.{column.name}: type is {column.type} locally but {other.type} on Railway"
            )
        elif other.not_null != column.not_null:
            lines.append(
                f"  {table}.{column.name}: {_nullability(column)} locally but "
                f"{_nullability(other)} on Railway"
            )
        elif other.generated != column.generated:
            # Where Railway's is plain the sync would have to write it, and where it is
            # generated Railway would refuse the values local's plain column holds.
            lines.append(
                f"  {table}.{column.name}: {_kind(column)} locally but {_kind(other)} on Railway"
            )
    return lines


DRIFT_FIX = "python manage.py railway_makemigrations && python manage.py railway_migrate"


def site_columns(local: list[Column], railway: list[Column] | None) -> tuple[str, ...]:
    """The columns of a table on Railway the sync never reads or writes: the ones only
    Railway has (the site's) and the ones ``RAILWAY_SYNC_EXCLUDE_COLUMNS`` leaves out of
    ``local`` (the synced columns)."""
    synced = {column.name for column in local}
    return tuple(column.name for column in railway or [] if column.name not in synced)


def railway_columns(alias: str, tables: tuple[str, ...]) -> dict[str, list[Column] | None]:
    """Each table's columns on ``alias`` (None when absent), one statement per table; a run
    reads them all at once through ``railway_facts``."""
    return {table: live_columns(alias, table) for table in tables}


def compare_schemas(
    local_alias: str,
    railway_tables: dict[str, list[Column] | None],
    tables: tuple[str, ...],
    excluded: frozenset[tuple[str, str]] = frozenset(),
    migrated: dict[str, frozenset[str]] | None = None,
) -> dict[str, list[Column]]:
    """Check every table exists on both sides with the same columns; return local columns,
    in the order of ``tables``. ``railway_tables`` are Railway's columns per table (None:
    absent). Columns in ``excluded`` ((table, column)) are left out.

    A column only Railway has is the site's and no difference, unless ``migrated`` (table ->
    the columns Railway's migrations created) names it: then local dropped it, and Railway's
    migrations must follow.

    Raises :class:`SchemaMismatch` listing every difference before anything is written.
    """
    columns: dict[str, list[Column]] = {}
    missing_local: list[str] = []
    missing_railway: list[str] = []
    differences: list[str] = []
    for table in tables:
        local = live_columns(local_alias, table)
        railway = railway_tables.get(table)
        if local is None:
            missing_local.append(table)
            continue
        local = [column for column in local if (table, column.name) not in excluded]
        columns[table] = local
        if railway is None:
            missing_railway.append(table)
            continue
        railway = [column for column in railway if (table, column.name) not in excluded]
        differences.extend(column_differences(table, local, railway))
        local_names = {column.name for column in local}
        differences.extend(
            f"  {table}.{column.name}: dropped locally, still on Railway ({column.type})"
            for column in railway
            if column.name not in local_names and column.name in (migrated or {}).get(table, ())
        )
    if missing_local:
        raise _no_local_tables(missing_local)
    if missing_railway:
        raise SchemaMismatch(
            f"Railway has no table {', '.join(missing_railway)}. Run: {DRIFT_FIX}",
            [],
        )
    if differences:
        raise SchemaMismatch(
            f"Railway's columns differ from local in {len(differences)} place(s)"
            f"{NOTHING_WRITTEN}. Run: {DRIFT_FIX}",
            differences,
        )
    return columns


def _no_local_tables(missing: list[str]) -> SchemaMismatch:
    return SchemaMismatch(
        f"The local database has no table {', '.join(missing)}. "
        "Check DATABASE_URL points at the scrapers' database.",
        [],
    )


def railway_tables_present(alias: str, tables: tuple[str, ...]) -> bool:
    """Whether every synced table exists on ``alias``."""
    return all(live_columns(alias, table) is not None for table in tables)
