"""Writing rows from a source to a target (local to Railway for a sync, the other way for a
pull): COPY into a staging table, then one upsert per batch.

Rows stream from the source's ``COPY ... TO STDOUT`` through a pipe straight into the
target's ``COPY ... FROM STDIN``, so memory stays flat however large a row or a batch is.
Generated columns are never written (``columns.written``): the target computes them from the
columns that are. A COPY into an empty table may go in binary form (``binary``; the sync asks
for it when every column's type allows, ``columns.binary_copyable``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from django.db import connections
from django.db.utils import IntegrityError

from railway_sync.engine.id_sets import contains
from railway_sync.pg import driver
from railway_sync.pg.columns import Column, binary_copyable, written
from railway_sync.pg.sql import column_list, id_array_literal, quote_name, ranges_literal, row_text

if sys.platform == "linux":
    import fcntl

# What the pipe between the source's COPY and the target's holds. Linux's default, 64 KiB, made
# the target wait whenever the thread reading the source was a step behind; with a megabyte
# the source runs ahead (``driver.COPY_CHUNK`` has the figures). Linux caps it at
# /proc/sys/fs/pipe-max-size, a megabyte unless raised.
PIPE_BYTES = 1 << 20


def _widen(pipe_fd: int) -> None:
    if sys.platform == "linux":
        with contextlib.suppress(OSError):  # above the cap: the default size serves
            fcntl.fcntl(pipe_fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)


class TableNoLongerEmpty(Exception):
    """COPY into a table surveyed empty met a row written since (a unique key taken); the
    transaction must be rolled back and the table written through ``upsert``."""


@contextlib.contextmanager
def surveyed_empty(table: str) -> Iterator[None]:
    """Around loading ``table``, surveyed empty, by COPY: a unique value found twice (by the
    COPY, or by a unique constraint added back after it) is a row another session (the site)
    inserted since, raised as :class:`TableNoLongerEmpty`. The source's keys are unique."""
    try:
        yield
    except IntegrityError as exc:
        if exc.__cause__ is not None and driver.sqlstate(exc.__cause__) == "23505":
            raise TableNoLongerEmpty(table) from exc
        raise


def batches(ids: array, size: int) -> Iterator[array]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# Binary COPY's header: an 11-byte signature, 4 bytes of flags, the length of an extension
# area (4 bytes), then that area; its trailer: a field count of -1 (2 bytes).
_BINARY_HEADER = 19
_BINARY_TRAILER = 2
_BINARY = " (FORMAT binary)"


class Digesting:
    """A writer that feeds what passes through it to a SHA-256 ``digest`` (and on to
    ``writer``, if any).

    ``binary``: what passes is one binary COPY, and only its rows are digested, not its header
    and trailer, so the rows of several COPY statements digest as the rows of one."""

    def __init__(
        self, digest: hashlib._Hash, writer: IO[bytes] | None = None, *, binary: bool = False
    ) -> None:
        self.digest, self.writer = digest, writer
        self.in_header = binary
        # Binary: the last bytes seen, held back until more come, as they may be the trailer.
        self.held: bytes | None = b"" if binary else None

    def write(self, data: bytes) -> int:
        if self.held is None:
            self.digest.update(data)
        else:
            self._rows(bytes(data))
        return self.writer.write(data) if self.writer is not None else len(data)

    def _rows(self, data: bytes) -> None:
        assert self.held is not None
        if self.in_header or len(data) < _BINARY_TRAILER:
            data, self.held = self.held + data, b""
            if self.in_header:
                if len(data) < _BINARY_HEADER:
                    self.held = data
                    return
                end = _BINARY_HEADER + int.from_bytes(data[15:_BINARY_HEADER], "big")
                if len(data) < end:
                    self.held = data
                    return
                data, self.in_header = data[end:], False
            if len(data) < _BINARY_TRAILER:
                self.held = data
                return
        self.digest.update(self.held)
        self.digest.update(memoryview(data)[:-_BINARY_TRAILER])
        self.held = data[-_BINARY_TRAILER:]


