"""What users see: each command's whole output at verbosity 1, and the exact keys of each
``--format json`` document (the README promises they are never renamed or removed).

Commands run as real processes (``manage.py``), as a user runs them: a failure is then one
line on stderr that starts with ``❌``, with nothing before it. Only genuinely variable parts
are normalised, by :func:`normalise`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.db import connections

from tests.conftest import DB, closed_port, database_url, execute, run_process
from tests.helpers import (
    CONNECTION_KEYS,
    STATUS_KEYS,
    STATUS_TABLE_KEYS,
    SYNC_KEYS,
    SYNC_TABLE_KEYS,
    both_urls,
)

RAILWAY_MISSING = (
    "RAILWAY_DATABASE_URL environment variable not set. Add it to .env or export it "
    "(see .env.example)."
)


def normalise(text: str) -> str:
    """``text`` with what changes from run to run or machine to machine replaced by a mark:

    - durations, ``(0.12 s)`` and ``in 0.12 s``, become ``(… s)`` and ``in … s``;
    - a timestamp ``2026-01-02 03:04:05`` becomes ``<time>``, and ``N minutes ago``
      ``<n> minutes ago``;
    - the embedded server's socket directory (part of every URL) becomes ``<socket>``;
    - the server version after ``PostgreSQL`` becomes ``<version>`` (with what a packager
      adds, ``15.18 (Debian 15.18-0+deb12u1)``).
    """
    text = text.replace(connections["railway"].settings_dict["HOST"], "<socket>")
    text = re.sub(r"\(\d+\.\d\d s\)", "(… s)", text)
    text = re.sub(r" in \d+\.\d\d s\)", " in … s)", text)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "<time>", text)
    text = re.sub(r"\(\d+ minutes ago\)", "(<n> minutes ago)", text)
    return re.sub(r"PostgreSQL \d+(\.\d+)*( \([^)]*\))?", "PostgreSQL <version>", text)


def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[str, str, int]:
    """``manage.py *args`` against the test databases: (stdout, stderr, exit code), normalised."""
    out, err, code = run_process(*args, env=both_urls() if env is None else env)
    return normalise(out), normalise(err), code


def lines(*text: str) -> str:
    return "".join(line + "\n" for line in text)


RAILWAY = "postgresql://postgres@<socket>/test_railway_sync_railway"
FIRST_SYNC_TABLES = (
    "  organizations: 6 inserted, 0 updated, 0 unchanged, 0 deleted (… s)",
    "  animals: 60 inserted, 0 updated, 0 unchanged, 0 deleted (… s)",
    "  animal_images: 20 inserted, 0 updated, 0 unchanged, 0 deleted (… s)",
    "  scrape_logs: 15 inserted, 0 updated, 0 unchanged, 0 deleted (… s)",
    "  service_regions: 5 inserted, 0 updated, 0 unchanged, 0 deleted (… s)",
)
IN_SYNC_TABLES = (
    "  organizations: 6 → 6 (✅ content matches)",
    "  animals: 60 → 60 (✅ content matches)",
    "  animal_images: 20 → 20 (✅ content matches)",
    "  scrape_logs: 15 → 15 (✅ content matches)",
    "  service_regions: 5 → 5 (✅ content matches)",
)


# -- railway_test_connection ------------------------------------------------------------------


@DB
def test_test_connection_output(clean):
    assert run_cli("railway_test_connection") == (
        lines(
            "✅ Railway connection successful",
            f"   {RAILWAY}: PostgreSQL <version>, database test_railway_sync_railway (… s)",
        ),
        "",
        0,
    )
    assert run_cli("railway_test_connection", env={"DATABASE_URL": database_url("default")}) == (
        "",
        lines(f"❌ Railway connection failed: {RAILWAY_MISSING}"),
        1,
    )


# -- railway_migrate --------------------------------------------------------------------------


@DB
def test_migrate_output_with_nothing_to_apply(clean):
    assert run_cli("railway_migrate") == (
        lines(
            "🚀 Running Railway database migration...",
            "✅ Railway schema is up to date: no migrations to apply",
        ),
        "",
        0,
    )
    assert run_cli("railway_migrate", "--dry-run") == (
        lines("Railway schema is up to date: no migrations would be applied."),
        "",
        0,
    )


# -- railway_sync -----------------------------------------------------------------------------


@DB
def test_sync_output_first_sync_then_nothing_to_do(seeded):
    assert run_cli("railway_sync") == (
        lines(
            "🚀 Starting Railway data sync...",
            *FIRST_SYNC_TABLES,
            "Verified: every local row is on Railway with identical content.",
            "✅ Railway data sync completed successfully (106 rows written in … s)",
        ),
        "",
        0,
    )
    assert run_cli("railway_sync") == (
        lines(
            "🚀 Starting Railway data sync...",
            "  organizations: up to date, 0 rows written (… s)",
            "  animals: up to date, 0 rows written (… s)",
            "  animal_images: up to date, 0 rows written (… s)",
            "  scrape_logs: up to date, 0 rows written (… s)",
            "  service_regions: up to date, 0 rows written (… s)",
            "Verified: every local row is on Railway with identical content.",
            "✅ Railway data sync completed successfully (0 rows written in … s)",
        ),
        "",
        0,
    )


@DB
def test_sync_dry_run_output(seeded):
    assert run_cli("railway_sync")[2] == 0
    execute("default", "UPDATE animals SET name = 'Renamed' WHERE id = 1")
    execute("railway", "DELETE FROM service_regions WHERE id = 5")

    assert run_cli("railway_sync", "--dry-run") == (
        lines(
            "🚀 Starting Railway data sync... (dry run)",
            "  organizations: up to date, would write 0 rows (6 unchanged, 0 kept Railway-only)",
            "  animals: would insert 0, update 1, leave 59 unchanged, keep 0 Railway-only, "
            "delete 0",
            "  animal_images: up to date, would write 0 rows (20 unchanged, 0 kept Railway-only)",
            "  scrape_logs: up to date, would write 0 rows (15 unchanged, 0 kept Railway-only)",
            "  service_regions: would insert 1, update 0, leave 4 unchanged, keep 0 Railway-only, "
            "delete 0",
            "Guards: --mode incremental would pass.",
            "Dry run: nothing was written to Railway (it would write 2 rows and delete 0).",
            "✅ Railway data sync dry run completed",
        ),
        "",
        0,
    )


@DB
def test_sync_refusal_is_one_line_on_stderr(seeded):
    assert run_cli("railway_sync", "--mode", "rebuild") == (
        lines("🚀 Starting Railway data sync..."),
        lines(
            "❌ Railway data sync failed: --mode rebuild replaces Railway's data and needs "
            "--confirm-destructive; nothing was touched. Preview it with: python manage.py "
            "railway_sync --mode rebuild --dry-run"
        ),
        1,
    )


# -- railway_status ---------------------------------------------------------------------------


@DB
def test_status_output_in_sync(seeded):
    assert run_cli("railway_sync")[2] == 0

    assert run_cli("railway_status") == (
        lines(
            f"✅ Railway connection successful ({RAILWAY})",
            *IN_SYNC_TABLES,
            "✅ Local and Railway databases are in sync",
            "Recommendation: Nothing to do.",
            "Last successful sync: <time> (<n> minutes ago)",
        ),
        "",
        0,
    )


@DB
def test_status_check_out_of_sync_ends_with_one_warning_line(seeded):
    assert run_cli("railway_sync")[2] == 0
    execute("railway", "UPDATE animals SET name = 'Changed on Railway' WHERE id = 1")

    out, err, code = run_cli("railway_status", "--check")

    assert (out, err, code) == (
        lines(
            f"✅ Railway connection successful ({RAILWAY})",
            IN_SYNC_TABLES[0],
            "  animals: 60 → 60 (⚠ 1 differ)",
            *IN_SYNC_TABLES[2:],
            "⚠ Data mismatch detected",
            "Recommendation: Run: python manage.py railway_sync",
            "Last successful sync: <time> (<n> minutes ago)",
        ),
        lines("⚠ Local and Railway databases are not in sync"),
        1,
    )


@DB
def test_status_during_a_schema_change_cannot_compare_and_says_so(seeded):
    """Issue 19: it exited 0, flattened the message into one line, said "nothing was written"
    (it never writes) and showed "✅ content matches" beside "⚠ Data mismatch detected"."""
    assert run_cli("railway_sync")[2] == 0
    fix = "python manage.py railway_makemigrations && python manage.py railway_migrate"
    problem = f"Railway's columns differ from local in 1 place(s). Run: {fix}"
    difference = "  animals.breed_slug: missing on Railway (local has text)"
    execute("default", "ALTER TABLE animals ADD COLUMN breed_slug TEXT")
    try:
        text = run_cli("railway_status")
        document, err, code = json_run("railway_status")
    finally:
        execute("default", "ALTER TABLE animals DROP COLUMN breed_slug")

    assert text == (
        lines(
            f"✅ Railway connection successful ({RAILWAY})",
            "  organizations: 6 → 6 (not compared)",
            "  animals: 60 → 60 (not compared)",
            "  animal_images: 20 → 20 (not compared)",
            "  scrape_logs: 15 → 15 (not compared)",
            "  service_regions: 5 → 5 (not compared)",
            f"⚠ {problem}",
            difference,
            f"Recommendation: Run: {fix}",
            "Last successful sync: <time> (<n> minutes ago)",
        ),
        lines(f"❌ Railway status could not compare the rows: {problem}"),
        1,
    )
    assert code == 1
    assert err == lines(f"❌ Railway status could not compare the rows: {problem}")
    assert set(document) == STATUS_KEYS
    assert (document["outcome"], document["exit_code"], document["in_sync"]) == (
        "not_compared",
        1,
        False,
    )
    assert document["error"] == f"{problem}\n{difference}"
    assert {(t["compared"], t["in_sync"]) for t in document["tables"]} == {("", False)}


# -- railway_setup and railway_demo -----------------------------------------------------------


@DB
def test_setup_output(seeded):
    assert run_cli("railway_setup") == (
        lines(
            "🚀 Starting Railway setup...",
            "Step 1/4: Database schema migration",
            "  Schema is up to date: no migrations to apply",
            "Step 2/4: Initial data synchronization",
            *FIRST_SYNC_TABLES,
            "Verified: every local row is on Railway with identical content.",
            "Step 3/4: Data integrity validation",
            "  Every local row is on Railway with identical content.",
            "Step 4/4: Final status report",
            f"✅ Railway connection successful ({RAILWAY})",
            *IN_SYNC_TABLES,
            "✅ Local and Railway databases are in sync",
            "Recommendation: Nothing to do.",
            "✅ Railway setup completed successfully",
        ),
        "",
        0,
    )


def test_demo_help_names_what_it_does():
    out, err, code = run_process("railway_demo", "--help")

    assert (err, code) == ("", 0)
    usage = out.split("\n\n")
    assert " ".join(usage[0].split()).startswith(
        "usage: manage.py railway_demo [-h] [--animals ANIMALS] [--print-url] [--admin [ADDRPORT]]"
    )
    assert " ".join(usage[1].split()) == (
        "Demo on the embedded PostgreSQL, in steps: (1) seed the local database with sample "
        "rescue data unless it holds some, (2) create an empty embedded database "
        "'railway_demo' standing in for Railway, (3) railway_setup (migrate, initial sync, "
        "validation, status), (4) railway_sync again (nothing to write), (5) railway_status "
        "--check. Refuses to run when DATABASE_URL is set. --print-url and --admin use the "
        "stand-in afterwards."
    )


# -- the --format json documents: exact key sets, on success and on failure -------------------

FORCE_REFUSED = (
    "--mode force replaces Railway's data and needs --confirm-destructive; nothing was "
    "touched. Preview it with: python manage.py railway_sync --mode force --dry-run"
)
TABLES = ["organizations", "animals", "animal_images", "scrape_logs", "service_regions"]


def json_run(*args: str, env: dict[str, str] | None = None) -> tuple[dict[str, Any], str, int]:
    out, err, code = run_process(*args, "--format", "json", env=both_urls() if env is None else env)
    return json.loads(out), normalise(err), code


@DB
def test_sync_document_keys_on_success_and_on_failure(seeded):
    document, err, code = json_run("railway_sync")

    assert (err, code) == ("", 0)
    assert set(document) == SYNC_KEYS
    assert [set(entry) for entry in document["tables"]] == [SYNC_TABLE_KEYS] * 5
    assert [entry["table"] for entry in document["tables"]] == TABLES
    assert (document["outcome"], document["exit_code"], document["error"]) == ("success", 0, None)

    document, err, code = json_run("railway_sync", "--mode", "force")

    assert code == 1
    assert isinstance(document.pop("seconds"), float)
    assert document == {
        "command": "railway_sync",
        "outcome": "failed",
        "exit_code": 1,
        "mode": "force",
        "dry_run": False,
        "verified": False,
        "rows_written": 0,
        "rows_deleted": 0,
        "guard_problems": [],
        "refused_tables": [],
        "notices": [],
        "tables": [],
        "error": FORCE_REFUSED,
    }
    assert err == lines(f"❌ Railway data sync failed: {FORCE_REFUSED}")


@DB
def test_status_document_keys_on_success_and_on_failure(seeded):
    assert run_cli("railway_sync")[2] == 0
    document, err, code = json_run("railway_status")

    assert (err, code) == ("", 0)
    assert set(document) == STATUS_KEYS
    assert [set(entry) for entry in document["tables"]] == [STATUS_TABLE_KEYS] * 5
    assert [entry["table"] for entry in document["tables"]] == TABLES
    assert (document["outcome"], document["exit_code"], document["error"]) == ("in_sync", 0, None)

    document, err, code = json_run("railway_status", env={"DATABASE_URL": database_url("default")})

    assert code == 1
    assert document == {
        "command": "railway_status",
        "outcome": "failed",
        "exit_code": 1,
        "railway": None,
        "connected": False,
        "in_sync": False,
        "tables": [],
        "recommendation": None,
        "notices": [],
        "last_successful_sync": None,
        "local_history": None,
        "error": RAILWAY_MISSING,
    }
    assert err == lines(f"❌ Railway status failed: {RAILWAY_MISSING}")


@DB
def test_test_connection_document_keys_on_success_and_on_failure(clean):
    document, err, code = json_run("railway_test_connection")

    assert (err, code) == ("", 0)
    assert set(document) == CONNECTION_KEYS
    assert (document["outcome"], document["exit_code"], document["error"]) == ("success", 0, None)

    env = {"DATABASE_URL": database_url("default")}
    document, err, code = json_run("railway_test_connection", env=env)

    assert code == 1
    assert isinstance(document.pop("seconds"), float)
    assert document == {
        "command": "railway_test_connection",
        "outcome": "failed",
        "exit_code": 1,
        "railway": None,
        "server_version": None,
        "database": None,
        "error": RAILWAY_MISSING,
    }
    assert err == lines(f"❌ Railway connection failed: {RAILWAY_MISSING}")


# -- dry runs that would be refused, deletions, and the JSON on failure ------------------------


@DB
def test_dry_run_that_would_be_refused_ends_with_a_warning(seeded):
    assert run_cli("railway_sync", "--mode", "rebuild", "--dry-run") == (
        lines(
            "🚀 Starting Railway data sync... (dry run)",
            "  organizations: would insert 6, update 0, leave 0 unchanged, keep 0 Railway-only, "
            "delete 0",
            "  animals: would insert 60, update 0, leave 0 unchanged, keep 0 Railway-only, "
            "delete 0",
            "  animal_images: would insert 20, update 0, leave 0 unchanged, keep 0 Railway-only, "
            "delete 0",
            "  scrape_logs: would insert 15, update 0, leave 0 unchanged, keep 0 Railway-only, "
            "delete 0",
            "  service_regions: would insert 5, update 0, leave 0 unchanged, keep 0 Railway-only, "
            "delete 0",
            "Guards: --mode rebuild would pass.",
            "--mode rebuild would also need --confirm-destructive.",
            "Dry run: nothing was written to Railway (it would write 106 rows and delete 0).",
            "⚠ Railway data sync dry run completed: the sync itself would be refused (see above)",
        ),
        "",
        0,
    )


@DB
def test_deletions_are_reported_as_deletions(seeded):
    assert run_cli("railway_sync")[2] == 0
    # Local deleted a region the sync put on Railway (a row the site added would be kept).
    execute("default", "DELETE FROM service_regions WHERE id = 5")

    dry_run = run_cli("railway_sync", "--prune", "--dry-run")
    assert dry_run[0].splitlines()[-3:] == [
        "Guards: --mode incremental would refuse: service_regions: --prune would delete 1 of 5 "
        "rows, more than 10%",
        "Dry run: nothing was written to Railway (it would write 0 rows and delete 1).",
        "⚠ Railway data sync dry run completed: the sync itself would be refused (see above)",
    ]
    assert dry_run[1:] == ("", 0)
    out, err, code = run_cli("railway_sync", "--prune", "--confirm-destructive")
    assert (out.splitlines()[-3:], err, code) == (
        [
            "  service_regions: 0 inserted, 0 updated, 4 unchanged, 1 deleted (… s)",
            "Verified: every local row is on Railway with identical content.",
            "✅ Railway data sync completed successfully (0 rows written, 1 deleted in … s)",
        ],
        "",
        0,
    )
    document, err, code = json_run("railway_sync")
    assert (document["rows_written"], document["rows_deleted"], code) == (0, 0, 0)


@DB
def test_json_on_failure_has_seconds_and_the_masked_url(clean):
    port = closed_port()
    env = {
        "DATABASE_URL": database_url("default"),
        "RAILWAY_DATABASE_URL": f"postgresql://someone:pw-not-shown@127.0.0.1:{port}/railway",
        "RAILWAY_CONNECT_ATTEMPTS": "1",
    }

    connection, _, code = json_run("railway_test_connection", env=env)
    assert code == 1
    assert connection["railway"] == f"postgresql://someone:***@127.0.0.1:{port}/railway"
    assert isinstance(connection["seconds"], float)

    sync, _, code = json_run("railway_sync", env=env)
    assert code == 1
    assert isinstance(sync["seconds"], float) and sync["outcome"] == "failed"

    status, _, code = json_run("railway_status", env=env)
    assert code == 1
    assert status["railway"] == f"postgresql://someone:***@127.0.0.1:{port}/railway"
    assert "pw-not-shown" not in json.dumps([connection, sync, status])


@DB
def test_last_successful_sync_is_iso_8601_with_its_offset(seeded):
    assert run_cli("railway_sync")[2] == 0

    document, _, code = json_run("railway_status")

    assert code == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", document["last_successful_sync"])
