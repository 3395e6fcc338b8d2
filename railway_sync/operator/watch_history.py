"""The run history of ``railway_sync --watch``: an hour of successful syncs is one row.

A watch that syncs every few seconds all day would otherwise write thousands of runs. The
successive successful syncs of one watch are folded into one ``SyncRun`` (``cycles`` of
them) for up to ``ROLLUP`` from its start: its end moves forward with each (so "last
successful sync" stays true), its per-table rows written and deleted add up. A sync that
does not succeed (failed, or landed with conflicts or refused tables) is a row of its own,
as a cron sync's would be, and the next success starts a new row.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.db.utils import Error
from django.utils import timezone

from railway_sync import conf
from railway_sync.engine.sync_plan import EDIT_IDS_SHOWN
from railway_sync.models import SyncRun
from railway_sync.operator import history
from railway_sync.pg import own_writes
from railway_sync.report import SyncReport

logger = logging.getLogger(__name__)

# How long one row of a watch keeps taking its successful syncs, from the first.
ROLLUP = timedelta(hours=1)
# The per-table figures a row sums over its syncs; the others (the row counts on each side,
# unchanged, kept, how the changes were found, ...) are the last sync's.
SUMMED = ("inserted", "updated", "deleted", "seconds", "railway_edits", "railway_edits_kept")


class WatchHistory:
    """The history rows of one watch process, ``options`` recorded as any sync's.

    ``period`` (default ``ROLLUP``) and ``now`` (the clock) are parameters so a test can
    cross the hour without waiting for it.
    """

    def __init__(
        self,
        options: dict[str, Any],
        *,
        period: timedelta = ROLLUP,
        now: Callable[[], datetime] = timezone.now,
    ) -> None:
        self.options, self.period, self.now = options, period, now
        # The row the next successful sync is folded into, while it is younger than period.
        self.rolling: SyncRun | None = None

    @contextmanager
    def cycle(self) -> Iterator[history.Recording]:
        """Record one sync of the watch, however it ends; the block sets ``report``.

        The first sync of a row is recorded from its start, as any run (a sync in progress
        shows in the admin); a later successful one is folded into the row when it ends.
        """
        started = self.now()
        rolling = self.rolling
        if rolling is not None and started - rolling.started_at >= self.period:
            rolling = None
        self.rolling = None
        current = history.Recording(None if rolling is not None else self._start(started))
        try:
            yield current
        except BaseException as exc:
            # Also a failure after successes: a row of its own, from this sync's start.
            current.run = current.run or self._start(started)
            self._finish(current, *history.ending(exc))
            raise
        outcome, _ = history.outcome_of(current.report)
        report = current.report
        if (
            rolling is not None
            and isinstance(report, SyncReport)
            and outcome == SyncRun.OUTCOME_SUCCESS
        ):
            self.rolling = rolling if fold(rolling, report, self.now()) else None
            return
        current.run = current.run or self._start(started)
        self._finish(current)
        if current.run is not None and current.run.outcome == SyncRun.OUTCOME_SUCCESS:
            self.rolling = current.run

    def _start(self, at: datetime) -> SyncRun | None:
        return history.start("railway_sync", "incremental", False, self.options, at=at, cycles=1)

    def _finish(self, current: history.Recording, error: str = "", outcome: str = "") -> None:
        if current.run is not None and isinstance(current.report, SyncReport):
            current.run.sync_seconds = current.report.seconds
        history.finish(current.run, current.report, error, outcome, at=self.now())


def fold(run: SyncRun, report: SyncReport, at: datetime) -> bool:
    """Add a successful sync that ended ``at`` to ``run``; False when the history could
    not be written (the next sync starts a row of its own)."""
    run.finished_at = at
    run.cycles = (run.cycles or 1) + 1
    run.sync_seconds = (run.sync_seconds or 0.0) + report.seconds
    run.tables = summed_tables(run.tables, [dataclasses.asdict(t) for t in report.tables])
    try:
        with own_writes.noted(conf.local_alias()):
            run.save(
                using=conf.local_alias(),
                update_fields=["finished_at", "cycles", "sync_seconds", "tables"],
            )
    except Error:
        logger.warning("Sync history not recorded: the local database refused the write.")
        return False
    return True


def summed_tables(
    recorded: list[dict[str, Any]], latest: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A row's per-table figures after one more sync: ``SUMMED`` added up, the rest the
    latest sync's, the ids edited on Railway the first ``EDIT_IDS_SHOWN`` of both; a table
    only one of them has is kept as it is."""
    tables = {table["table"]: table for table in recorded}
    for table in latest:
        before = tables.get(table["table"])
        if before is None:
            tables[table["table"]] = table
            continue
        merged = dict(table)
        for key in SUMMED:
            merged[key] = before.get(key, 0) + table.get(key, 0)
        ids = [*before.get("railway_edit_ids", ()), *table.get("railway_edit_ids", ())]
        merged["railway_edit_ids"] = list(dict.fromkeys(ids))[:EDIT_IDS_SHOWN]
        tables[table["table"]] = merged
    return list(tables.values())
