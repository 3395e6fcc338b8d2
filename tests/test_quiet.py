"""A sync after nothing was written on either side answers from the last quiet sync's record
(``compared`` "quiet", the same figures), and anything written since, on either side, makes
it read the tables again and find it."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from railway_sync.engine.watch import LocalChanges
from railway_sync.models import SYNCED_TABLES
from railway_sync.operator import history
from railway_sync.pg.write_log import TRIGGER
from tests.conftest import DB, checksum, execute, run, run_process, wait_for_a_quiet_server
from tests.helpers import both_urls, sync_tables_json

FIGURES = ("local_count", "railway_count", "unchanged", "kept", "site_rows")


def until_quiet(
    limit: int = 4, sync: Callable[[], dict[str, dict]] = sync_tables_json
) -> dict[str, dict]:
    """Run ``sync`` (its tables by name) until a sync answers quietly (at most ``limit``
    times), none writing a row; the quiet one's tables by name. More than one when a
    transaction unrelated to the tables took an id meanwhile (autovacuum's ANALYZE on this
    shared test server): the sync cannot tell it from a write, and reads."""
    for _ in range(limit):
        # A sync reading while a transaction is open anywhere on the server cannot record.
        wait_for_a_quiet_server()
        tables = sync()
        assert all(t["inserted"] + t["updated"] + t["deleted"] == 0 for t in tables.values())
        if {t["compared"] for t in tables.values()} == {"quiet"}:
            return tables
    raise AssertionError(f"no quiet sync in {limit}")


def quiet_after_two_syncs() -> dict[str, dict]:
    """Sync into the empty Railway, then until a sync answers quietly."""
    sync_tables_json()
    return until_quiet()


def per_table_lines(out: str) -> list[str]:
    """The sync's per-table lines without their timings."""
    return [line.rsplit(" (", 1)[0] for line in out.splitlines() if line.startswith("  ")]


@DB
def test_a_sync_after_a_quiet_one_answers_alike_without_reading(seeded):
    sync_tables_json()
    read_out, _, read_code = run("railway_sync")  # nothing to do: it reads, and records so

    quiet = until_quiet()
    out, err, code = run("railway_sync")

    assert {name: quiet[name]["local_count"] for name in quiet} == {
        "organizations": 6,
        "animals": 60,
        "animal_images": 20,
        "scrape_logs": 15,
        "service_regions": 5,
    }
    for result in quiet.values():
        assert result["local_count"] == result["railway_count"] == result["unchanged"]
        assert (result["kept"], result["site_rows"]) == (0, 0)
    assert (code, read_code) == (0, 0)
    assert per_table_lines(out) == per_table_lines(read_out)
    assert "  animals: up to date, 0 rows written" in per_table_lines(out)
    assert "Verified: every local row is on Railway with identical content." in out
    assert checksum("railway") == checksum("default")


LOCAL_WRITES = {
    "insert": (
        "INSERT INTO animals (id, name, organization_id, adoption_url) VALUES (70, 'New', 1, 'u')",
        ("animals", "inserted", 1),
    ),
    "update": (
        "UPDATE scrape_logs SET status = 'moved' WHERE id = 2",
        ("scrape_logs", "updated", 1),
    ),
    "delete": ("DELETE FROM animal_images WHERE id = 4", ("animal_images", "kept", 1)),
}


@DB
def test_a_write_to_another_local_table_only_makes_the_next_sync_read(seeded):
    quiet_after_two_syncs()
    # A transaction that takes an id, as any write to another table would.
    execute("default", "SELECT pg_current_xact_id()")

    tables = sync_tables_json()

    assert {t["compared"] for t in tables.values()} == {"tracked"}
    assert all(t["inserted"] + t["updated"] + t["deleted"] == 0 for t in tables.values())
    until_quiet()


RAILWAY_WRITES = {
    "site's row": (
        "INSERT INTO service_regions (id, organization_id, country) VALUES (50, 1, 'ZZ')",
        ("service_regions", "site_rows", 1),
    ),
    "edit": (
        "UPDATE animals SET name = 'Edited on Railway' WHERE id = 20",
        ("animals", "updated", 1),
    ),
    "delete": ("DELETE FROM scrape_logs WHERE id = 3", ("scrape_logs", "inserted", 1)),
    "truncate": ("TRUNCATE service_regions", ("service_regions", "inserted", 5)),
    # As restore tools write: triggers that only fire for origin sessions would miss it.
    "replica role": (
        "SET session_replication_role = replica; "
        "UPDATE organizations SET name = 'Restored' WHERE id = 2; "
        "SET session_replication_role = DEFAULT",
        ("organizations", "updated", 1),
    ),
}


WRITES = {("default", kind): write for kind, write in LOCAL_WRITES.items()} | {
    ("railway", kind): write for kind, write in RAILWAY_WRITES.items()
}


