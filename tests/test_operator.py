"""The operator's view: history, JSON output, progress bars, system checks."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import warnings

import pytest
from django.core.checks import Error, Tags, run_checks
from django.core.checks.registry import registry
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from railway_sync.models import SyncRun
from tests.conftest import (
    DB,
    PROJECT_DIR,
    database_url,
    execute,
    project_environment,
    run,
    run_process,
    scalar,
)
from tests.helpers import both_urls, raw_connection, run_rows, start_waiting_sync, text


@DB
def test_every_sync_and_setup_run_is_recorded_with_secrets_masked(seeded):
    assert run("railway_sync", "--dry-run")[2] == 0
    assert run("railway_setup")[2] == 0
    execute("railway", "ALTER TABLE animals DROP COLUMN breed_group")
    assert run("railway_sync", "--batch-size", "10")[2] == 1

    runs = list(SyncRun.objects.using("default").order_by("started_at"))

    assert [(r.command, r.mode, r.dry_run, r.outcome) for r in runs] == [
        ("railway_sync", "incremental", True, "success"),
        ("railway_setup", "incremental", False, "success"),
        ("railway_sync", "incremental", False, "failed"),
    ]
    assert runs[1].tables[1]["table"] == "animals"
    assert runs[1].tables[1]["inserted"] == 60
    assert runs[2].options["batch_size"] == 10
    assert (
        "animals.breed_group: missing on Railway (local has character varying(100))"
        in runs[2].error
    )
    assert all(r.finished_at >= r.started_at for r in runs)

    out, err, code = run("railway_status")
    assert "Last successful sync: " in out


@DB
def test_json_output_of_sync_status_and_test_connection(seeded):
    out, err, code = run("railway_sync", "--format", "json")
    document = json.loads(out)
    assert code == 0
    assert document["command"] == "railway_sync"
    assert document["outcome"] == "success"
    assert document["exit_code"] == 0
    assert document["rows_written"] == 106
    assert [t["table"] for t in document["tables"]][:2] == ["organizations", "animals"]
    assert document["tables"][1]["inserted"] == 60

    execute("railway", "UPDATE animals SET name = 'x' WHERE id = 1")
    out, err, code = run("railway_status", "--format", "json", "--check")
    document = json.loads(out)
    assert code == 1
    assert document["outcome"] == "out_of_sync"
    assert document["exit_code"] == 1
    assert document["tables"][1]["differing"] == 1
    assert document["last_successful_sync"] is not None

    out, err, code = run("railway_test_connection", "--format", "json")
    document = json.loads(out)
    assert code == 0
    assert document["outcome"] == "success"
    assert document["database"].startswith("test_")

    out, err, code = run("railway_sync", "--mode", "rebuild", "--format", "json")
    document = json.loads(out)
    assert code == 1
    assert document["outcome"] == "failed"
    assert "needs --confirm-destructive" in document["error"]


@DB
def test_json_failure_from_the_command_line_is_still_one_document(clean):
    out, err, code = run_process(
        "railway_test_connection", "--format", "json", env={"DATABASE_URL": database_url("default")}
    )
    assert code == 1
    document = json.loads(out)
    assert document["outcome"] == "failed"
    assert document["error"].startswith("RAILWAY_DATABASE_URL environment variable not set")


def run_on_terminal(*args: str, env: dict[str, str]) -> tuple[str, str]:
    """Run manage.py with stderr on a pseudo-terminal; return (stdout, terminal output)."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "manage.py"), *args],
        stdout=subprocess.PIPE,
        stderr=secondary,
        cwd=PROJECT_DIR,
        env=project_environment(env),
    )
    os.close(secondary)
    terminal = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        terminal += chunk
    stdout = process.stdout.read().decode()
    process.wait(timeout=60)
    os.close(primary)
    return stdout, terminal.decode(errors="replace")


@DB
def test_progress_bars_on_a_terminal_only(seeded):
    env = both_urls()

    stdout, terminal = run_on_terminal("railway_sync", "--batch-size", "20", env=env)

    assert "animals: 100%" in terminal
    assert "60/60" in terminal and "rows/s" in terminal
    assert "rows/s" not in stdout

    execute("default", "UPDATE animals SET name = 'Changed' WHERE id = 1")
    out, err, code = run_process("railway_sync", env=env)
    assert code == 0, err
    assert "rows/s" not in out + err

    execute("default", "UPDATE animals SET name = 'Changed again' WHERE id = 1")
    stdout, terminal = run_on_terminal("railway_sync", "--verbosity", "0", env=env)
    assert (stdout, terminal) == ("", "")


