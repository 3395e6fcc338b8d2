"""The benchmark keeps working: run it small and check its report (never its times)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from benchmarks.sync import PGSYNC_ABSENT
from tests.conftest import require_tls_postgres
from tests.helpers import run_python
from tests.test_link import RAILWAY_SET_UP


def test_benchmark_runs_every_step_and_content_matches(tmp_path):
    if shutil.which("pgcopydb") is None:
        pytest.fail("pgcopydb is not installed; install it with: sudo apt-get install -y pgcopydb")
    results = tmp_path / "results.json"
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}

    finished = run_python(
        "-m",
        "benchmarks.sync",
        "--animals",
        "2000",
        "--json",
        str(results),
        env=environment,
        timeout=600,
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
    report = json.loads(results.read_text())
    steps = {step["name"]: step for step in report["steps"]}
    assert list(steps) == [
        "baseline: pg_dump --data-only | psql",
        "peer: pgcopydb copy table-data --table-jobs 2",
        "rebuild into empty Railway (with verification)",
        "rebuild into empty Railway --skip-validation",
        "Django start-up (manage.py help)",
        "no-op sync, first after a write (reads the tables)",
        "no-op sync",
        "sync after 1% of animals changed",
        "sync after 100 animals changed",
        "sync after one row changed on Railway",
        "railway_status",
        "railway_status --deep",
        "pull baseline: pg_dump --data-only Railway | psql local",
        "pull into empty local tables (with verification)",
    ]
    assert all(step["content_equal"] for step in steps.values())
    assert steps["no-op sync"]["rows_written"] == 0
    # The first reads the tables by change tracking; the next, nothing written since, none.
    assert steps["no-op sync, first after a write (reads the tables)"]["compared"] == "tracked"
    assert steps["no-op sync"]["compared"] == "quiet"
    assert steps["sync after 1% of animals changed"]["rows_written"] == 16 + 4
    assert steps["sync after 100 animals changed"]["rows_written"] == 100
    assert steps["sync after one row changed on Railway"]["rows_written"] == 1
    assert (
        steps["rebuild into empty Railway (with verification)"]["rows_written"]
        == (steps["baseline: pg_dump --data-only | psql"]["rows_written"])
    )
    # The peer copied every row too, checked row by row like every step.
    assert (
        steps["peer: pgcopydb copy table-data --table-jobs 2"]["rows_written"]
        == steps["baseline: pg_dump --data-only | psql"]["rows_written"]
    )
    # The pull brings every row back, measured against the same copy the other way round.
    pull = steps["pull into empty local tables (with verification)"]
    pull_baseline = steps["pull baseline: pg_dump --data-only Railway | psql local"]
    assert pull["rows_written"] == pull_baseline["rows_written"] > 0
    assert pull["versus"] == "pull baseline: pg_dump --data-only Railway | psql local"
    assert all(step["peak_rss_mb"] > 0 for step in steps.values())
    assert "ratio" in finished.stdout and "baseline" in finished.stdout
    lines = finished.stdout.splitlines()
    assert any(line.startswith("verified rebuild / pgcopydb: ") for line in lines)
    assert any(line.startswith("no-op sync beyond Django's start-up: ") for line in lines)
    # A peer this machine cannot run is said so, never faked.
    assert report["peers_not_measured"] == {"pgsync": PGSYNC_ABSENT}
    assert f"pgsync: {PGSYNC_ABSENT}" in lines


def test_round_trip_benchmark_measures_every_command_through_the_proxy(tmp_path):
    require_tls_postgres()
    results = tmp_path / "roundtrips.json"
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}

    finished = run_python(
        "-m",
        "benchmarks.roundtrips",
        "--animals",
        "50",
        "--rtt",
        "0",
        "--json",
        str(results),
        env=environment,
        timeout=300,
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert (
        "| command | RTT | round trips | target | bytes to Railway | bytes from Railway "
        "| connections | wall time | target | content equal |"
    ) in finished.stdout.splitlines()
    report = json.loads(results.read_text())
    assert report["animals"] == 50 and report["rtt_ms"] == [0]
    measurements = report["measurements"]
    assert [m["command"] for m in measurements] == [
        "railway_test_connection",
        "railway_status",
        "no-op railway_sync",
        "railway_sync, 10 animals changed",
    ]
    assert set(measurements[0]) == {
        "command",
        "rtt_ms",
        "round_trips",
        "bytes_to_railway",
        "bytes_from_railway",
        "connections",
        "seconds",
        "rows_written",
        "content_equal",
        "target_round_trips",
        "target_seconds",
        "round_trips_met",
        "seconds_met",
    }
    assert [m["rows_written"] for m in measurements] == [0, 0, 0, 10]
    # Connecting to the Railway stand-in pays TCP, TLS and SCRAM's round trips, counted.
    assert report["connection_set_up"] == [
        {
            "rtt_ms": 0,
            "round_trips": RAILWAY_SET_UP,
            "tls_round_trips": 2,
            "bytes_to_railway": report["connection_set_up"][0]["bytes_to_railway"],
            "bytes_from_railway": report["connection_set_up"][0]["bytes_from_railway"],
            "seconds": report["connection_set_up"][0]["seconds"],
        }
    ]
    assert (
        f"- connection set-up at 0 ms: {RAILWAY_SET_UP} round trips (TCP handshake 1, "
        "SSLRequest 1, TLS handshake 2, startup and SCRAM-SHA-256 3)"
    ) in finished.stdout
    for m in measurements:
        assert m["content_equal"], m
        # Every command reached Railway through the proxy, and only through it, paying the
        # set-up for each connection.
        assert m["connections"] >= 1, m
        assert m["round_trips"] >= m["connections"] * RAILWAY_SET_UP, m
        assert m["bytes_to_railway"] > 0 and m["bytes_from_railway"] > 0, m
        assert m["seconds_met"] is None  # wall time is judged at 100 ms only


def test_phase_breakdown_names_every_phase_and_the_cpu_split():
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}

    finished = run_python(
        "-m", "benchmarks.phases", "--animals", "500", "--indexes", env=environment, timeout=600
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
    lines = finished.stdout.splitlines()
    assert any(
        line.startswith("verified rebuild: ") and line.endswith("content equal: yes")
        for line in lines
    ), lines
    assert any(line.startswith("CPU: the command ") for line in lines), lines
    assert lines[1].startswith("animals: loaded keeping its 9 indexes "), lines
    assert lines[2].startswith("scrape_logs: loaded keeping its 2 indexes "), lines
    start = lines.index("phases (the command's INFO lines):")
    end = lines.index(
        "statements by total server time (server's log; a cursor's FETCHes under its query):"
    )
    phases = [line.rsplit(None, 2)[0].strip() for line in lines[start + 1 : end]]
    assert {"schema", "write animals", "verify animals"} <= set(phases), phases
    assert phases[-1] == "outside the sync (start-up, history)", phases


def test_watch_benchmark_measures_commit_to_visible_at_each_round_trip_time(tmp_path):
    results, drawing = tmp_path / "watch.json", tmp_path / "watch.svg"
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}

    finished = run_python(
        "-m",
        "benchmarks.watch",
        *("--animals", "200", "--changes", "2", "--interval", "0.2", "--rtt", "0,20"),
        *("--json", str(results), "--svg", str(drawing)),
        env=environment,
        timeout=300,
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
    latencies = json.loads(results.read_text())
    assert set(latencies) == {"0", "20"}
    assert all(len(values) == 2 and all(v > 0 for v in values) for values in latencies.values())
    lines = finished.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[-2:]] == ["RTT   0 ms", "RTT  20 ms"]
    assert drawing.read_text().startswith("<svg")


def test_pairs_against_pgcopydb_print_each_pair_and_the_median():
    if shutil.which("pgcopydb") is None:
        pytest.fail("pgcopydb is not installed; install it with: sudo apt-get install -y pgcopydb")
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}

    finished = run_python(
        "-m", "benchmarks.pairs", "--animals", "500", "--pairs", "2", env=environment, timeout=600
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
    lines = finished.stdout.splitlines()
    pairs = [line for line in lines if line.startswith("pair ")]
    assert [line.split(":")[0] for line in pairs] == ["pair 1", "pair 2"], lines
    assert all(line.endswith(", content equal: yes") for line in pairs), lines
    assert lines[-1].startswith("verified rebuild / pgcopydb, median of 2 pairs: "), lines
    assert lines[-1].endswith("(aim: <= 1.00; 500 animals)"), lines
