"""Which local database is this? A local database restored from an older backup must not be
trusted by change tracking, and a Railway URL that reaches the local database itself must be
refused before anything is written. Both are run as a user runs them: ``manage.py`` in a fresh
process, against real servers."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

from railway_sync.models import SYNCED_TABLES
from railway_sync.pg import driver, embedded
from railway_sync.pg.grants import STATE_TABLE
from tests.cluster import Cluster
from tests.conftest import (
    DB,
    checksum,
    database_url,
    execute,
    fetch,
    run,
    run_process,
    scalar,
)
from tests.helpers import LOCAL_DATABASE, create_scrapers_database, local_checksum, without_timing


def lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def read_one(connection, sql: str):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A local cluster of the test's own, which it can stop, back up and restore."""
    server = Cluster()
    try:
        server.start()
        with server.connect() as connection:
            connection.cursor().execute(f'CREATE DATABASE "{LOCAL_DATABASE}"')
        yield server
    finally:
        server.remove()


@DB
def test_a_local_database_restored_from_an_older_backup_is_compared_in_full(clean, cluster):
    env = {
        "DATABASE_URL": cluster.url(LOCAL_DATABASE),
        "RAILWAY_DATABASE_URL": database_url("railway"),
    }
    with cluster.connect(LOCAL_DATABASE) as connection:
        create_scrapers_database(connection)
    out, err, code = run_process("migrate", "--verbosity", "0", env=env)  # the sync history
    assert code == 0, err
    out, err, code = run_process("railway_sync", env=env)
    assert code == 0, err
    cluster.stop()
    cluster.back_up()
    cluster.start()
    with cluster.connect(LOCAL_DATABASE) as connection:
        backed_up = local_checksum(connection)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE animals SET name = name || ' (renamed)'")
            cursor.execute("UPDATE organizations SET city = city || ' North'")
        wal_before_sync = lsn(read_one(connection, "SELECT pg_current_wal_lsn()::text"))
    out, err, code = run_process("railway_sync", env=env)
    assert code == 0, err
    assert scalar("railway", "SELECT count(*) FROM animals WHERE name LIKE '%(renamed)'") == 60
    with cluster.connect(LOCAL_DATABASE) as connection:
        xid_after_sync = int(
            read_one(connection, "SELECT pg_snapshot_xmax(pg_current_snapshot())::text")
        )
    cluster.stop()
    cluster.restore()
    cluster.start()
    with cluster.connect(LOCAL_DATABASE) as connection:
        assert local_checksum(connection) == backed_up
        for _ in range(50):
            read_one(connection, "SELECT txid_current()")  # one transaction each (autocommit)
        # The premises: transaction ids have moved past every one the last sync saw, so its
        # watermark alone looks usable, while the WAL position is still behind it.
        assert (
            int(read_one(connection, "SELECT pg_snapshot_xmax(pg_current_snapshot())::text"))
            > xid_after_sync
        )
        assert lsn(read_one(connection, "SELECT pg_current_wal_lsn()::text")) < wal_before_sync
    went_back = re.compile(
        r"⚠ Local database went back in time \(WAL [0-9A-F]+/[0-9A-F]+ < [0-9A-F]+/[0-9A-F]+ "
        r"at the last sync; restored from a backup\?\): compared every row"
    )

    out, err, code = run_process("railway_status", "--check", env=env)

    assert code == 1, out + err
    lines = out.splitlines()
    assert lines[0].startswith("✅ Railway connection successful"), out
    assert went_back.fullmatch(lines[1]), out
    assert lines[2:9] == [
        "  organizations: 6 → 6 (⚠ 6 differ)",
        "  animals: 60 → 60 (⚠ 60 differ)",
        "  animal_images: 20 → 20 (✅ content matches)",
        "  scrape_logs: 15 → 15 (✅ content matches)",
        "  service_regions: 5 → 5 (✅ content matches)",
        "⚠ Data mismatch detected",
        "Recommendation: Run: python manage.py railway_sync",
    ]

    out, err, code = run_process("railway_sync", env=env)

    assert code == 0, err
    lines = without_timing(out)
    assert lines[0] == "🚀 Starting Railway data sync..."
    assert went_back.fullmatch(lines[1]), out
    assert re.fullmatch(
        r"✅ Railway data sync completed successfully \(66 rows written in \d+\.\d+ s\)", lines[-1]
    )
    assert lines[2:-1] == [
        "  organizations: 0 inserted, 6 updated, 0 unchanged, 0 deleted",
        "  animals: 0 inserted, 60 updated, 0 unchanged, 0 deleted",
        "  animal_images: up to date, 0 rows written",
        "  scrape_logs: up to date, 0 rows written",
        "  service_regions: up to date, 0 rows written",
        "Verified: every local row is on Railway with identical content.",
    ]
    with cluster.connect(LOCAL_DATABASE) as connection:
        assert local_checksum(connection) == backed_up == checksum("railway")
    assert scalar("railway", "SELECT count(*) FROM animals WHERE name LIKE '%(renamed)'") == 0

    # Having compared every row and recorded where local now stands, tracking is trusted again.
    out, err, code = run_process("railway_sync", "--verbosity", "2", env=env)
    assert code == 0, err
    assert "went back in time" not in out
    assert out.count("[tracked comparison]") == len(SYNCED_TABLES)


