"""The ownership record a sync leaves for a table it wrote: which of the table's Railway rows
are the sync's from now on (``railway_sync_owned``), stored in the transaction that wrote them.

Only SQL text here, as in ``owned_ids``; ``bookkeeping`` runs it with the table's other closing
statements, and ``ownership`` says what the record means.
"""

from __future__ import annotations

from array import array

from railway_sync.engine.owned_ids import NO_IDS, local_ids_sql, owned_ranges, record_expression
from railway_sync.engine.ownership import Ownership
from railway_sync.pg.columns import Column
from railway_sync.pg.grants import OWNED_TABLE
from railway_sync.pg.sql import (
    id_array_literal,
    id_range,
    literal,
    quote_name,
    ranges_literal,
    row_hash,
)

# The bounds of an index scan over one range of a record: [a, b) ends at b - 1, and only a
# range holding the largest bigint has no upper end (``id_range``). Typed, so that an id
# column of any integer type compares with them on its index.
_FIRST = "coalesce(lower(railway_sync_range), '-9223372036854775808'::bigint)"
_LAST = "coalesce(upper(railway_sync_range) - 1, '9223372036854775807'::bigint)"


def record_sql(
    railway: str,
    table: str,
    columns: list[Column],
    local_id_ranges: str | None,
    missing: array,
    own: Ownership,
    written: array | None,
    key: str = "id",
) -> str:
    """SQL storing which of ``table``'s Railway rows the sync owns; run it in the transaction
    that wrote the table (or, nothing written, with the run's other bookkeeping).

    Owned from now on: the rows it owned before that Railway still has (without a record,
    the rows at ids local has that were there when it looked, ``missing`` being the ids
    Railway lacked then), the rows this transaction wrote (``written``, sorted, as the upsert
    returned them), and the site's rows found identical to local's (``own.adopted``) that
    still are. A row the site wrote at an id local has, whenever it did, is none of these:
    it stays the site's.

    Which owned rows are still there is counted per range of the old record on the primary
    key's index: a range with as many rows as ids is whole, and only a range with ids gone
    is read id by id (0.1 to 0.2 s for 200,000 animals), so whatever deletes the sync's rows
    takes their ids out of the record first (``forget_sql``). (Reading every row of the
    table, ``xmin`` naming the written ones, cost a sync after 1% of 200,000 animals changed
    0.3 s.)

    ``local_id_ranges`` None: Railway held a record when the sync looked, so local's ids are
    not needed (reading them cost a sync after 1% of 200,000 animals changed 0.13 s). Should
    that record be gone by now, nothing is stored, and the next sync goes by local's ids, as
    for a table without a record.
    """
    pk, target = quote_name(key), quote_name(table)
    if local_id_ranges is None:
        previous = owned_ranges(railway, table, NO_IDS)
        only_if_recorded = f"WHERE {record_expression(railway, table)} IS NOT NULL"
    else:
        there = f"({local_ids_sql(railway, local_id_ranges)} - {ranges_literal(missing)})"
        previous, only_if_recorded = owned_ranges(railway, table, there), ""
    within = f"{target}.{pk} BETWEEN {_FIRST} AND {_LAST}"
    pieces = [
        "SELECT railway_sync_range FROM railway_sync_previous WHERE railway_sync_whole",
        f"SELECT {id_range(key)} FROM railway_sync_previous JOIN {target} ON {within} "
        "WHERE NOT railway_sync_whole",
    ]
    if written:
        pieces.append(f"SELECT unnest({ranges_literal(written)})")
    if own.adopted:
        hashes = ", ".join(literal(railway, value) for value in own.adopted_hashes)
        pieces.append(
            f"SELECT {id_range(key)} FROM {target} "
            f"WHERE {pk} = ANY({id_array_literal(own.adopted)}) "
            f"AND {row_hash(columns)} = ANY(ARRAY[{hashes}]::text[])"
        )
    return f"""
        INSERT INTO {quote_name(OWNED_TABLE)} (table_name, ids, recorded_at)
        SELECT {literal(railway, table)}, (
            WITH railway_sync_previous AS MATERIALIZED (
                SELECT railway_sync_range, (
                    SELECT count(*) FROM {target} WHERE {within}
                ) = {_LAST}::numeric - {_FIRST} + 1 AS railway_sync_whole
                FROM unnest({previous}) AS railway_sync_range
            )
            SELECT coalesce(range_agg(railway_sync_piece), {NO_IDS})
            FROM ({" UNION ALL ".join(pieces)}) AS railway_sync_pieces (railway_sync_piece)
        ), now()
        {only_if_recorded}
        ON CONFLICT (table_name) DO UPDATE
            SET ids = EXCLUDED.ids, recorded_at = EXCLUDED.recorded_at
        """


def copied_record_sql(railway: str, table: str, copied: array) -> str:
    """SQL storing that the sync owns exactly the rows ``copied`` (sorted) of ``table``, which
    it COPYed into the table while it was empty, in this transaction: what ``record_sql``
    would find, without reading the table. It owned nothing there before (the table was
    empty), a row the site inserted at one of those ids would have failed the COPY, and rows
    the site inserted at other ids are its own."""
    return f"""
        INSERT INTO {quote_name(OWNED_TABLE)} (table_name, ids, recorded_at)
        VALUES ({literal(railway, table)}, {ranges_literal(copied)}, now())
        ON CONFLICT (table_name) DO UPDATE
            SET ids = EXCLUDED.ids, recorded_at = EXCLUDED.recorded_at
        """


def forget_sql(railway: str, table: str, deleted: array) -> str:
    """SQL taking the ids the sync deleted (sorted) out of ``table``'s ownership record, in the
    transaction that deleted them (a prune's, or a rebuild's before ``record_sql``): the next
    record then finds its ranges whole, and a row the site puts at one of them is its own."""
    return (
        f"UPDATE {quote_name(OWNED_TABLE)} SET ids = ids - {ranges_literal(deleted)} "
        f"WHERE table_name = {literal(railway, table)}"
    )