def stream_copy(
    source_alias: str,
    copy_out_sql: str,
    target_alias: str,
    copy_in_sql: str,
    digest: hashlib._Hash | None = None,
    *,
    binary: bool = False,
) -> None:
    """Pipe ``copy_out_sql`` on the source into ``copy_in_sql`` on the target, feeding the
    bytes sent to ``digest`` if given (the rows alone when the COPY is ``binary``)."""
    source, target = connections[source_alias], connections[target_alias]
    source_cursor = source.cursor()
    target_cursor = target.cursor()
    read_fd, write_fd = os.pipe()
    _widen(write_fd)
    producer_error: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb") as pipe, source.wrap_database_errors:
                writer = pipe if digest is None else Digesting(digest, pipe, binary=binary)
                driver.copy_out(source_cursor, copy_out_sql, writer)  # type: ignore[arg-type]
        except BaseException as exc:  # re-raised in the calling thread
            producer_error.append(exc)

    producer = threading.Thread(target=produce, name="railway-sync-copy", daemon=True)
    producer.start()
    try:
        # COPY is the driver's own, so Django's error translation is applied by hand.
        with os.fdopen(read_fd, "rb") as reader, target.wrap_database_errors:
            driver.copy_in(target_cursor, copy_in_sql, reader)
    finally:
        # Closing the read end above unblocks a producer stuck on a full pipe.
        producer.join()
        source_cursor.close()
        target_cursor.close()
    if producer_error:
        raise producer_error[0]


def copy_into_empty(
    source_alias: str,
    target_alias: str,
    table: str,
    columns: list[Column],
    ids: array,
    batch_size: int,
    on_batch: Callable[[int], None],
    key: str = "id",
    every_id: bool = True,
    *,
    binary: bool = False,
) -> Copied:
    """COPY the source rows ``ids`` straight into ``table`` on the target, which must hold no
    rows, in binary form if ``binary`` (every column must be ``columns.binary_copyable``).

    ``every_id``: ``ids`` are all the source's ids, so each batch is read as an id range;
    otherwise (rows held back) by the ids themselves.
    """
    names = column_list(written(columns))
    id_ = quote_name(key)
    target = quote_name(table)
    in_binary = _BINARY if binary else ""
    digest = hashlib.sha256()
    for batch in batches(ids, batch_size):
        if every_id:
            rows = f"{id_} >= {batch[0]} AND {id_} <= {batch[-1]}"
        else:
            rows = f"{id_} = ANY({id_array_literal(batch)})"
        with surveyed_empty(table):
            stream_copy(
                source_alias,
                f"COPY (SELECT {names} FROM {target} WHERE {rows} ORDER BY {id_}) "
                f"TO STDOUT{in_binary}",
                target_alias,
                f"COPY {target} ({names}) FROM STDIN{in_binary}",
                digest,
                binary=binary,
            )
        on_batch(len(batch))
    every_column = len(written(columns)) == len(columns)
    return Copied(len(ids), digest.digest() if every_column else None)


def copies_binary(columns: list[Column]) -> bool:
    """Whether a sync COPYs a table of ``columns`` into empty Railway, and reads it back, in
    binary form: when every column's type allows. Railway parses and prints binary faster than
    text (its indexes are built after the load). A pull sends text: into local's tables, which
    keep their indexes, binary measured slower."""
    return binary_copyable(written(columns))


@dataclass(frozen=True)
class Copied:
    """Rows COPYed into an empty table, and the SHA-256 of what they were sent as (their text,
    or their binary form), in key order (None when the table has generated columns, which are
    not sent): the table holds exactly those rows, and nothing else, if ``copied_digest``
    finds the same."""

    rows: int
    sent_digest: bytes | None


def copied_digest(
    alias: str, table: str, columns: list[Column], key: str = "id", *, binary: bool = False
) -> bytes:
    """SHA-256 of ``table`` on ``alias`` as ``copy_into_empty`` sent it: every row, ``columns``
    in order (those written), in ``key`` order, in the same form (``binary`` as it was given).
    COPY's text form escapes the column and row separators, and its binary form gives each
    value's length: either way equal bytes are equal values, column by column, and so equal
    text forms."""
    names = column_list(written(columns))
    id_ = quote_name(key)
    digest = hashlib.sha256()
    connection = connections[alias]
    with connection.cursor() as cursor, connection.wrap_database_errors:
        driver.copy_out(
            cursor,
            f"COPY (SELECT {names} FROM {quote_name(table)} ORDER BY {id_}) "
            f"TO STDOUT{_BINARY if binary else ''}",
            Digesting(digest, binary=binary),  # type: ignore[arg-type]
        )
    return digest.digest()


@dataclass(frozen=True)
class Upserted:
    """What the upsert did: rows inserted and updated, the rows planned as new that it
    found taken (a row written at that id since the survey, the site's) and left as they
    were, and the ids of the rows it wrote (sorted), which the sync owns from then on."""

    inserted: int
    updated: int
    taken: array
    written: array = field(default_factory=lambda: array("q"))