@pytest.fixture
def scrapers_database() -> Iterator[str]:
    """A database on the embedded server holding what the scrapers keep, none of Django's."""
    socket_dir = Path(connections["default"].settings_dict["HOST"])
    name = f"railway_sync_scrapers_{os.getpid()}"
    embedded.drop_database(socket_dir, name)
    embedded.ensure_database(socket_dir, name)
    connection = driver.connect(
        host=str(socket_dir), user=embedded.SUPERUSER, dbname=name, autocommit=True
    )
    try:
        create_scrapers_database(connection)
        yield name
    finally:
        connection.close()
        embedded.drop_database(socket_dir, name)


def tables_and_rows(name: str) -> tuple[list[str], dict[str, tuple[int, str]]]:
    socket_dir = connections["default"].settings_dict["HOST"]
    connection = driver.connect(host=socket_dir, user=embedded.SUPERUSER, dbname=name)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                "ORDER BY relname"
            )
            relations = [row[0] for row in cursor.fetchall()]
        return relations, local_checksum(connection)
    finally:
        connection.close()


SAME_DATABASE = (
    "RAILWAY_DATABASE_URL reaches the local database ({name} on the same PostgreSQL server as "
    "DATABASE_URL); nothing was changed. Point RAILWAY_DATABASE_URL at the Railway database, "
    "not the local one."
)


@pytest.mark.parametrize(
    "command, stdout, failure",
    [
        (
            "railway_migrate",
            "🚀 Running Railway database migration...\n",
            "❌ Railway database migration failed",
        ),
        ("railway_sync", "🚀 Starting Railway data sync...\n", "❌ Railway data sync failed"),
        (
            "railway_setup",
            "🚀 Starting Railway setup...\nStep 1/4: Database schema migration\n",
            "❌ Railway setup failed",
        ),
        ("railway_status", "", "❌ Railway status failed"),
    ],
)
def test_a_railway_url_that_reaches_the_local_database_is_refused(
    scrapers_database, tmp_path, command, stdout, failure
):
    socket_dir = Path(connections["default"].settings_dict["HOST"])
    # The same socket through another path (as /var/run is /run on most Linux systems): the
    # URLs differ, so comparing settings (railway_sync.E003) cannot tell.
    (tmp_path / "run").symlink_to(socket_dir)
    env = {
        "DATABASE_URL": embedded.database_url(socket_dir, scrapers_database),
        "RAILWAY_DATABASE_URL": embedded.database_url(tmp_path / "run", scrapers_database),
    }
    before = tables_and_rows(scrapers_database)

    out, err, code = run_process(command, env=env)

    assert code == 1, out + err
    assert out == stdout
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if "❌" in line]
    assert line == f"{failure}: " + SAME_DATABASE.format(name=scrapers_database)
    assert tables_and_rows(scrapers_database) == before


