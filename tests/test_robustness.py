"""Nothing lost under crashes, cuts, concurrency and bad input: real servers, real processes."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from django.db import connections

from railway_sync import sample
from railway_sync.models import SYNCED_TABLES
from railway_sync.pg.locks import RUN_LOCK_KEY
from tests.conftest import (
    DB,
    PROJECT_DIR,
    checksum,
    execute,
    project_environment,
    run,
    run_process,
    scalar,
)
from tests.helpers import (
    both_urls,
    raw_connection,
    socket_dir,
    start_manage_py,
    start_waiting_sync,
)
from tests.proxy import FlakyProxy


def assert_converged() -> None:
    """Railway holds exactly the local rows, and every sequence is past max(id)."""
    assert checksum("railway") == checksum("default")
    for table in SYNCED_TABLES:
        next_id = scalar("railway", f"SELECT last_value + 1 FROM {table}_id_seq")
        assert next_id > (scalar("railway", f"SELECT coalesce(max(id), 0) FROM {table}")), table


@pytest.fixture
def proxy() -> Iterator[FlakyProxy]:
    flaky = FlakyProxy(str(socket_dir("railway") / ".s.PGSQL.5432"))
    yield flaky
    flaky.close()


def proxied_env(proxy: FlakyProxy, **extra: str) -> dict[str, str]:
    name = connections["railway"].settings_dict["NAME"]
    return both_urls(
        RAILWAY_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{proxy.port}/{name}", **extra
    )


@DB
def test_transient_connect_failures_are_retried_with_backoff(seeded, proxy):
    proxy.refuse_next = 2
    env = proxied_env(proxy, RAILWAY_CONNECT_ATTEMPTS="3", RAILWAY_CONNECT_RETRY_DELAY="0.1")

    out, err, code = run_process("railway_sync", env=env)

    assert code == 0, err
    assert err.count("retrying in") == 2
    assert_converged()

    proxy.refuse_next = 5
    env = proxied_env(proxy, RAILWAY_CONNECT_ATTEMPTS="2", RAILWAY_CONNECT_RETRY_DELAY="0.1")
    out, err, code = run_process("railway_test_connection", env=env)
    assert code == 1
    assert "server closed the connection unexpectedly" in err
    assert err.rstrip().endswith("after 2 attempts")


@DB
def test_connection_cut_mid_transfer_rolls_back_and_the_next_sync_converges(clean, proxy):
    sample.insert(
        "default", sample.generate(animals=1500, images=0, scrape_logs=10, service_regions=5)
    )
    before = checksum("railway")
    proxy.cut_after_bytes = 1_500_000  # inside the animals COPY (about 4 MB)

    out, err, code = run_process(
        "railway_sync", env=proxied_env(proxy, RAILWAY_CONNECT_ATTEMPTS="1")
    )

    assert code == 1
    assert proxy.cuts == 1
    assert (
        "❌ Railway data sync failed: Lost the connection to Railway while syncing animals: "
        "server closed the connection unexpectedly"
    ) in err
    assert "(nothing in animals was written)." in err
    assert "Traceback" not in err
    after = checksum("railway")
    assert after["animals"] == before["animals"]  # the open transaction rolled back
    assert after["organizations"] == checksum("default")["organizations"]  # committed before

    out, err, code = run_process("railway_sync", env=proxied_env(proxy))
    assert code == 0, err
    assert_converged()


@DB
def test_rebuild_cut_mid_transfer_leaves_railway_exactly_as_it_was(seeded, proxy):
    assert run("railway_sync")[2] == 0
    execute("default", "UPDATE animals SET name = name || ' (renamed)'")
    execute(
        "railway",
        "INSERT INTO scrape_logs (id, organization_id, started_at, status) "
        "VALUES (500, 1, now(), 'site')",
    )
    before = checksum("railway")
    proxy.cut_after_bytes = proxy.bytes_to_server + 60_000

    out, err, code = run_process(
        "railway_sync",
        "--mode",
        "rebuild",
        "--confirm-destructive",
        env=proxied_env(proxy, RAILWAY_CONNECT_ATTEMPTS="1"),
    )

    assert code == 1
    assert "Lost the connection to Railway while syncing" in err
    assert "(Railway was left unchanged)." in err
    assert checksum("railway") == before


@DB
def test_a_locked_railway_table_fails_within_the_lock_timeout_naming_it(seeded):
    holder = raw_connection("railway")
    holder.autocommit = False
    holder.cursor().execute("LOCK TABLE animals IN ACCESS EXCLUSIVE MODE")
    try:
        out, err, code = run_process(
            "railway_sync", env=both_urls(RAILWAY_LOCK_TIMEOUT="1"), timeout=60
        )
    finally:
        holder.rollback()
        holder.close()

    assert code == 1
    assert (
        "❌ Railway data sync failed: Railway table animals is locked by another session; "
        "gave up after 1 s (RAILWAY_LOCK_TIMEOUT) and nothing was written."
    ) in err
    assert scalar("railway", "SELECT count(*) FROM organizations") == 0


@DB
def test_a_second_sync_waits_for_the_first_then_gives_up_or_runs(seeded):
    holder = raw_connection("railway")
    holder.cursor().execute("SELECT pg_advisory_lock(%s)", [RUN_LOCK_KEY])
    try:
        out, err, code = run_process(
            "railway_sync", env=both_urls(RAILWAY_SYNC_WAIT_TIMEOUT="1"), timeout=60
        )
        assert code == 1
        assert (
            "❌ Railway data sync failed: another railway_sync is running (waited 1 s for it "
            "to finish); nothing was written."
        ) in err
        assert scalar("railway", "SELECT count(*) FROM animals") == 0

        # The test holds the lock until the sync says it is waiting, then lets go: no race
        # with how long the second process takes to start on a busy machine.
        waiting = start_waiting_sync(holder)
        assert scalar("railway", "SELECT count(*) FROM animals") == 0
        holder.close()
        out, err = waiting.communicate(timeout=120)
        assert waiting.returncode == 0, err
        assert_converged()
    finally:
        holder.close()


@DB
def test_ten_overlapping_syncs_end_consistent(seeded):
    processes = []
    for index in range(10):
        execute(
            "default", "UPDATE animals SET name = %s WHERE id = %s", [f"Round {index}", index + 1]
        )
        execute(
            "default",
            "INSERT INTO scrape_logs (id, organization_id, started_at, status) "
            "VALUES (%s, 1, now(), 'success')",
            [100 + index],
        )
        processes.append(start_manage_py("railway_sync", "--batch-size", "7", env=both_urls()))
    results = [(p.wait(timeout=120), p.stderr.read()) for p in processes]

    for code, err in results:
        assert code == 0 or "another railway_sync is running" in err, err
    assert sum(code == 0 for code, _ in results) >= 1
    out, err, code = run_process("railway_sync", env=both_urls())
    assert code == 0, err
    assert_converged()


@DB
def test_prune_deletes_railway_only_rows_children_first(seeded):
    assert run("railway_sync")[2] == 0
    execute("default", "DELETE FROM animal_images WHERE animal_id = 3")
    execute("default", "DELETE FROM animals WHERE id = 3")
    execute("default", "DELETE FROM service_regions WHERE id = 5")
    before = checksum("railway")

    out, err, code = run("railway_sync", "--prune", "--dry-run")

    assert code == 0, err
    assert (
        "  animals: would insert 0, update 0, leave 59 unchanged, keep 0 Railway-only, "
        "delete 1" in out
    )
    assert checksum("railway") == before

    out, err, code = run("railway_sync", "--prune")

    assert code == 1
    assert ("service_regions: --prune would delete 1 of 5 rows, more than 10%") in err
    assert checksum("railway") == before

    out, err, code = run("railway_sync", "--prune", "--confirm-destructive")

    assert code == 0, err
    assert "  animals: 0 inserted, 0 updated, 59 unchanged, 1 deleted" in out
    assert "  service_regions: 0 inserted, 0 updated, 4 unchanged, 1 deleted" in out
    assert_converged()

    out, err, code = run("railway_sync", "--prune", "--mode", "rebuild", "--confirm-destructive")
    assert code == 1
    assert "--prune goes with --mode incremental" in err


@DB
def test_bad_inputs_leave_railway_unchanged(seeded):
    assert run("railway_sync")[2] == 0
    execute("default", "UPDATE animals SET name = 'pending change' WHERE id = 1")
    # A foreign key only Railway has (added there by hand), and a local row it would reject.
    for alias in ("default", "railway"):
        execute(alias, "UPDATE scrape_logs SET dogs_found = NULL")
    execute(
        "railway",
        "ALTER TABLE scrape_logs ADD CONSTRAINT site_dogs_found_fkey "
        "FOREIGN KEY (dogs_found) REFERENCES organizations(id)",
    )
    execute(
        "default",
        "INSERT INTO scrape_logs (id, organization_id, started_at, status, dogs_found) "
        "VALUES (900, 1, now(), 'orphan', 999)",
    )
    before = checksum("railway")
    cases = [
        (["--mode", "sideways"], "❌ railway_sync: argument --mode: invalid choice: 'sideways'"),
        (
            ["--batch-size", "-5"],
            "❌ railway_sync: argument --batch-size: invalid positive whole number value: '-5'",
        ),
        (
            [],
            "❌ Railway data sync failed: Local data is inconsistent: 1 scrape_logs rows point at "
            "organizations that do not exist locally (dogs_found 999). Railway would reject "
            "these rows; fix them in the local database, then sync again. Nothing was written.",
        ),
    ]
    try:
        for args, expected in cases:
            out, err, code = run_process("railway_sync", *args, env=both_urls())
            assert code == 1, err
            assert len(err.strip().splitlines()) == 1, err
            assert expected in err
            assert checksum("railway") == before
    finally:
        execute("default", "DELETE FROM scrape_logs WHERE id = 900")
        execute("railway", "ALTER TABLE scrape_logs DROP CONSTRAINT site_dogs_found_fkey")


def progress_position(stderr: str) -> str:
    """The last "write TABLE done/total" line a killed sync printed, or its last phase."""
    lines = [line for line in stderr.splitlines() if "] " in line]
    return lines[-1].split("] ", 1)[1] if lines else "(before any progress)"


@DB
def test_sigkill_at_twenty_points_then_a_normal_sync_converges(clean):
    sample.insert(
        "default", sample.generate(animals=4000, images=1500, scrape_logs=2500, service_regions=100)
    )
    env = project_environment(both_urls())
    command = [
        sys.executable,
        str(PROJECT_DIR / "manage.py"),
        "railway_sync",
        "--batch-size",
        "300",
        "--verbosity",
        "2",
    ]
    # A full run's progress lines name every phase of every table, batch by batch; the kills
    # land right after 20 of them, spread evenly, so each hits a different point of the work.
    full = subprocess.run(
        command, env=env, check=True, capture_output=True, text=True, cwd=PROJECT_DIR
    )
    steps = len([line for line in full.stderr.splitlines() if "] " in line])
    positions = []
    for point in range(20):
        if point % 2 == 0:
            execute("railway", "TRUNCATE " + ", ".join(SYNCED_TABLES) + " CASCADE")
        else:
            execute(
                "default",
                "UPDATE animals SET age_text = %s WHERE id %% 7 = %s",
                [f"round {point}", point % 7],
            )
            execute("default", "UPDATE scrape_logs SET dogs_found = %s WHERE id %% 5 = 0", [point])
        extra = ["--mode", "rebuild", "--confirm-destructive"] if point % 4 == 3 else []
        process = subprocess.Popen(
            command + extra,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=PROJECT_DIR,
        )
        wanted = 1 + point * (steps - 1) // 20
        seen, last = 0, "(before any progress)"
        while seen < wanted and (line := process.stderr.readline()):
            if "] " in line:
                seen, last = seen + 1, line.split("] ", 1)[1].strip()
        process.send_signal(signal.SIGKILL)
        process.communicate()
        positions.append(last)

        out, err, code = run_process("railway_sync", env=both_urls())

        assert code == 0, (positions[-1], err)
        assert_converged()
    tables = {position.split()[1] for position in positions if len(position.split()) > 1}
    assert len(tables) >= 3, positions
    assert len({p for p in positions if p.startswith("write ")}) >= 5, positions
    assert len(set(positions)) >= 12, positions
