"""A routine command asks Railway a fixed handful of times, however many tables it syncs.

Railway is across the internet, where what a routine command costs is the number of times it
waits for Railway. Each command here runs as its own process, as cron runs it, with Railway
reached through the counting link of the round-trip benchmark (``benchmarks/link.py``) and
local direct. Round trips are counted by the link, not estimated, and do not depend on time,
so these are exact counts. Through this link (the embedded server: trust, no TLS) connecting
costs 2: the TCP handshake and the startup exchange; Railway adds the SSLRequest, TLS and
SCRAM's steps (``benchmarks.roundtrips`` measures those).

Five tables are synced, so a statement asked per table would show as five round trips.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

from benchmarks.link import Counts, Link, server_socket
from tests.conftest import (
    DB,
    checksum,
    database_url,
    execute,
    run,
    run_process,
    wait_for_a_quiet_server,
)

CONNECTING = 2  # the TCP handshake and the startup exchange


@pytest.fixture
def link() -> Iterator[Link]:
    connections["railway"].ensure_connection()  # the embedded backend learns its socket
    with Link(server_socket(Path(connections["railway"].settings_dict["HOST"]))) as link:
        yield link


@pytest.fixture
def in_sync(seeded) -> None:
    """Railway holds the local rows, synced twice so that change tracking has a watermark
    that no write of the set-up itself is newer than (on a quiet server: a transaction left
    open anywhere would hold the watermark back, and every row would be compared)."""
    assert run("railway_sync")[2] == 0
    wait_for_a_quiet_server()
    assert run("railway_sync")[2] == 0


def through(link: Link, *args: str) -> tuple[Counts, str, str, int]:
    """Run a command with Railway behind the link: (what crossed it, stdout, stderr, exit)."""
    database_url("railway")  # connects, so the test database's name is final
    before = link.counts()
    out, err, code = run_process(
        *args,
        env={
            "DATABASE_URL": database_url("default"),
            "RAILWAY_DATABASE_URL": link.url(connections["railway"].settings_dict["NAME"]),
        },
    )
    assert link.wait_idle(), "the command left a connection to Railway open"
    return link.counts() - before, out, err, code


@DB
def test_testing_the_connection_asks_railway_once(link, clean):
    counted, out, _, code = through(link, "railway_test_connection")

    assert code == 0, out
    assert (counted.connections, counted.round_trips) == (1, CONNECTING + 1)


@DB
def test_status_of_a_railway_in_sync_asks_three_times(link, in_sync):
    # A local transaction that takes an id (as a write to another table does): the status
    # cannot tell it from a scrape, and reads the tables.
    execute("default", "SELECT pg_current_xact_id()")

    counted, out, err, code = through(link, "railway_status", "--format", "json")

    assert code == 0, err
    assert json.loads(out)["in_sync"] is True
    # Who it is and its catalog; watermarks, migrations, id ranges; the survey of every table.
    assert (counted.connections, counted.round_trips) == (1, CONNECTING + 3)


@DB
def test_status_after_a_quiet_sync_asks_twice(link, in_sync):
    for _ in range(4):
        wait_for_a_quiet_server()  # a sync reading while a transaction is open cannot record
        assert run("railway_sync")[2] == 0
        counted, out, err, code = through(link, "railway_status", "--format", "json")
        if {table["compared"] for table in json.loads(out)["tables"]} == {"quiet"}:
            break

    assert code == 0, err
    assert {table["compared"] for table in json.loads(out)["tables"]} == {"quiet"}
    assert json.loads(out)["in_sync"] is True
    # Who it is and its catalog; watermarks, migrations, id ranges and the write log's notes.
    assert (counted.connections, counted.round_trips) == (1, CONNECTING + 2)


@DB
def test_a_sync_with_nothing_to_write_asks_five_times_and_opens_no_transaction(link, in_sync):
    before = checksum("railway")
    # A local transaction that takes an id (as a write to another table does): the sync
    # cannot tell it from a scrape, and reads the tables.
    execute("default", "SELECT pg_current_xact_id()")

    counted, out, err, code = through(link, "railway_sync", "--format", "json")

    assert code == 0, err
    assert json.loads(out)["rows_written"] == 0
    assert checksum("railway") == before
    # The first two as for status with the run lock; the survey; one statement for every
    # table's bookkeeping (watermarks, ownership, sequences); the run lock's release.
    assert (counted.connections, counted.round_trips) == (1, CONNECTING + 5)


@DB
def test_a_sync_after_a_quiet_one_asks_three_times_and_reads_no_table(link, in_sync):
    before = checksum("railway")

    # Until quiet: a transaction unrelated to the tables (autovacuum's ANALYZE on this shared
    # server) taking an id makes a sync read them, as a write would.
    for _ in range(4):
        wait_for_a_quiet_server()  # a sync reading while a transaction is open cannot record
        counted, out, err, code = through(link, "railway_sync", "--format", "json")
        assert code == 0, err
        if {table["compared"] for table in json.loads(out)["tables"]} == {"quiet"}:
            break
    assert {table["compared"] for table in json.loads(out)["tables"]} == {"quiet"}
    assert checksum("railway") == before
    # The first two as for status with the run lock (the write log's notes with them); the
    # run lock's release.
    assert (counted.connections, counted.round_trips) == (1, CONNECTING + 3)


@DB
def test_a_sync_that_updates_rows_of_one_table_adds_that_tables_transaction(link, in_sync):
    execute("default", "UPDATE animals SET age_text = 'older' WHERE id IN (1, 2, 3)")

    counted, out, err, code = through(link, "railway_sync", "--format", "json")

    assert code == 0, err
    assert json.loads(out)["rows_written"] == 3
    assert checksum("railway") == checksum("default")
    # Five as above, plus: the changed rows' hashes (1); BEGIN; the staging table; COPY (2);
    # the upsert; the verification; the table's bookkeeping; COMMIT (8).
    assert (counted.connections, counted.round_trips) == (1, CONNECTING + 5 + 9)


@DB
def test_rows_added_and_deleted_on_both_sides_cost_one_more_question_not_one_per_table(
    link, in_sync
):
    execute("default", "DELETE FROM animal_images WHERE id = (SELECT max(id) FROM animal_images)")
    execute("default", "DELETE FROM scrape_logs WHERE id = (SELECT max(id) FROM scrape_logs)")
    execute(
        "default",
        "INSERT INTO organizations (name, website_url) VALUES ('New shelter', 'https://new.example')",
    )
    execute(
        "railway",
        "INSERT INTO organizations (name, website_url) VALUES ('Site shelter', 'https://site.example')",
    )

    counted, out, err, code = through(link, "railway_sync", "--format", "json")

    assert code == 0, err
    report = json.loads(out)
    assert report["rows_written"] == 1
    # Three tables differ in their id checksums: one statement reads the ids where they differ
    # (and the site's rows again) for all of them, and the new row's hash; organizations then
    # writes in its own transaction, as above (8).
    assert (counted.connections, counted.round_trips) == (1, CONNECTING + 5 + 1 + 8)
