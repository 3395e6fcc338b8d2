"""``railway_pull`` (issue 23): the local tables made equal to Railway's, guarded and exact,
driven through the command as a user runs it, with the rows on both databases checked."""

from __future__ import annotations

import json
import signal

from railway_sync import sample
from railway_sync.models import SYNCED_TABLES, PullState, SyncRun
from railway_sync.pg import driver
from railway_sync.pg.locks import RUN_LOCK_KEY
from tests.conftest import (
    DB,
    checksum,
    execute,
    fetch,
    run,
    run_process,
    scalar,
    table_rows,
    truncate,
)
from tests.helpers import blocked_by, both_urls, raw_connection, start_manage_py, wait_for
from tests.test_ownership import SITE_ANIMAL, site_insert

ALL_TABLES = ", ".join(SYNCED_TABLES)


def synced_and_cleared() -> dict:
    """Railway holds the seeded rows (one sync) and a row of the site's; local lost
    everything (a dropped database, a scraper bug): what a pull recovers from."""
    assert run("railway_sync")[2] == 0
    site_insert(SITE_ANIMAL, [1])
    railway = checksum("railway")
    truncate("default")
    return railway


def pull_json(*args: str) -> tuple[dict, int]:
    out, err, code = run("railway_pull", "--format", "json", *args)
    return json.loads(out), code


@DB
def test_a_pull_into_cleared_tables_brings_every_railway_row_back(seeded):
    railway = synced_and_cleared()

    out, err, code = run("railway_pull")

    assert code == 0, out + err
    assert checksum("default") == railway == checksum("railway")
    lines = out.splitlines()
    assert lines[0] == "⬇ Pulling from Railway..."
    assert (
        "  animals: 61 inserted, 0 updated, 0 deleted locally (Railway 61 rows, local 0)" in lines
    )
    assert lines[-2] == "Verified: every Railway row is in the local tables with identical content."
    assert lines[-1].startswith("✅ Pull from Railway completed (")
    # Local's sequences moved past the ids pulled, below the site's range: the scrapers'
    # next row takes a free id.
    assert scalar("default", "SELECT nextval('organizations_id_seq')") == 7
    assert scalar("default", "SELECT nextval('animals_id_seq')") == 61
    run_record = SyncRun.objects.using("default").first()
    assert (run_record.command, run_record.mode, run_record.outcome) == (
        "railway_pull",
        "pull",
        "success",
    )


@DB
def test_after_a_pull_the_sync_writes_nothing_and_the_sites_row_stays_the_sites(seeded):
    synced_and_cleared()
    assert run("railway_pull")[2] == 0
    site_id = scalar("railway", "SELECT max(id) FROM animals")
    railway = checksum("railway")

    out, err, code = run("railway_sync", "--prune", "--format", "json")
    document = json.loads(out)

    assert code == 0
    assert (document["rows_written"], document["rows_deleted"]) == (0, 0)
    assert checksum("railway") == railway
    # The rows the pull wrote are Railway's: change tracking does not count them as local
    # changes, so the sync compares none of them again (no full comparison after a pull).
    assert {t["table"]: t["compared"] for t in document["tables"]}["animals"] == "tracked"
    # Not claimed: the ownership record still leaves the site's row out...
    assert not scalar(
        "railway",
        "SELECT %s::bigint <@ ids FROM railway_sync_owned WHERE table_name = 'animals'",
        [site_id],
    )
    # ...so when local deletes it, --prune keeps it on Railway.
    execute("default", "DELETE FROM animals WHERE id = %s", [site_id])
    assert run("railway_sync", "--prune")[2] == 0
    assert scalar("railway", "SELECT count(*) FROM animals WHERE id = %s", [site_id]) == 1


