"""``railway_sync --watch``: one long-lived process that syncs as soon as local changes.

Cron pays Django's start-up and the connections' set-up on every run; a watch pays them once
and keeps its connections. Between syncs it asks only the local server, once per interval,
whether the synced tables were written (``LocalChanges``); Railway is asked nothing but a
keepalive a minute. A cycle that fails (a
lost connection, a schema that changed) is reported in one line and tried again after a
backoff, whether or not local changed meanwhile; each sync takes the run lock as any other,
so a watch and a cron sync never run at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections
from django.db.utils import DatabaseError, InterfaceError

from railway_sync.engine import tracking
from railway_sync.errors import RailwaySyncError
from railway_sync.pg import own_writes
from railway_sync.pg.failures import translate
from railway_sync.pg.sql import quote_name
from railway_sync.report import SyncReport

KEEPALIVE_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 60.0


@dataclass(frozen=True)
class Cycle:
    """One sync of the watch: its report, or the one line that says why it failed and when
    it is tried again."""

    number: int
    report: SyncReport | None
    error: str = ""
    retry_in: float = 0.0


class LocalChanges:
    """Whether the synced tables were written since the last look, asked of local alone.

    While the server assigns no new transaction id nothing was written anywhere, and that
    costs one tiny query; nor was anything when each id since is one of railway_sync's own
    history writes (``pg.own_writes``: one more); otherwise each table is counted, with the rows written by
    transactions from the last look on (``xmin``, as change tracking reads it), so inserts,
    updates and deletes are all seen, the moment they commit.
    """

    def __init__(self, local: str, names: tuple[str, ...]) -> None:
        self.local, self.names = local, names
        self.next_xid: int | None = None
        self.since: int | None = None
        self.counts: tuple[int, ...] | None = None

    def changed(self) -> bool:
        """Whether anything changed since the last call (the first call: True)."""
        with connections[self.local].cursor() as cursor:
            cursor.execute(
                "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint, "
                "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
            )
            next_xid, oldest_running = cursor.fetchone()
            if next_xid == self.next_xid:
                return False
            if (
                self.next_xid is not None
                and self.since == self.next_xid
                and own_writes.only_own_since(self.local, self.next_xid, next_xid)
            ):
                # Only railway_sync's own history was written (this watch's, after a sync).
                self.next_xid = self.since = next_xid
                return False
            self.next_xid = next_xid
            counts: list[int] = []
            written = False
            for table in self.names:
                changed = (
                    f"count(*) FILTER (WHERE {tracking.changed_since(self.since)})"
                    if self.since is not None
                    else "0"
                )
                cursor.execute(f"SELECT count(*), {changed} FROM {quote_name(table)}")
                rows, changed_rows = cursor.fetchone()
                counts.append(rows)
                written = written or changed_rows > 0
            self.since = oldest_running
            first, self.counts = self.counts is None, tuple(counts)
        return first or written or tuple(counts) != self.counts


def keepalive(railway: str) -> None:
    with connections[railway].cursor() as cursor:
        cursor.execute("SELECT 1")


def watch(
    sync: Callable[[], SyncReport],
    *,
    interval: float,
    on_cycle: Callable[[Cycle], None],
    stopping: Callable[[], bool],
    local: str,
    railway: str,
    names: tuple[str, ...],
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run ``sync`` now, then whenever local's tables ``names`` change, until
    ``stopping()``; return how many cycles ran. ``on_cycle`` receives each one."""
    cycles = 0
    failures = 0
    local_changes = LocalChanges(local, names)
    last_asked = time.monotonic()
    while not stopping():
        due = False
        try:
            # Asked before the sync: what is written while it runs is seen next time.
            due = local_changes.changed() or failures > 0
            if due:
                cycles += 1
                report = sync()
                failures = 0
                last_asked = time.monotonic()
                on_cycle(Cycle(cycles, report))
            elif time.monotonic() - last_asked >= KEEPALIVE_SECONDS:
                keepalive(railway)
                last_asked = time.monotonic()
        except (RailwaySyncError, DatabaseError, InterfaceError) as exc:
            failures += 1
            connections.close_all()
            retry_in = min(interval * 2 ** (failures - 1), MAX_BACKOFF_SECONDS)
            if not due:
                cycles += 1
            line = str(exc) if isinstance(exc, RailwaySyncError) else str(translate(exc))
            on_cycle(Cycle(cycles, None, _one_line(line), retry_in))
            _pause(retry_in, stopping, sleep)
            continue
        _pause(interval, stopping, sleep)
    return cycles


def _pause(seconds: float, stopping: Callable[[], bool], sleep: Callable[[float], None]) -> None:
    """Sleep ``seconds``, waking early to stop."""
    end = time.monotonic() + seconds
    while not stopping():
        left = end - time.monotonic()
        if left <= 0:
            return
        sleep(min(left, 0.1))


def _one_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")
