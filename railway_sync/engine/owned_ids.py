"""Which ids the sync owns on Railway, as SQL: Railway's record (``railway_sync_owned``, one
``int8multirange`` per table) read, counted, and, for a table without a record, the ids local
has.

Only SQL text here, run by the survey, the planner and the writer inside their own
statements; ``ownership`` decides what the answers mean.
"""

from __future__ import annotations

from railway_sync.pg.columns import Column
from railway_sync.pg.grants import OWNED_TABLE
from railway_sync.pg.sql import literal, quote_name, row_hash


def owned_ranges(railway: str, table: str, local_ids: str, table_present: bool = True) -> str:
    """SQL for the ids the sync owns in ``table`` on Railway: the record, or without one the
    ids local has (``local_ids``, an SQL expression of type int8multirange).
    ``table_present``: whether Railway has the ownership table (a dry run or status before
    migration 0005 has none)."""
    if not table_present:
        return local_ids
    return (
        f"coalesce((SELECT ids FROM {quote_name(OWNED_TABLE)} "
        f"WHERE table_name = {literal(railway, table)}), {local_ids})"
    )


# An empty int8multirange, as SQL.
NO_IDS = "'{}'::int8multirange"


def local_ids_sql(railway: str, local_id_ranges: str) -> str:
    """``local_id_ranges`` (int8multirange text) as an SQL value for ``railway``."""
    return f"{literal(railway, local_id_ranges)}::int8multirange"


def unowned_sql(
    railway: str,
    table: str,
    columns: list[Column],
    local_id_ranges: str | None,
    table_present: bool = True,
    key: str = "id",
) -> str:
    """SQL for ``table``'s Railway rows the sync does not own: id (``i``), whether local has
    the id (``l``) and the row's hash (``h``), by id. The site's rows are expected to be few.

    Local's ids, which can run to megabytes where ids have many gaps, are sent once. Where
    the table has a record, ``local_id_ranges`` may be None: the record alone says what is
    owned, ``l`` is NULL, and the caller asks local about those few ids (``survey.local_has``)."""
    pk = quote_name(key)
    if local_id_ranges is None:
        return (
            f"SELECT {pk} AS i, NULL::boolean AS l, {row_hash(columns)} AS h "
            f"FROM {quote_name(table)} WHERE {pk} = ANY(ARRAY("
            f"SELECT railway_sync_unowned.{pk} FROM {quote_name(table)} AS railway_sync_unowned "
            f"WHERE NOT railway_sync_unowned.{pk}::bigint <@ {record_expression(railway, table)}"
            f")) ORDER BY {pk}"
        )
    local = "(SELECT ids FROM railway_sync_local_ids)"
    owned = owned_ranges(railway, table, local, table_present)
    # The ids alone first (the primary key's index holds them); only those rows are read
    # whole, for their hash, rather than every row of the table.
    return (
        f"WITH railway_sync_local_ids AS MATERIALIZED "
        f"(SELECT {local_ids_sql(railway, local_id_ranges)} AS ids) "
        f"SELECT {pk} AS i, {pk}::bigint <@ {local} AS l, {row_hash(columns)} AS h "
        f"FROM {quote_name(table)} WHERE {pk} = ANY(ARRAY("
        f"SELECT railway_sync_unowned.{pk} FROM {quote_name(table)} AS railway_sync_unowned "
        f"WHERE NOT railway_sync_unowned.{pk}::bigint <@ {owned})) "
        f"ORDER BY {pk}"
    )


def recorded_sql(railway: str, table: str) -> str:
    """SQL for how many ids ``table``'s ownership record holds (``n``); no row without one."""
    return (
        "SELECT coalesce((SELECT sum(coalesce(upper(r) - lower(r), 1)) "
        f"FROM unnest(o.ids) AS r), 0) AS n FROM {quote_name(OWNED_TABLE)} o "
        f"WHERE o.table_name = {literal(railway, table)}"
    )


def record_expression(railway: str, table: str) -> str:
    """SQL for the ids ``table``'s ownership record holds on Railway (NULL without one)."""
    return (
        f"(SELECT ids FROM {quote_name(OWNED_TABLE)} WHERE table_name = {literal(railway, table)})"
    )