def check_ids(**overrides) -> list[str]:
    with warnings.catch_warnings():
        # Only the checks read these settings; no connection is made with them.
        warnings.simplefilter("ignore", UserWarning)
        with override_settings(**overrides):
            return [m.id for m in run_checks() if m.id.startswith("railway_sync")]


def test_system_checks():
    from django.conf import settings

    databases = settings.DATABASES
    assert check_ids() == []
    without_railway = {"default": databases["default"]}
    assert check_ids(DATABASES=without_railway, RAILWAY_SYNC_URL_ERRORS={}) == ["railway_sync.E001"]
    # Unset RAILWAY_DATABASE_URL is reported by the commands, not as a check error.
    assert (
        check_ids(DATABASES=without_railway, RAILWAY_SYNC_URL_ERRORS={"railway": "not set"}) == []
    )
    assert check_ids(DATABASE_ROUTERS=[]) == ["railway_sync.E002"]
    same = {"default": databases["default"], "railway": dict(databases["default"])}
    assert check_ids(DATABASES=same) == ["railway_sync.E003"]


def test_system_check_hints_name_the_fix():
    from django.conf import settings

    with override_settings(DATABASE_ROUTERS=[]):
        (message,) = [m for m in run_checks() if m.id == "railway_sync.E002"]
    assert message.hint == "Add 'railway_sync.routers.RailwayRouter' to DATABASE_ROUTERS."
    assert settings.DATABASE_ROUTERS


def test_a_railway_command_runs_its_own_checks_not_the_whole_projects():
    # The project's other checks (its URLconf, the admin, every model) are `manage.py
    # check`'s: a railway_* command run by cron does not import what it does not use.
    def broken_elsewhere(app_configs=None, **kwargs):
        return [Error("a problem of the project's", id="project.E001")]

    registry.register(broken_elsewhere, Tags.models)
    try:
        with override_settings(DATABASE_ROUTERS=[]), pytest.raises(SystemCheckError) as refused:
            call_command("railway_test_connection", skip_checks=False)
    finally:
        registry.registered_checks.discard(broken_elsewhere)

    assert "railway_sync.E002" in str(refused.value)
    assert "project.E001" not in str(refused.value)


def recorded_runs() -> list[tuple[str, str, bool]]:
    return [
        (
            run.command,
            run.outcome,
            run.finished_at is not None and run.finished_at >= run.started_at,
        )
        for run in SyncRun.objects.using("default").order_by("started_at")
    ]


@DB
def test_a_sync_stopped_with_ctrl_c_is_recorded_as_interrupted_not_as_a_success(
    seeded, admin_client
):
    holder = raw_connection("railway")
    try:
        sync = start_waiting_sync(holder)
        sync.send_signal(signal.SIGINT)
    finally:
        # The interrupt is pending before the lock is let go; psycopg2 waits inside libpq, so
        # Python raises KeyboardInterrupt as soon as the lock wait returns.
        holder.close()
    out, err = sync.communicate(timeout=120)

    assert sync.returncode != 0, err
    assert err.rstrip().endswith("KeyboardInterrupt"), err
    assert recorded_runs() == [("railway_sync", "interrupted", True)]
    assert SyncRun.objects.using("default").get().error == "Interrupted (KeyboardInterrupt)"
    assert scalar("railway", 'SELECT count(*) FROM "organizations"') == 0
    out, err, code = run("railway_status")
    assert [line for line in out.splitlines() if line.startswith("Last successful")] == []
    dashboard = admin_client.get("/admin/").content.decode()
    assert "Last successful sync: never" in text(dashboard)
    assert [row[2] for row in run_rows(dashboard)] == ["incremental"]
    assert [row[3] for row in run_rows(dashboard)] == ["interrupted"]


@DB
def test_a_sync_failing_outside_the_engine_is_recorded_as_failed_with_its_line(seeded):
    holder = raw_connection("railway")
    try:
        sync = start_waiting_sync(holder)
        # Whoever read the progress went away (``railway_sync -v 2 2>&1 | head``): the next
        # progress line fails with BrokenPipeError, which no engine error stands for.
        sync.stderr.close()
    finally:
        holder.close()
    sync.wait(timeout=120)

    assert sync.returncode != 0
    assert recorded_runs() == [("railway_sync", "failed", True)]
    assert SyncRun.objects.using("default").get().error == "BrokenPipeError: [Errno 32] Broken pipe"
    assert scalar("railway", 'SELECT count(*) FROM "organizations"') == 0
