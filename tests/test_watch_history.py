"""The run history of ``railway_sync --watch``: an hour of successful syncs is one row of
the history (and of the admin), a sync that fails is a row of its own, cron's runs are
the history (and of the admin), a sync that fails is a row of its own, cron's runs are
passes without waiting for it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from railway_sync.engine import api
from railway_sync.engine.options import SyncOptions
from railway_sync.errors import RailwaySyncError
from railway_sync.models import SyncRun
from railway_sync.operator.dashboard import rows_deleted, rows_written
from railway_sync.operator.watch_history import WatchHistory
from tests.conftest import DB, execute, run
from tests.helpers import text


class Clock:
    """The watch's clock (naive, as the project's USE_TZ = False): it moves only when the
    test moves it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **elapsed: float) -> None:
        self.at += timedelta(**elapsed)


def sync(runs: WatchHistory, options: SyncOptions | None = None) -> None:
    """One sync of the watch, recorded as the command records it."""
    with runs.cycle() as run:
        run.report = api.sync(options or SyncOptions())


def history() -> list[SyncRun]:
    return list(SyncRun.objects.using("default").order_by("started_at"))


def rename(animal: int, name: str) -> None:
    execute("default", "UPDATE animals SET name = %s WHERE id = %s", [name, animal])


@DB
def test_an_hour_of_successful_syncs_is_one_row_then_the_next_hour_another(seeded, admin_client):
    clock = Clock(datetime(2026, 3, 1, 10, 0))
    runs = WatchHistory({"prune": False}, now=clock)

    sync(runs)  # 10:00: everything
    for minutes, animal in ((20, 3), (39, 4)):  # 10:20 and 10:59: one row each
        clock.advance(minutes=minutes)
        rename(animal, f"Renamed {animal}")
        sync(runs)
    clock.advance(minutes=1)  # 11:00: an hour after the row's first sync
    rename(5, "Renamed 5")
    execute("default", "DELETE FROM service_regions WHERE id = 5")
    sync(runs, SyncOptions(prune=True, confirm_destructive=True))

    first, second = history()
    start = datetime(2026, 3, 1, 10, 0)
    assert (first.cycles, first.outcome, first.started_at, first.finished_at) == (
        3,
        "success",
        start,
        start + timedelta(minutes=59),
    )
    assert (rows_written(first), rows_deleted(first)) == (sum(seeded.values()) + 2, 0)
    animals = next(table for table in first.tables if table["table"] == "animals")
    assert (animals["inserted"], animals["updated"], animals["unchanged"]) == (
        seeded["animals"],
        2,
        seeded["animals"] - 1,  # the last sync's: it updated one
    )
    assert first.sync_seconds == pytest.approx(sum(t["seconds"] for t in first.tables), abs=0.5)
    assert first.options == {"prune": False}
    assert (second.cycles, second.outcome, second.started_at) == (1, "success", clock.at)
    assert (rows_written(second), rows_deleted(second)) == (1, 1)

    listed = admin_client.get("/admin/railway_sync/syncrun/").content.decode()
    table = listed.split('id="result_list"')[1].split("</table>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
    cells = [[text(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)] for row in rows]
    written = f"{sum(seeded.values()) + 2:,}"
    assert [row[2:8] for row in cells] == [
        ["incremental", "watch: 1 sync", "", "success", "1", "1"],
        ["incremental", "watch: 3 syncs", "", "success", written, "0"],
    ]
    page = admin_client.get(f"/admin/railway_sync/syncrun/{first.pk}/change/").content.decode()
    assert "Syncs: watch: 3 syncs" in text(page).replace(" :", ":")
    assert re.search(
        rf"animals {seeded['animals']} {seeded['animals']} {seeded['animals']} 2 ", text(page)
    )


@DB
def test_a_failed_sync_is_a_row_of_its_own_and_the_next_success_starts_a_new_row(seeded):
    clock = Clock(datetime(2026, 3, 1, 10, 0))
    runs = WatchHistory({}, now=clock)
    sync(runs)
    clock.advance(minutes=1)
    rename(3, "Before the failure")
    sync(runs)

    clock.advance(minutes=1)
    with pytest.raises(RailwaySyncError), runs.cycle():
        raise RailwaySyncError("Railway closed the connection")
    for animal in (4, 5):
        clock.advance(minutes=1)
        rename(animal, f"After the failure {animal}")
        sync(runs)

    assert [(r.outcome, r.cycles, rows_written(r), r.error) for r in history()] == [
        ("success", 2, sum(seeded.values()) + 1, ""),
        ("failed", 1, 0, "Railway closed the connection"),
        ("success", 2, 2, ""),
    ]
    failed = history()[1]
    assert failed.started_at == failed.finished_at == datetime(2026, 3, 1, 10, 2)


@DB
def test_a_sync_that_is_not_a_success_is_a_row_of_its_own(seeded):
    """A sync that lands but leaves a table a guard refused exits 1 under cron: under the
    watch it is not folded into the successes either."""
    runs = WatchHistory({}, now=Clock(datetime(2026, 3, 1, 10, 0)))
    sync(runs)
    # Local lost most of its scrape logs: the incremental sync refuses that table.
    execute("default", "DELETE FROM scrape_logs WHERE id > 3")
    rename(3, "Still synced")
    sync(runs)
    rename(4, "Also synced")
    sync(runs)

    assert [(r.outcome, r.cycles) for r in history()] == [
        ("success", 1),
        ("partial", 1),
        ("partial", 1),
    ]


@DB
def test_cron_syncs_stay_one_row_each_and_the_last_success_is_the_watchs_end(seeded, admin_client):
    # A watch row begun before a cron sync and still taking syncs after it.
    clock = Clock(timezone.now() - timedelta(minutes=30))
    runs = WatchHistory({}, now=clock)
    sync(runs)
    assert run("railway_sync")[2] == 0
    rename(3, "Cron")
    assert run("railway_sync")[2] == 0
    clock.at = timezone.now() + timedelta(minutes=1)
    rename(4, "Watch")
    sync(runs)

    watch_row, *cron_rows = history()
    assert [(r.cycles, rows_written(r)) for r in cron_rows] == [(None, 0), (None, 1)]
    assert (watch_row.cycles, rows_written(watch_row)) == (2, sum(seeded.values()) + 1)
    # The admin's "last successful sync" is when the watch's row last synced, not the
    # newer-started cron run.
    page = text(admin_client.get("/admin/").content.decode())
    assert f"Last successful sync: {watch_row.finished_at:%Y-%m-%d %H:%M:%S}" in page
    assert "incremental (watch: 2 syncs)" in page