def upsert(
    source_alias: str,
    target_alias: str,
    table: str,
    columns: list[Column],
    ids: array,
    batch_size: int,
    on_batch: Callable[[int], None],
    key: str = "id",
    *,
    new: array | None = None,
    owned: str | None = None,
) -> Upserted:
    """Insert or update the source rows ``ids`` on the target.

    Each batch is COPYed into a staging table, then merged by one
    ``INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE row IS DISTINCT FROM ...``, so a row
    the site changed meanwhile to the same content is not rewritten. Must run inside a
    transaction on the target: the staging table lives until commit.

    ``new`` (sorted) are the ids the target lacked when the sync looked, and ``owned`` SQL for
    the ids the sync owns (None: all); given them, the statement updates only a row that was
    there then and is owned, in the same step as it checks: a row the site commits at a new
    id at any moment before is never overwritten, and comes back in ``taken``. Without them
    (the source wins every conflict) every row at ``ids`` is written. Generated columns are left
    out of every list, the staging table's too: the target computes them from the written ones.
    """
    if not ids:
        return Upserted(0, 0, array("q"))
    columns = written(columns)
    names = column_list(columns)
    id_ = quote_name(key)
    stage = quote_name(f"railway_sync_stage_{table}")
    target = quote_name(table)
    assignments = ", ".join(
        f"{quote_name(c.name)} = EXCLUDED.{quote_name(c.name)}" for c in columns if c.name != key
    )
    target_connection = connections[target_alias]
    # Created once per transaction, emptied before each batch: one round trip either way.
    # Only the written columns, with their types and no constraints: a NOT NULL column the
    # sync does not write (generated, or the site's) would refuse every staged row.
    prepare_stage = (
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DROP AS "
        f"SELECT {names} FROM {target} WITH NO DATA; TRUNCATE {stage}"
    )
    protected = new is not None
    if owned is not None:
        owned_check = f" AND coalesce({target}.{id_}::bigint <@ {owned}, true)"
    else:
        owned_check = ""

    def upsert_sql(batch: array) -> str:
        fresh = ranges_literal(i for i in batch if contains(new, i)) if new is not None else ""
        guard = f" AND NOT {target}.{id_}::bigint <@ {fresh}{owned_check}" if protected else ""
        taken = (
            f"(SELECT array_agg({id_} ORDER BY {id_}) FROM {stage} "
            f"WHERE {id_}::bigint <@ {fresh} AND {id_} NOT IN (SELECT i FROM written))"
            if protected
            else "NULL::bigint[]"
        )
        return f"""
        WITH written AS (
            INSERT INTO {target} ({names})
            SELECT {names} FROM {stage}
            ON CONFLICT ({id_}) DO UPDATE SET {assignments}
            WHERE {row_text(columns, f"{target}.")}
                  IS DISTINCT FROM {row_text(columns, "EXCLUDED.")}{guard}
            RETURNING {target}.{id_} AS i, (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), {taken},
            array_agg(i ORDER BY i)
        FROM written
    """

    inserted = updated = 0
    taken_ids, written_ids = array("q"), array("q")
    for batch in batches(ids, batch_size):
        with target_connection.cursor() as cursor:
            cursor.execute(prepare_stage)
        stream_copy(
            source_alias,
            f"COPY (SELECT {names} FROM {target} WHERE {id_} = ANY({id_array_literal(batch)}) "
            f"ORDER BY {id_}) TO STDOUT",
            target_alias,
            f"COPY {stage} ({names}) FROM STDIN",
        )
        with target_connection.cursor() as cursor:
            cursor.execute(upsert_sql(batch))
            batch_inserted, batch_updated, batch_taken, batch_written = cursor.fetchone()
        inserted += batch_inserted
        updated += batch_updated
        taken_ids.extend(batch_taken or ())
        # Batches go up by id, so the ids stay sorted.
        written_ids.extend(batch_written or ())
        on_batch(len(batch))
    return Upserted(inserted, updated, taken_ids, written_ids)


def delete(target_alias: str, table: str, ids: array, batch_size: int, key: str = "id") -> int:
    """Delete rows ``ids`` from ``table`` on the target; return how many went."""
    deleted = 0
    with connections[target_alias].cursor() as cursor:
        for batch in batches(ids, batch_size):
            cursor.execute(
                f"DELETE FROM {quote_name(table)} "
                f"WHERE {quote_name(key)} = ANY({id_array_literal(batch)})"
            )
            deleted += cursor.rowcount
    return deleted