@pytest.fixture
def role_without_control_functions(scrapers_database) -> Iterator[str]:
    """A role that may not call pg_control_system() in the scrapers' database, as some hosted
    servers have it."""
    socket_dir = connections["default"].settings_dict["HOST"]
    role = "railway_sync_no_control"
    connection = driver.connect(
        host=socket_dir, user=embedded.SUPERUSER, dbname=scrapers_database, autocommit=True
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP ROLE IF EXISTS {role}")
            cursor.execute(f"CREATE ROLE {role} LOGIN")
            cursor.execute("REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC")
        yield role
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP ROLE IF EXISTS {role}")
        connection.close()


def test_the_refusal_does_not_need_the_system_identifier(
    scrapers_database, role_without_control_functions, tmp_path
):
    socket_dir = Path(connections["default"].settings_dict["HOST"])
    (tmp_path / "run").symlink_to(socket_dir)
    railway_url = embedded.database_url(tmp_path / "run", scrapers_database).replace(
        f"{embedded.SUPERUSER}@", f"{role_without_control_functions}@"
    )
    env = {
        "DATABASE_URL": embedded.database_url(socket_dir, scrapers_database),
        "RAILWAY_DATABASE_URL": railway_url,
    }
    before = tables_and_rows(scrapers_database)

    out, err, code = run_process("railway_migrate", env=env)

    assert code == 1, out + err
    (line,) = [line for line in err.splitlines() if "❌" in line]
    assert line == "❌ Railway database migration failed: " + SAME_DATABASE.format(
        name=scrapers_database
    )
    assert tables_and_rows(scrapers_database) == before


def sync_document(*args: str) -> dict:
    out, err, code = run("railway_sync", "--format", "json", *args)
    assert code == 0, err
    return json.loads(out)


@DB
def test_every_reason_not_to_trust_change_tracking_is_reported(seeded):
    sync_document()
    local_name, local_oid = fetch(
        "default",
        "SELECT current_database(), oid FROM pg_database WHERE datname = current_database()",
    )[0]
    forge = {
        "organizations": "local_database = 'another-db#1@5432'",
        "animals": "local_watermark = local_watermark - 3000000000",
        "animal_images": "local_wal_lsn = NULL, local_system_identifier = NULL",
        "scrape_logs": "columns_signature = 'old'",
    }
    for table, change in forge.items():
        execute("railway", f"UPDATE {STATE_TABLE} SET {change} WHERE table_name = %s", [table])
    execute("railway", f"DELETE FROM {STATE_TABLE} WHERE table_name = 'service_regions'")

    assert sync_document()["notices"] == [
        "The last sync read another local database (another-db#1@5432, now "
        f"{local_name}#{local_oid}@0): compared every row of organizations",
        "The last sync was more than two billion local transactions ago: compared every row "
        "of animals",
        "The last sync did not record local's WAL position (an older railway_sync): compared "
        "every row of animal_images",
        "The table's columns changed since the last sync: compared every row of scrape_logs",
        "No earlier sync of this table is recorded: compared every row of service_regions",
    ]

    system_identifier = scalar("default", "SELECT system_identifier FROM pg_control_system()")
    forge = {
        "organizations": "local_system_identifier = 42",
        "animals": "local_watermark = local_watermark + 1000000",
        "animal_images": "railway_watermark = railway_watermark + 1000000",
    }
    for table, change in forge.items():
        execute("railway", f"UPDATE {STATE_TABLE} SET {change} WHERE table_name = %s", [table])
    watermarks = dict(fetch("railway", f"SELECT table_name, local_watermark FROM {STATE_TABLE}"))
    railway_watermark = scalar(
        "railway",
        f"SELECT railway_watermark FROM {STATE_TABLE} WHERE table_name = 'animal_images'",
    )

    out, err, code = run("railway_sync", "--dry-run")

    assert code == 0, err
    notices = [line for line in out.splitlines() if line.startswith("⚠")]
    local_next = re.search(r"Local transaction ids went backwards \((\d+) <", out)
    railway_next = re.search(r"Railway's transaction ids went backwards \((\d+) <", out)
    assert local_next and railway_next, out
    assert notices == [
        f"⚠ Local database is another PostgreSQL cluster (system identifier {system_identifier}, "
        "42 at the last sync; restored or recreated?): compared every row of organizations",
        f"⚠ Local transaction ids went backwards ({local_next[1]} < {watermarks['animals']} at "
        "the last sync; restored from a backup?): compared every row of animals",
        f"⚠ Railway's transaction ids went backwards ({railway_next[1]} < {railway_watermark} "
        "at the last sync; Railway restored from a backup?): compared every row of "
        "animal_images",
    ]

    def next_ids_blanked(lines: list[str]) -> list[str]:
        # Each run (its sync history on local, a dry run's too) takes transaction ids.
        return [re.sub(r"backwards \(\d+ <", "backwards (N <", line) for line in lines]

    written = sync_document()["notices"]
    assert next_ids_blanked(written) == next_ids_blanked([n.removeprefix("⚠ ") for n in notices])
    # Each table's state was written anew by the sync that compared it in full.
    assert sync_document()["notices"] == []


@DB
def test_upgrading_railway_to_migration_0004(seeded):
    sync_document()
    # Railway as the previous version left it: watermarks without a WAL position.
    run("migrate", "railway_sync", "0003", "--database", "railway", "--verbosity", "0")
    execute("default", "UPDATE animals SET name = 'Renamed' WHERE id = 7")

    out, err, code = run("railway_status", "--format", "json")
    assert json.loads(out)["notices"] == [
        "The last sync did not record local's WAL position (an older railway_sync): compared "
        "every row"
    ]
    out, err, code = run("railway_sync")
    assert code == 1
    assert err == (
        "❌ Railway data sync failed: Railway's schema is behind this version of railway_sync "
        "(railway_sync_state has no local_wal_lsn column). Run: python manage.py railway_migrate"
    )

    out, err, code = run("railway_migrate")
    assert code == 0, err
    assert "  Applied railway_sync.0004_state_local_position" in out.splitlines()
    document = sync_document()
    assert document["notices"] == [
        "The last sync did not record local's WAL position (an older railway_sync): compared "
        "every row"
    ]
    assert document["tables"][1]["updated"] == 1
    assert sync_document()["notices"] == []
    assert checksum("railway") == checksum("default")
