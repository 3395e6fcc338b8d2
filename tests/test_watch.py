"""``railway_sync --watch`` (issue 24): one process that syncs each local change, survives
a lost connection, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
from collections.abc import Iterator

import pytest

from railway_sync.models import SyncRun
from railway_sync.operator.dashboard import rows_written
from tests.conftest import DB, checksum, execute, fetch, run, scalar
from tests.helpers import both_urls, start_manage_py, text


class Watch:
    """A watching ``railway_sync`` process and the JSON documents it prints, one per sync."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def next_document(self) -> dict:
        try:
            return json.loads(self.lines.get(timeout=120))
        except queue.Empty:
            raise AssertionError("the watch printed nothing for 2 minutes") from None


@pytest.fixture
def watch() -> Iterator[Watch]:
    process = start_manage_py(
        "railway_sync", "--watch", "--interval", "0.2", "--format", "json", env=both_urls()
    )
    yield Watch(process)
    if process.poll() is None:
        process.kill()
        process.wait()


@DB
def test_watch_syncs_each_local_change_and_stops_on_sigterm(seeded, watch, admin_client):
    first = watch.next_document()
    assert (first["outcome"], first["rows_written"]) == ("success", sum(seeded.values()))

    execute("default", "UPDATE animals SET name = 'Changed while watched' WHERE id = 5")
    second = watch.next_document()
    execute("default", "UPDATE organizations SET city = 'Elsewhere' WHERE id = 2")
    third = watch.next_document()

    assert (second["outcome"], second["rows_written"]) == ("success", 1)
    assert (third["outcome"], third["rows_written"]) == ("success", 1)
    assert fetch("railway", "SELECT name FROM animals WHERE id = 5") == [("Changed while watched",)]
    assert checksum("railway") == checksum("default")
    watch.process.send_signal(signal.SIGTERM)
    assert watch.process.wait(timeout=30) == 0
    # The three syncs are one row of the history (within the hour), their figures summed,
    # ending when the last did.
    (row,) = SyncRun.objects.using("default").filter(command="railway_sync")
    assert (row.outcome, row.cycles, rows_written(row)) == ("success", 3, sum(seeded.values()) + 2)
    figures = {table["table"]: table for table in row.tables}
    assert [figures[name]["updated"] for name in ("organizations", "animals", "scrape_logs")] == [
        1,
        1,
        0,
    ]
    assert row.finished_at > row.started_at
    listed = admin_client.get("/admin/railway_sync/syncrun/").content.decode()
    assert "watch: 3 syncs" in text(listed)


@DB
def test_watch_reconnects_after_railway_drops_its_connection(seeded, watch):
    assert watch.next_document()["outcome"] == "success"
    # Railway restarts, as far as the watch can tell: its sessions are cut.
    terminated = scalar(
        "railway",
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend'",
    )
    assert terminated >= 1
    execute("default", "UPDATE animals SET name = 'After the restart' WHERE id = 6")

    failed = watch.next_document()
    landed = watch.next_document()

    assert (failed["outcome"], failed["exit_code"]) == ("failed", 1)
    assert "Railway" in failed["error"] and "\n" not in failed["error"]
    assert (landed["outcome"], landed["rows_written"]) == ("success", 1)
    assert fetch("railway", "SELECT name FROM animals WHERE id = 6") == [("After the restart",)]
    watch.process.send_signal(signal.SIGINT)
    assert watch.process.wait(timeout=30) == 0
    # The failure is a row of its own; the sync after it starts a new row.
    rows = SyncRun.objects.using("default").order_by("started_at")
    assert [(row.outcome, row.cycles, rows_written(row)) for row in rows] == [
        ("success", 1, sum(seeded.values())),
        ("failed", 1, 0),
        ("success", 1, 1),
    ]
    assert "Railway" in rows[1].error


@DB
def test_watch_refuses_a_dry_run_or_another_mode(clean):
    out, err, code = run("railway_sync", "--watch", "--dry-run")

    assert code == 1
    assert err.splitlines()[-1] == (
        "❌ railway_sync: --watch syncs incrementally; leave out --dry-run and --mode (see --help)"
    )
