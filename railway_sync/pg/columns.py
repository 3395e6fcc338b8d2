"""A table's columns as PostgreSQL's catalog gives them, on either database."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections


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


def live_columns(alias: str, table: str) -> list[Column] | None:
    """The columns of ``table`` in the current schema of ``alias`` in order; None if absent."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            """
            SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   a.attgenerated <> ''
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relname = %s
              AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
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