@DB
@pytest.mark.parametrize(("alias", "kind"), sorted(WRITES))
def test_a_write_on_either_side_after_a_quiet_sync_is_seen(seeded, alias, kind):
    quiet_after_two_syncs()
    statement, (table, figure, count) = WRITES[alias, kind]
    execute(alias, statement)

    tables = sync_tables_json()

    assert "quiet" not in {t["compared"] for t in tables.values()}
    assert tables[table][figure] == count
    until_quiet()


@DB
def test_a_conflict_is_reported_by_every_sync_not_recorded_as_quiet(seeded):
    quiet_after_two_syncs()
    # The site inserts animal 61; local's scrapers insert their own animal 61.
    execute(
        "railway",
        "INSERT INTO animals (id, name, organization_id, adoption_url, slug) "
        "VALUES (61, 'Site dog', 1, 'https://site.example/61', 'site-dog')",
    )
    execute(
        "default",
        "INSERT INTO animals (id, name, organization_id, adoption_url, slug) "
        "VALUES (61, 'New dog', 2, 'https://e.org/61', 'new-dog')",
    )

    for _ in range(3):
        out, err, code = run("railway_sync", "--format", "json")
        animals = {t["table"]: t for t in json.loads(out)["tables"]}["animals"]
        assert (code, animals["conflicts"], animals["compared"]) == (1, 1, "tracked")


@DB
def test_a_table_without_its_trigger_is_read_until_railway_migrate_puts_it_back(seeded):
    quiet_after_two_syncs()
    execute("railway", f"DROP TRIGGER {TRIGGER} ON animals")

    assert {t["compared"] for t in sync_tables_json().values()} == {"tracked"}
    assert {t["compared"] for t in sync_tables_json().values()} == {"tracked"}

    out, err, code = run("railway_migrate")
    assert code == 0, err
    until_quiet()
    execute("railway", "UPDATE animals SET name = 'Unseen?' WHERE id = 20")
    tables = sync_tables_json()
    assert (tables["animals"]["compared"], tables["animals"]["updated"]) == ("tracked", 1)
    assert checksum("railway") == checksum("default")


# What a sync runs only when it reads the tables or writes, and other commands' engines.
NOT_FOR_A_QUIET_SYNC = {
    "railway_sync.engine.write",
    "railway_sync.engine.load",
    "railway_sync.engine.pull",
    "railway_sync.engine.status",
    "railway_sync.schema.migrate",
}


@DB
def test_a_quiet_sync_in_its_own_process_does_not_import_the_write_or_other_commands(seeded):
    # Cron's sync, most often quiet, pays for every module it imports on every run.
    stderr: list[str] = []

    def sync_in_its_own_process() -> dict[str, dict]:
        out, err, code = run_process(
            "railway_sync", "--format", "json", env=both_urls(PYTHONPROFILEIMPORTTIME="1")
        )
        assert code == 0, err
        stderr.append(err)
        return {table["table"]: table for table in json.loads(out)["tables"]}

    quiet_after_two_syncs()
    until_quiet(sync=sync_in_its_own_process)
    # Python names each module as it imports it: "import time: self | cumulative | name".
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in stderr[-1].splitlines()
        if line.startswith("import time:")
    }
    assert {"railway_sync.engine.quiet", "railway_sync.engine.planner"} <= imported
    assert imported & NOT_FOR_A_QUIET_SYNC == set()


@DB
def test_the_watch_takes_railway_syncs_own_history_for_no_change(seeded):
    looking = LocalChanges("default", SYNCED_TABLES)
    assert looking.changed()  # the first look
    assert not looking.changed()

    recorded = history.start("railway_sync", "incremental", False, {})
    history.finish(recorded, None)
    assert not looking.changed()

    execute("default", "UPDATE animals SET name = name || '!' WHERE id = 3")
    assert looking.changed()
    assert not looking.changed()


def status_document(*args: str) -> tuple[int, dict]:
    out, err, code = run("railway_status", "--format", "json", *args)
    return code, json.loads(out)


@DB
def test_status_after_a_quiet_sync_says_what_reading_every_row_says(seeded):
    sync_tables_json()
    execute("default", "DELETE FROM animal_images WHERE id = 4")  # kept on Railway
    execute(
        "railway", "INSERT INTO service_regions (id, organization_id, country) VALUES (50, 1, 'ZZ')"
    )
    until_quiet()

    code, quick = status_document()
    deep_code, deep = status_document("--deep")

    assert {t["compared"] for t in quick["tables"]} == {"quiet"}
    assert {t["compared"] for t in deep["tables"]} == {"full"}
    for document in (quick, deep):
        for table in document["tables"]:
            del table["compared"]
    assert [k for k in set(quick) | set(deep) if quick.get(k) != deep.get(k)] == []
    assert code == deep_code
    images = {t["table"]: t for t in quick["tables"]}["animal_images"]
    assert (images["railway_only"], images["in_sync"]) == (1, False)
