"""Rows linked by a foreign key to rows a sync deletes: the site's rows on Railway that point
at a row about to be deleted are named, so the guards can refuse the delete.

``pointing_at`` (a row points at one of given rows of its parent, whichever of the parent's
unique columns the key references) is shared with ``ownership.held_back``, which holds back
the local rows pointing at rows this sync keeps out.
"""

from __future__ import annotations

from array import array

from django.db import connections

from railway_sync.engine.owned_ids import local_ids_sql, owned_ranges
from railway_sync.pg.sql import id_array_literal, quote_name
from railway_sync.schema.tables import ForeignKey


def pointing_at(fk: ForeignKey, keys: dict[str, str], parent_ids: array) -> str:
    """SQL condition: ``fk.child``'s row points at one of the rows ``parent_ids`` (primary key
    values) of ``fk.parent``, whether the key references the parent's primary key or another
    of its unique columns."""
    column = quote_name(fk.column)
    parent_key = keys.get(fk.parent, "id")
    if fk.parent_column == parent_key:
        return f"{column} = ANY({id_array_literal(parent_ids)})"
    return (
        f"{column} IN (SELECT {quote_name(fk.parent_column)} FROM {quote_name(fk.parent)} "
        f"WHERE {quote_name(parent_key)} = ANY({id_array_literal(parent_ids)}))"
    )


def site_children_of(
    railway: str,
    parent: str,
    parent_ids: array,
    foreign_keys: list[ForeignKey],
    local_id_ranges: dict[str, str],
    leaving: dict[str, array],
    table_present: bool = True,
    keys: dict[str, str] | None = None,
) -> list[str]:
    """The site's rows on Railway that point at rows of ``parent`` about to be deleted
    (``parent_ids``, primary key values), one phrase each; rows in ``leaving`` go too and do
    not count.

    ``foreign_keys`` are those among the synced tables; ``keys`` each table's primary key.
    """
    found: list[str] = []
    keys = keys or {}
    if not parent_ids:
        return found
    for fk in foreign_keys:
        if fk.parent != parent:
            continue
        child = fk.child
        owned = owned_ranges(
            railway, child, local_ids_sql(railway, local_id_ranges[child]), table_present
        )
        pk = quote_name(keys.get(child, "id"))
        pointing = pointing_at(fk, keys, parent_ids)
        parent_id = (
            quote_name(fk.column)
            if fk.parent_column == keys.get(parent, "id")
            else f"(SELECT p.{quote_name(keys.get(parent, 'id'))} FROM {quote_name(parent)} p "
            f"WHERE p.{quote_name(fk.parent_column)} = c.{quote_name(fk.column)} LIMIT 1)"
        )
        with connections[railway].cursor() as cursor:
            cursor.execute(
                f"SELECT c.{pk}, {parent_id} FROM {quote_name(child)} c "
                f"WHERE {pointing} "
                f"AND NOT c.{pk}::bigint <@ {owned} ORDER BY c.{pk}"
            )
            rows = cursor.fetchall()
        going = set(leaving.get(child, ()))
        found.extend(
            f"{child} {row_id} (the site's) points at {parent} {parent_id}, which local deleted"
            for row_id, parent_id in rows
            if row_id not in going
        )
    return found
