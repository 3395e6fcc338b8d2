"""Every SQL fragment more than one module writes: quoting, column lists, id lists, row
counts, and the one definition of when two rows are the same.

No f-string puts a bare name into SQL: identifiers go through ``quote_name``.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable, Sequence
from typing import Protocol

from django.db import connections

from railway_sync.pg import driver

# The schema unqualified names resolve in (the first of search_path): where the synced tables
# and railway_sync's own are looked up, on either database.
CURRENT_SCHEMA = "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())"


class Named(Protocol):
    """What a column list needs of a column (``columns.Column`` has it; this module does not
    import that one, which reads the catalog with ``CURRENT_SCHEMA``)."""

    @property
    def name(self) -> str: ...


def quote_name(name: str) -> str:
    """``name`` as a PostgreSQL identifier, quoted whatever it holds."""
    return '"' + name.replace('"', '""') + '"'


def column_list(columns: Sequence[Named], prefix: str = "") -> str:
    """The quoted column names, each after ``prefix`` (a quoted table name and a dot)."""
    return ", ".join(prefix + quote_name(column.name) for column in columns)


def row_text(columns: Sequence[Named], prefix: str = "") -> str:
    """SQL for a row's text form: two rows are the same only if these texts are the same.

    Every comparison of rows goes through this, directly (the upsert) or hashed (``row_hash``).
    ``ROW(...)::text`` quotes each field that needs it and writes NULL as nothing (``''`` is
    ``""``), so rows whose columns differ in any text form have different texts. Type-aware
    equality is not enough: ``hash_record_extended`` hashes jsonb ``[[1],2]`` and ``[[1,2]]``
    alike (it skips where arrays and objects end) and numeric ``5.5`` like ``5.50``, so such
    an edit never reached Railway. Both servers write the same text for the same value
    because ``connection.SESSION_SETTINGS`` (sent when connecting) fixes datestyle, intervalstyle,
    extra_float_digits and bytea_output, and Django sets TimeZone from ``TIME_ZONE``.
    """
    return f"ROW({column_list(columns, prefix)})::text"


def row_hash(columns: Sequence[Named]) -> str:
    """SQL for a row's content hash, computed by the server that holds the row.

    SHA-256, because a hash that may call different rows equal is not a comparison: md5
    collisions are made on purpose with little effort and a 64-bit hash falls to brute
    force, while no SHA-256 collision is known. It is built into PostgreSQL 11+.
    ``convert_to(..., 'UTF8')`` gives the same bytes whatever each server's encoding;
    ``::text::bytea`` would not do, as it reads backslashes as escapes. Sent as base64 text
    (44 characters a row): a third less than bytea's hex, and as a Python str less than half
    the memory of a memoryview.
    """
    return f"encode(sha256(convert_to({row_text(columns)}, 'UTF8')), 'base64')"


def id_range(column: str = "id") -> str:
    """SQL for the one-id range ``[id, id]`` as int8range, for ``range_agg``.

    ``int8range(id, id, '[]')`` would overflow at the largest bigint (its canonical form ends
    at id + 1); an unbounded upper end holds no other bigint.
    """
    key = quote_name(column)
    return (
        f"CASE WHEN {key} = 9223372036854775807 THEN int8range({key}::bigint, NULL) "
        f"ELSE int8range({key}::bigint, {key}::bigint + 1) END"
    )


def ranges_literal(ids: Iterable[int]) -> str:
    """Sorted ``ids`` as an ``int8multirange`` SQL value: a run of consecutive ids is one
    range, so a batch of new rows costs a few bytes however many they are."""
    runs: list[str] = []
    first = last = None
    for value in ids:
        if last is not None and value == last + 1:
            last = value
            continue
        if first is not None and last is not None:
            runs.append(_run(first, last))
        first = last = value
    if first is not None and last is not None:
        runs.append(_run(first, last))
    return "'{" + ",".join(runs) + "}'::int8multirange"


def ranges_ids(text: str) -> array:
    """The ids an ``int8multirange``'s text form (``{[1,3),[7,8)}``, as PostgreSQL prints
    it: canonical, sorted) holds, sorted. A range unbounded above ends at the largest bigint
    (``id_range``)."""
    ids = array("q")
    for first, after in re.findall(r"\[(-?\d+),(-?\d*)\)", text):
        ids.extend(range(int(first), int(after) if after else 2**63))
    return ids


def _run(first: int, last: int) -> str:
    # The largest bigint has no successor: its range is unbounded above (see ``id_range``).
    return f"[{first},{'' if last == 9223372036854775807 else last + 1})"


def literal(alias: str, value: str) -> str:
    """``value`` as an SQL string literal, quoted by the driver for ``alias``'s connection."""
    connection = connections[alias]
    connection.ensure_connection()
    return driver.quote_literal(connection.connection, value)


def id_array_literal(ids: Iterable[int]) -> str:
    # ids are machine integers from our own queries, so formatting them is injection-free.
    return "'{" + ",".join(str(value) for value in ids) + "}'::bigint[]"


def id_ranges(alias: str, table: str, key: str = "id", where: str = "TRUE") -> str:
    """The ids (primary ``key``) of ``table``'s rows on ``alias`` that match ``where`` (SQL),
    as ``int8multirange`` text, computed by that server."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            f"SELECT coalesce(range_agg({id_range(key)}), '{{}}'::int8multirange)::text "
            f"FROM {quote_name(table)} WHERE {where}"
        )
        return str(cursor.fetchone()[0])


def count_rows(alias: str, table: str) -> int:
    """How many rows ``table`` holds on ``alias``."""
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {quote_name(table)}")
        (count,) = cursor.fetchone()
    return int(count)


def execute_together(alias: str, statements: list[str]) -> None:
    """Run ``statements`` on ``alias`` as one message: one round trip, and, outside a
    transaction, one implicit transaction (all or none of them take effect)."""
    if statements:
        with connections[alias].cursor() as cursor:
            cursor.execute(";\n".join(statement.strip() for statement in statements))
