"""Asking both databases at once: the same query (or one each) computed by both servers in
parallel while the caller reads the answers.

``stream_both`` streams large answers through server-side cursors, fetched ahead by a thread
per side; ``ask_both`` sends several bounded SELECTs to each side in one statement. A pair
that fails on one side closes the other, leaving no thread and no cursor behind.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import weakref
from collections.abc import Iterator

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from railway_sync.pg import driver

# Rows per fetch of a server-side cursor.
FETCH_ROWS = 20_000


class Stream:
    """Rows of ``sql`` on ``alias`` through a server-side cursor, fetched ahead by a thread.

    The thread starts at once, so two streams opened together have both servers computing
    at the same time while the caller merges them. ``close()`` stops the thread and closes its
    cursor; it runs when the stream ends, fails, leaves a ``with`` block, or is dropped unread.
    """

    def __init__(self, alias: str, sql: str, *, small: bool = False) -> None:
        connection = connections[alias]
        connection.ensure_connection()
        self.chunks: queue.Queue = queue.Queue(maxsize=4)
        self.rows: Iterator[tuple] = iter(())
        self.ended = False
        # The other stream of a pair (its closer, so the two never form a reference cycle).
        self.partner: weakref.finalize | None = None
        stop = threading.Event()
        worker = threading.Thread(
            target=self._fetch,
            args=(connection, sql, self.chunks, stop, small),
            name=f"railway-sync-{alias}",
            daemon=True,
        )
        worker.start()
        # The thread holds no reference to the stream, so a stream its caller dropped without
        # reading (an exception came first) is closed as soon as it is garbage. Not at exit:
        # a daemon thread inside a long query must not hold up the end of the process.
        self._closer = weakref.finalize(self, self._stop, worker, stop, self.chunks)
        self._closer.atexit = False  # type: ignore[misc]  # a documented attribute

    @staticmethod
    def _fetch(
        connection: BaseDatabaseWrapper,
        sql: str,
        chunks: queue.Queue,
        stop: threading.Event,
        small: bool,
    ) -> None:
        raw = connection.connection
        try:
            with connection.wrap_database_errors:
                if small:
                    # One round trip (a server-side cursor takes four: DECLARE, FETCH, FETCH,
                    # CLOSE), for answers bounded whatever the table's size.
                    with raw.cursor() as plain:
                        plain.execute(sql)
                        rows = plain.fetchall()
                    if rows:
                        chunks.put(rows)
                    chunks.put([])
                    return
                fetched = driver.server_cursor(raw, sql, FETCH_ROWS)
                try:
                    for rows in fetched:
                        chunks.put(rows)
                        if stop.is_set():
                            break
                finally:
                    fetched.close()
        except BaseException as exc:  # handed to the consuming thread
            chunks.put(exc)

    def __iter__(self) -> Iterator[tuple]:
        return self

    def __next__(self) -> tuple:
        while True:
            row = next(self.rows, None)
            if row is not None:
                return row
            if self.ended:
                raise StopIteration
            if not self._closer.alive:
                # Closed before its end (its partner failed): a short read must never pass
                # for the whole result.
                raise RuntimeError("read from a railway_sync stream closed before its end")
            item = self.chunks.get()
            if isinstance(item, BaseException):
                self.close()
                if self.partner is not None:
                    self.partner()
                raise item
            if not item:
                self.ended = True
                self.close()
                raise StopIteration
            self.rows = iter(item)

    def close(self) -> None:
        self._closer()

    @staticmethod
    def _stop(worker: threading.Thread, stop: threading.Event, chunks: queue.Queue) -> None:
        stop.set()
        # Free queue space until the fetcher sees ``stop`` (it may be blocked on a full queue).
        while True:
            worker.join(timeout=0.005)
            if not worker.is_alive():
                break
            with contextlib.suppress(queue.Empty):
                chunks.get_nowait()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def stream_both(
    local_alias: str,
    railway_alias: str,
    sql: str,
    railway_sql: str | None = None,
    *,
    small: bool = False,
) -> tuple[Stream, Stream]:
    """The same query (or ``railway_sql`` on Railway) streaming from both databases at once.

    ``small``: the answer is bounded (per id range, or per batch of ids), so it comes in one
    round trip rather than through a server-side cursor. If the second stream fails to open,
    or either fails while read, both are closed.
    """
    local = Stream(local_alias, sql, small=small)
    try:
        railway = Stream(railway_alias, railway_sql or sql, small=small)
    except BaseException:
        local.close()
        raise
    local.partner, railway.partner = railway._closer, local._closer
    return local, railway


def ask_both(
    local_alias: str, railway_alias: str, local_parts: list[str], railway_parts: list[str]
) -> tuple[list[list[tuple]], list[list[tuple]]]:
    """Several SELECTs on each database, each side in one statement (one round trip), both
    sides at once: per SELECT, its rows as tuples.

    For answers bounded whatever the tables' sizes (per id range, or ids a caller counted);
    each SELECT's rows travel as one JSON array, so every column must be named (``AS``).
    """

    def statement(parts: list[str]) -> str:
        return "SELECT " + ", ".join(
            f"(SELECT coalesce(json_agg(q), '[]') FROM ({sql}) q)" for sql in parts
        )

    def rows(stream: Stream) -> list[list[tuple]]:
        with stream:
            (answers,) = list(stream)
        return [[tuple(row.values()) for row in part] for part in answers]

    local, railway = stream_both(
        local_alias, railway_alias, statement(local_parts), statement(railway_parts), small=True
    )
    return rows(local), rows(railway)
