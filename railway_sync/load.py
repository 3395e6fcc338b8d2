"""Writing rows to Railway: COPY from local into a staging table, then one upsert per batch.

Rows stream from the local ``COPY ... TO STDOUT`` through a pipe straight into Railway's
``COPY ... FROM STDIN``, so memory stays flat however large a row or a batch is. Generated
columns are never written (``schema.written``): Railway computes them from the columns
that are.
"""

from __future__ import annotations

import os
import threading
from array import array
from collections.abc import Callable, Iterator

from django.db import connections

from railway_sync import driver
from railway_sync.schema import Column, written
from railway_sync.sql import column_list, id_array_literal, quote_name, row_text


def batches(ids: array, size: int) -> Iterator[array]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def stream_copy(local_alias: str, copy_out_sql: str, railway_alias: str, copy_in_sql: str) -> None:
    """Pipe ``copy_out_sql`` on local into ``copy_in_sql`` on Railway."""
    local, railway = connections[local_alias], connections[railway_alias]
    local_cursor = local.cursor()
    railway_cursor = railway.cursor()
    read_fd, write_fd = os.pipe()
    producer_error: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb") as writer, local.wrap_database_errors:
                driver.copy_out(local_cursor, copy_out_sql, writer)
        except BaseException as exc:  # re-raised in the calling thread
            producer_error.append(exc)

    producer = threading.Thread(target=produce, name="railway-sync-copy", daemon=True)
    producer.start()
    try:
        # COPY is the driver's own, so Django's error translation is applied by hand.
        with os.fdopen(read_fd, "rb") as reader, railway.wrap_database_errors:
            driver.copy_in(railway_cursor, copy_in_sql, reader)
    finally:
        # Closing the read end above unblocks a producer stuck on a full pipe.
        producer.join()
        local_cursor.close()
        railway_cursor.close()
    if producer_error:
        raise producer_error[0]


def copy_into_empty(
    local_alias: str,
    railway_alias: str,
    table: str,
    columns: list[Column],
    ids: array,
    batch_size: int,
    on_batch: Callable[[int], None],
    key: str = "id",
) -> int:
    """COPY every local row straight into ``table`` on Railway, which must hold no rows.

    ``ids`` must be all the local ids, so each batch can be read as an id range.
    """
    names = column_list(written(columns))
    id_ = quote_name(key)
    target = quote_name(table)
    for batch in batches(ids, batch_size):
        stream_copy(
            local_alias,
            f"COPY (SELECT {names} FROM {target} WHERE {id_} >= {batch[0]} "
            f"AND {id_} <= {batch[-1]} ORDER BY {id_}) TO STDOUT",
            railway_alias,
            f"COPY {target} ({names}) FROM STDIN",
        )
        on_batch(len(batch))
    return len(ids)


def upsert(
    local_alias: str,
    railway_alias: str,
    table: str,
    columns: list[Column],
    ids: array,
    batch_size: int,
    on_batch: Callable[[int], None],
    key: str = "id",
) -> tuple[int, int]:
    """Insert or update the local rows ``ids`` on Railway; return (inserted, updated).

    Each batch is COPYed into a staging table, then merged by one
    ``INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE row IS DISTINCT FROM ...``, so a row
    the site changed meanwhile to the same content is not rewritten. Must run inside a
    transaction on Railway: the staging table lives until commit.

    Generated columns are left out of every list, the staging table's too: Railway computes
    them from the written ones.
    """
    if not ids:
        return 0, 0
    columns = written(columns)
    names = column_list(columns)
    id_ = quote_name(key)
    stage = quote_name(f"railway_sync_stage_{table}")
    target = quote_name(table)
    assignments = ", ".join(
        f"{quote_name(c.name)} = EXCLUDED.{quote_name(c.name)}" for c in columns if c.name != key
    )
    railway = connections[railway_alias]
    # Created once per transaction, emptied before each batch: one round trip either way.
    # Only the written columns, with their types and no constraints: a NOT NULL column the
    # sync does not write (generated, or the site's) would refuse every staged row.
    prepare_stage = (
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DROP AS "
        f"SELECT {names} FROM {target} WITH NO DATA; TRUNCATE {stage}"
    )
    upsert_sql = f"""
        WITH written AS (
            INSERT INTO {target} ({names})
            SELECT {names} FROM {stage}
            ON CONFLICT ({id_}) DO UPDATE SET {assignments}
            WHERE {row_text(columns, f"{target}.")}
                  IS DISTINCT FROM {row_text(columns, "EXCLUDED.")}
            RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
        FROM written
    """
    inserted = updated = 0
    for batch in batches(ids, batch_size):
        with railway.cursor() as cursor:
            cursor.execute(prepare_stage)
        stream_copy(
            local_alias,
            f"COPY (SELECT {names} FROM {target} WHERE {id_} = ANY({id_array_literal(batch)}) "
            f"ORDER BY {id_}) TO STDOUT",
            railway_alias,
            f"COPY {stage} ({names}) FROM STDIN",
        )
        with railway.cursor() as cursor:
            cursor.execute(upsert_sql)
            batch_inserted, batch_updated = cursor.fetchone()
        inserted += batch_inserted
        updated += batch_updated
        on_batch(len(batch))
    return inserted, updated


def delete(railway_alias: str, table: str, ids: array, batch_size: int, key: str = "id") -> int:
    """Delete rows ``ids`` from ``table`` on Railway; return how many went."""
    deleted = 0
    with connections[railway_alias].cursor() as cursor:
        for batch in batches(ids, batch_size):
            cursor.execute(
                f"DELETE FROM {quote_name(table)} "
                f"WHERE {quote_name(key)} = ANY({id_array_literal(batch)})"
            )
            deleted += cursor.rowcount
    return deleted