@DB
def test_railway_is_only_read(seeded):
    railway = synced_and_cleared()
    database = fetch("railway", "SELECT current_database()")[0][0]
    execute("railway", f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
    try:
        out, err, code = run_process_pull()
    finally:
        execute(
            "railway",
            f'ALTER DATABASE "{database}" RESET default_transaction_read_only',
        )

    assert code == 0, out + err
    assert checksum("default") == railway == checksum("railway")


def run_process_pull(*args: str) -> tuple[str, str, int]:
    """The pull in a process of its own, which connects afresh (and so sees database-level
    settings made since)."""
    return run_process("railway_pull", *args, env=both_urls())


@DB
def test_local_work_not_on_railway_refuses_the_pull_until_confirmed(seeded):
    assert run("railway_sync")[2] == 0
    # Production repaired two animals; local meanwhile changed one of them and added one.
    execute("railway", "UPDATE animals SET name = 'Fixed on Railway' WHERE id IN (3, 4)")
    execute("default", "UPDATE animals SET name = 'Edited locally' WHERE id = 4")
    execute(
        "default",
        "INSERT INTO animals (id, name, organization_id, adoption_url) "
        "VALUES (900, 'New local dog', 1, 'https://e.org/900')",
    )
    local = checksum("default")

    out, err, code = run("railway_pull")

    assert code == 1
    assert err.splitlines()[-1] == (
        "❌ Pull from Railway failed: The pull would delete or overwrite 2 local row(s) "
        "changed since the last sync (not on Railway yet): animals 2 (ids 4, 900); nothing "
        "was changed. Push them first with python manage.py railway_sync, or discard them "
        "with python manage.py railway_pull --confirm-destructive"
    )
    assert checksum("default") == local

    document, code = pull_json("--dry-run")
    assert code == 0
    animals = next(t for t in document["tables"] if t["table"] == "animals")
    assert (animals["updated"], animals["deleted"], animals["local_changes"]) == (2, 1, 2)
    assert animals["local_change_ids"] == [4, 900]
    assert document["needs_confirmation"] is True
    assert checksum("default") == local

    out, err, code = run("railway_pull", "--confirm-destructive")
    assert code == 0, out + err
    assert checksum("default") == checksum("railway")
    # The next pull finds nothing of local's at risk: the pull's own rows are not local work.
    execute("railway", "UPDATE animals SET name = 'Fixed again' WHERE id = 3")
    assert run("railway_pull")[2] == 0
    assert table_rows("default", "animals") == table_rows("railway", "animals")


@DB
def test_a_dry_run_reports_per_table_and_changes_nothing(seeded):
    synced_and_cleared()
    local, railway = checksum("default"), checksum("railway")

    document, code = pull_json("--dry-run", "--tables", "organizations,animals")

    assert code == 0
    assert set(document) == {
        "command",
        "outcome",
        "exit_code",
        "dry_run",
        "verified",
        "needs_confirmation",
        "rows_written",
        "rows_deleted",
        "seconds",
        "notices",
        "tables",
        "error",
    }
    assert (document["outcome"], document["rows_written"]) == ("dry_run", 0)
    assert [t["table"] for t in document["tables"]] == ["organizations", "animals"]
    assert document["tables"][1] == {
        "table": "animals",
        "local_count": 0,
        "railway_count": 61,
        "inserted": 61,
        "updated": 0,
        "deleted": 0,
        "unchanged": 0,
        "created": False,
        "local_changes": 0,
        "local_change_ids": [],
    }
    assert (checksum("default"), checksum("railway")) == (local, railway)


@DB
def test_a_table_local_lacks_is_one_line_naming_the_flag_that_creates_it(seeded):
    railway = synced_and_cleared()
    execute("default", f"DROP TABLE {ALL_TABLES} CASCADE")
    try:
        out, err, code = run("railway_pull")
        assert code == 1
        assert err.splitlines()[-1] == (
            "❌ Pull from Railway failed: The local database has no table "
            f"{ALL_TABLES}; nothing was changed. To create them as Railway has them, run: "
            "python manage.py railway_pull --create-tables"
        )

        out, err, code = run("railway_pull", "--create-tables")

        assert code == 0, out + err
        assert (
            "  animals: 61 inserted, 0 updated, 0 deleted locally (Railway 61 rows, local 0) (created as Railway has it)"
            in out.splitlines()
        )
        assert checksum("default") == railway
        # Created with Railway's keys, indexes and sequences: the scrapers can write again.
        assert scalar("default", "SELECT nextval('animals_id_seq')") == 61
        assert fetch(
            "default",
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'animals'::regclass "
            "AND contype = 'f'",
        ) == fetch(
            "railway",
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'animals'::regclass "
            "AND contype = 'f'",
        )
    finally:
        execute("default", f"DROP TABLE IF EXISTS {ALL_TABLES} CASCADE")
        execute("default", sample.SOURCE_SCHEMA.read_text())


@DB
def test_a_pull_records_where_local_stood(seeded):
    synced_and_cleared()

    assert run("railway_pull")[2] == 0

    states = {state.table_name: state for state in PullState.objects.using("default").all()}
    assert set(states) == set(SYNCED_TABLES)
    site_id = scalar("railway", "SELECT max(id) FROM animals")
    assert states["animals"].site_ids == f"{{[{site_id},{site_id + 1})}}"
    assert states["organizations"].site_ids == "{}"


@DB
def test_a_pull_killed_midway_leaves_local_exactly_as_before(seeded):
    synced_and_cleared()
    execute(
        "default",
        "INSERT INTO organizations (id, name, website_url) VALUES (1, 'Local work', 'https://l.org')",
    )
    before = checksum("default")
    holder = raw_connection("default", autocommit=False)
    holder.cursor().execute("LOCK TABLE animal_images IN ACCESS EXCLUSIVE MODE")
    holder_pid = driver.backend_pid(holder)
    pull = start_manage_py(
        "railway_pull", "--confirm-destructive", env=both_urls(RAILWAY_LOCK_TIMEOUT="600")
    )
    try:
        # Organizations and animals are written; the pull waits for animal_images.
        wait_for(lambda: blocked_by("default", holder_pid), "the pull to reach animal_images")
        pulling = blocked_by("default", holder_pid)[0]
        pull.send_signal(signal.SIGKILL)
        pull.wait()
    finally:
        holder.rollback()
        holder.close()
    wait_for(
        lambda: (
            not scalar("default", "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pulling])
        ),
        "the killed pull's session to end",
    )

    assert checksum("default") == before


@DB
def test_a_pull_waits_for_a_running_sync_then_fails_clearly(seeded):
    synced_and_cleared()
    before = checksum("default")
    holder = raw_connection("railway")
    holder.cursor().execute("SELECT pg_advisory_lock(%s)", [RUN_LOCK_KEY])
    try:
        out, err, code = run_process("railway_pull", env=both_urls(RAILWAY_SYNC_WAIT_TIMEOUT="1"))
    finally:
        holder.close()

    assert code == 1
    assert err.splitlines()[-1] == (
        "❌ Pull from Railway failed: another railway_sync is running (waited 1 s for it to "
        "finish); nothing was written. Try again later, or raise RAILWAY_SYNC_WAIT_TIMEOUT."
    )
    assert checksum("default") == before
