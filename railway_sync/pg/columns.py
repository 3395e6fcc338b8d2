"""A table's columns as PostgreSQL's catalog gives them, on either database."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connections

from railway_sync.pg.sql import CURRENT_SCHEMA


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # format_type(): "character varying(255)", "numeric(10,2)", ...
    not_null: bool
    # GENERATED ALWAYS AS (...) STORED (pg_attribute.attgenerated): each server computes it,
    # so a sync never writes it, but compares it like any column. (An identity column is not
    # generated in this sense: its values are written.)
    generated: bool = False


def written(columns: list[Column]) -> list[Column]:
    """The columns a sync writes: all but generated ones, which PostgreSQL refuses values for
    (``cannot insert a non-DEFAULT value``) and computes from the others."""
    return [column for column in columns if not column.generated]


# Built-in types (as format_type() names them, with or without a modifier, and arrays of them)
# whose binary COPY form is the same on every supported server and holds the whole value, so
# equal binary forms are equal text forms. A type a database defines (an enum, a domain, a
# composite) goes as text: arrays and composites carry its OID, which differs between databases.
_BINARY_TYPES = re.compile(
    r"(?:smallint|integer|bigint|real|double precision|boolean|text|bytea|uuid|jsonb?|date"
    r"|numeric(?:\(\d+(?:,\d+)?\))?|character(?: varying)?(?:\(\d+\))?"
    r"|(?:timestamp|time)(?:\(\d\))? with(?:out)? time zone)(?:\[\])*"
)


def binary_copyable(columns: list[Column]) -> bool:
    """Whether ``columns`` can be COPYed in binary form, which PostgreSQL reads and writes
    faster than text: every one is of a built-in type above. The sync and the pull compare
    the two sides' types first (``drift.column_differences``), so both sides have the same."""
    return all(_BINARY_TYPES.fullmatch(column.type) for column in columns)


def live_columns(alias: str, table: str) -> list[Column] | None:
    """The columns of ``table`` in the current schema of ``alias`` in order; None if absent."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            f"""
            SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   a.attgenerated <> ''
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relname = %s
              AND c.relnamespace = {CURRENT_SCHEMA}
              AND c.relkind IN ('r', 'p')
              AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum
            """,
            [table],
        )
        rows = cursor.fetchall()
    if not rows:
        return None
    return [Column(*row) for row in rows]
