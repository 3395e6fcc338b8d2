"""A database's life (issue 20): restored from a dump, upgraded to a new major version, run as
a hot standby or read-only, reached by a role without rights on one table, looked at before
anyone ran ``migrate``. Each is run as a user runs it: ``manage.py`` in a fresh process,
against real servers, checking what it prints and the rows on both sides.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path

import pytest
from django.db import connections

from railway_sync import sample
from railway_sync.models import SYNCED_TABLES
from railway_sync.pg import driver, embedded
from tests.cluster import DEBIAN_15, Cluster
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
from tests.helpers import (
    LOCAL_DATABASE,
    create_scrapers_database,
    local_checksum,
    socket_dir,
    text,
    without_timing,
)

BIN = embedded.binaries()


def tool(program: str, *args: str, binaries: Path = BIN) -> None:
    subprocess.run(
        [str(binaries / program), *args], check=True, capture_output=True, text=True, timeout=120
    )


def connect(host: str, database: str, user: str = embedded.SUPERUSER):
    return driver.connect(
        autocommit=True, host=host, dbname=database, user=user, connect_timeout=10
    )


def database_oid(alias_or_host: str, name: str) -> int:
    return int(scalar("default", "SELECT oid FROM pg_database WHERE datname = %s", [name]))


@pytest.fixture
def spare_databases() -> Iterator[list[str]]:
    """Databases a test creates on the shared server; dropped afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        execute("default", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- a local database restored from an older dump ----------------------------------------------


@DB
@pytest.mark.parametrize("fmt", ["plain", "custom"])
def test_a_local_database_restored_from_an_older_dump_is_compared_in_full(
    seeded, spare_databases, tmp_path, fmt
):
    """The scrapers' data dumped with pg_dump, then changed and synced; the dump restored into
    a fresh database (its tables from the scrapers' SQL, as a new machine gets them) and
    DATABASE_URL pointed at it: status and sync must see that Railway holds newer rows."""
    assert run("railway_sync")[2] == 0
    host, local_name = str(socket_dir("default")), connections["default"].settings_dict["NAME"]
    dump = tmp_path / f"scrapers.{fmt}"
    tables = [arg for table in SYNCED_TABLES for arg in ("-t", table)]
    tool(
        "pg_dump",
        "-h",
        host,
        "-U",
        embedded.SUPERUSER,
        "--data-only",
        f"--format={fmt[0]}",
        "-f",
        str(dump),
        *tables,
        local_name,
    )
    execute("default", "UPDATE animals SET name = name || ' (renamed)' WHERE id <= 5")
    execute(
        "default",
        "INSERT INTO animals (id, name, organization_id, adoption_url) "
        "VALUES (61, 'Later dog', 1, 'https://e.org/61')",
    )
    assert run("railway_sync")[2] == 0
    railway_before = checksum("railway")

    restored = f"restored_{fmt}"
    spare_databases.append(restored)
    execute("default", f'CREATE DATABASE "{restored}"')
    with connect(host, restored) as connection:
        connection.cursor().execute(sample.SOURCE_SCHEMA.read_text())
    if fmt == "plain":
        tool(
            "psql",
            "-h",
            host,
            "-U",
            embedded.SUPERUSER,
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-f",
            str(dump),
            restored,
        )
    else:
        tool(
            "pg_restore",
            "-h",
            host,
            "-U",
            embedded.SUPERUSER,
            "--data-only",
            "--exit-on-error",
            "-d",
            restored,
            str(dump),
        )
    env = {
        "DATABASE_URL": embedded.database_url(Path(host), restored),
        "RAILWAY_DATABASE_URL": database_url("railway"),
    }
    assert run_process("migrate", "--verbosity", "0", env=env)[2] == 0  # the sync history
    before, after = database_oid("default", local_name), database_oid("default", restored)
    notice = (
        f"⚠ The last sync read another local database ({local_name}#{before}@0, now "
        f"{restored}#{after}@0): compared every row"
    )

    out, err, code = run_process("railway_status", "--check", env=env)

    assert code == 1, err
    lines = out.splitlines()
    assert notice in lines
    assert "  animals: 60 → 61 (⚠ 5 differ, 1 only on Railway)" in lines
    assert checksum("railway") == railway_before

    out, err, code = run_process("railway_sync", env=env)

    assert (code, err) == (0, "")
    lines = without_timing(out)
    assert notice in lines
    assert "  animals: 0 inserted, 5 updated, 55 unchanged, 0 deleted, 1 kept Railway-only" in lines
    with connect(host, restored) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT t::text FROM animals t ORDER BY id")
        assert cursor.fetchall() == fetch(
            "railway", "SELECT t::text FROM animals t WHERE id <= 60 ORDER BY id"
        )


# -- Railway upgraded to a new major version by dump and restore --------------------------------


@pytest.fixture
def clusters() -> Iterator[list[Cluster]]:
    """Throw-away clusters a test makes; removed afterwards."""
    made: list[Cluster] = []
    yield made
    for cluster in reversed(made):
        cluster.remove()


def burn_xids(connection, count: int) -> None:
    """Spend ``count`` transaction ids, one autocommit transaction each."""
    with connection.cursor() as cursor:
        for _ in range(count):
            cursor.execute("SELECT pg_current_xact_id()")


def next_xid(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
        return int(cursor.fetchone()[0])


@DB
def test_railway_upgraded_by_dump_and_restore_is_compared_in_full(seeded, clusters, tmp_path):
    """Railway on PostgreSQL 15 is dumped and restored into a new PostgreSQL 18 cluster (what
    a major version upgrade by dump and restore does). The new cluster's transaction ids
    start again below the recorded watermark: a row the site edits there before they pass it
    must still be seen, by status and sync."""
    old = Cluster(DEBIAN_15)
    clusters.append(old)
    old.start()
    with old.connect() as connection:
        connection.cursor().execute("CREATE DATABASE railway")
    local_url = database_url("default")
    env = {"DATABASE_URL": local_url, "RAILWAY_DATABASE_URL": old.url("railway")}
    out, err, code = run_process("railway_setup", env=env)
    assert code == 0, out + err
    # The old cluster has lived a while: its transaction ids are far ahead of a new one's.
    with old.connect("railway") as connection:
        burn_xids(connection, 3000)
    execute("default", "UPDATE organizations SET city = city || ' (moved)' WHERE id = 1")
    assert run_process("railway_sync", env=env)[2] == 0
    with old.connect("railway") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT max(railway_watermark) FROM railway_sync_state")
        watermark = int(cursor.fetchone()[0])
    dump = tmp_path / "railway.custom"
    tool(
        "pg_dump", "-h", str(old.root), "-U", embedded.SUPERUSER, "-Fc", "-f", str(dump), "railway"
    )
    old.stop()

    new = Cluster()
    clusters.append(new)
    new.start()
    with new.connect() as connection:
        connection.cursor().execute("CREATE DATABASE railway")
    tool(
        "pg_restore",
        "-h",
        str(new.root),
        "-U",
        embedded.SUPERUSER,
        "--exit-on-error",
        "-d",
        "railway",
        str(dump),
    )
    with new.connect("railway") as connection:
        # An operator's fix on the new server, then enough traffic to pass the watermark.
        connection.cursor().execute("UPDATE animals SET name = 'Fixed on Railway' WHERE id = 3")
        assert next_xid(connection) < watermark
        burn_xids(connection, watermark - next_xid(connection) + 10)
    env["RAILWAY_DATABASE_URL"] = new.url("railway")
    notice = (
        "⚠ Railway's record of the last sync was rewritten since it was made (Railway "
        "restored from a dump, or upgraded by one?): compared every row"
    )

    out, err, code = run_process("railway_status", "--check", env=env)

    assert code == 1, out + err
    lines = out.splitlines()
    assert notice in lines
    assert "  animals: 60 → 60 (⚠ 1 differ)" in lines

    out, err, code = run_process("railway_sync", env=env)

    assert (code, err) == (0, "")
    lines = without_timing(out)
    assert notice in lines
    assert "  animals: 0 inserted, 1 updated, 59 unchanged, 0 deleted" in lines
    with new.connect("railway") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT name FROM animals WHERE id = 3")
        assert cursor.fetchone()[0] == scalar("default", "SELECT name FROM animals WHERE id = 3")
    out, err, code = run_process("railway_status", "--check", env=env)
    assert code == 0, out + err


# -- the local database as a hot standby, or read-only ------------------------------------------


def wait_for_replay(primary: Cluster, standby: Cluster, database: str) -> None:
    """Until the standby has replayed everything the primary wrote so far."""
    with primary.connect(database) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        (target,) = cursor.fetchone()
    for _ in range(1200):
        with standby.connect(database) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cursor.fetchone()[0]:
                return
        time.sleep(0.1)
    raise AssertionError("the standby never caught up")


READ_ONLY = (
    "the local database accepts no writes (a hot standby, or default_transaction_read_only); "
    "the sync only reads it. Point DATABASE_URL at the primary to keep a history."
)


def railway_synced_at() -> str:
    """Railway's own record of the last sync, as the commands print it."""
    moment = scalar("railway", "SELECT min(synced_at) FROM railway_sync_state")
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}"


def assert_synced_from_read_only(env: dict[str, str], rename: Callable[[], None]) -> None:
    """A sync from a local database that accepts no writes: everything lands, and the one
    line on stderr says why no history was recorded; ``rename`` changes an animal locally
    (where it can be written) before a second sync, which finds it by change tracking."""
    out, err, code = run_process("railway_sync", env=env)

    assert (code, err) == (0, f"Sync history not recorded: {READ_ONLY}\n")
    assert out.splitlines()[-1].startswith("✅ Railway data sync completed successfully (106 rows")
    rename()

    out, err, code = run_process("railway_sync", "--verbosity", "2", env=env)

    assert code == 0, err
    assert f"Sync history not recorded: {READ_ONLY}" in err.splitlines()
    assert "  animals: 0 inserted, 1 updated, 59 unchanged, 0 deleted [tracked comparison]" in [
        re.sub(r" \(\d+\.\d+ s\)", "", line) for line in out.splitlines()
    ]

    out, err, code = run_process("railway_status", "--check", env=env)

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert "✅ Local and Railway databases are in sync" in lines
    assert re.fullmatch(
        re.escape(f"Last successful sync: {railway_synced_at()} (")
        + r"\d+"
        + re.escape(
            f" minutes ago), from Railway's record; local sync history is not recorded: {READ_ONLY}"
        ),
        lines[-1],
    ), lines[-1]


@DB
def test_a_local_hot_standby_is_synced_from(clean, clusters):
    """DATABASE_URL pointing at a hot standby (made with pg_basebackup -R): the sync only
    reads local, so it runs there, change tracking included."""
    primary = Cluster()
    clusters.append(primary)
    primary.start()
    with primary.connect() as connection:
        connection.cursor().execute(f'CREATE DATABASE "{LOCAL_DATABASE}"')
    with primary.connect(LOCAL_DATABASE) as connection:
        create_scrapers_database(connection)
    primary_env = {
        "DATABASE_URL": primary.url(LOCAL_DATABASE),
        "RAILWAY_DATABASE_URL": database_url("railway"),
    }
    assert run_process("migrate", "--verbosity", "0", env=primary_env)[2] == 0
    standby = Cluster(standby_of=primary)
    clusters.append(standby)
    standby.start()
    wait_for_replay(primary, standby, LOCAL_DATABASE)

    def rename() -> None:
        with primary.connect(LOCAL_DATABASE) as connection:
            connection.cursor().execute("UPDATE animals SET name = 'Renamed' WHERE id = 4")
        wait_for_replay(primary, standby, LOCAL_DATABASE)

    assert_synced_from_read_only(
        {**primary_env, "DATABASE_URL": standby.url(LOCAL_DATABASE)}, rename
    )
    with standby.connect(LOCAL_DATABASE) as connection:
        assert checksum("railway") == local_checksum(connection)


@DB
def test_a_read_only_local_database_is_synced_from(clean, spare_databases, tmp_path):
    """The local database with default_transaction_read_only = on."""
    host = str(socket_dir("default"))
    spare_databases.append(LOCAL_DATABASE)
    execute("default", f'CREATE DATABASE "{LOCAL_DATABASE}"')
    with connect(host, LOCAL_DATABASE) as connection:
        create_scrapers_database(connection)
    env = {
        "DATABASE_URL": embedded.database_url(Path(host), LOCAL_DATABASE),
        "RAILWAY_DATABASE_URL": database_url("railway"),
    }
    assert run_process("migrate", "--verbosity", "0", env=env)[2] == 0
    execute("default", f'ALTER DATABASE "{LOCAL_DATABASE}" SET default_transaction_read_only = on')

    def rename() -> None:
        with connect(host, LOCAL_DATABASE) as connection, connection.cursor() as cursor:
            cursor.execute(
                "BEGIN READ WRITE; UPDATE animals SET name = 'Renamed' WHERE id = 4; COMMIT"
            )

    assert_synced_from_read_only(env, rename)
    with connect(host, LOCAL_DATABASE) as connection:
        assert checksum("railway") == local_checksum(connection)


# -- status before migrate ----------------------------------------------------------------------


@DB
def test_status_before_migrate_shows_railways_last_sync(seeded, spare_databases):
    """A cron box that never ran migrate: its local database has the scrapers' tables and no
    sync history. Status (text and JSON) shows Railway's own record of the last sync."""
    assert run("railway_sync")[2] == 0
    host = str(socket_dir("default"))
    spare_databases.append("cron_box")
    execute("default", 'CREATE DATABASE "cron_box"')
    with connect(host, "cron_box") as connection:
        create_scrapers_database(connection)
    env = {
        "DATABASE_URL": embedded.database_url(Path(host), "cron_box"),
        "RAILWAY_DATABASE_URL": database_url("railway"),
    }
    expected = (
        re.escape(f"Last successful sync: {railway_synced_at()} (")
        + r"\d+"
        + re.escape(
            " minutes ago), from Railway's record; local sync history is not recorded: run "
            "python manage.py migrate to create it."
        )
    )

    out, err, code = run_process("railway_status", env=env)

    assert (code, err) == (0, "")
    assert re.fullmatch(expected, out.splitlines()[-1]), out

    out, err, code = run_process("railway_status", "--format", "json", env=env)

    document = json.loads(out)
    moment = scalar("railway", "SELECT min(synced_at) FROM railway_sync_state")
    assert (document["last_successful_sync"], document["local_history"]) == (
        moment.astimezone(UTC).replace(microsecond=0).isoformat(),
        "missing",
    )

    # Migrated, it records its own history from the next sync on.
    assert run_process("migrate", "--verbosity", "0", env=env)[2] == 0
    out, err, code = run_process("railway_status", "--format", "json", env=env)
    assert (json.loads(out)["last_successful_sync"], json.loads(out)["local_history"]) == (
        None,
        "recorded",
    )


@DB
def test_the_admin_shows_railways_last_sync_without_a_local_history(seeded, admin_client):
    assert run("railway_sync")[2] == 0
    execute("default", "ALTER TABLE railway_sync_run RENAME TO railway_sync_run_aside")
    try:
        response = admin_client.get("/admin/")
    finally:
        execute("default", "ALTER TABLE railway_sync_run_aside RENAME TO railway_sync_run")

    assert response.status_code == 200
    page = text(response.content.decode())
    assert re.search(
        re.escape(f"Last successful sync: {railway_synced_at()} (")
        + r"\d+"
        + re.escape(
            " minutes ago), from Railway's record; local sync history is not recorded: run "
            "python manage.py migrate to create it."
        ),
        page,
    ), page


# -- a role without rights on one table ---------------------------------------------------------

ROLE = "railway_sync_limited"


@pytest.fixture
def limited_role() -> Iterator[str]:
    """A login role (trusted on the embedded server, like every role there) with no rights
    until the test grants them; its URL's user for either alias."""
    execute("default", f"DROP ROLE IF EXISTS {ROLE}")
    execute("default", f"CREATE ROLE {ROLE} LOGIN")
    yield ROLE
    for alias in ("default", "railway"):
        execute(alias, f"DROP OWNED BY {ROLE}")
    execute("default", f"DROP ROLE {ROLE}")


def url_as(alias: str, user: str) -> str:
    return database_url(alias).replace(f"//{embedded.SUPERUSER}@", f"//{user}@", 1)


@DB
def test_a_local_role_without_select_on_one_table_names_the_grant(seeded, limited_role):
    assert run("railway_sync")[2] == 0
    execute("default", "UPDATE organizations SET city = city || ' (moved)'")
    execute(
        "default",
        f"GRANT SELECT ON organizations, animal_images, scrape_logs, service_regions "
        f"TO {limited_role}; GRANT SELECT, INSERT, UPDATE ON railway_sync_run TO {limited_role}",
    )
    before = checksum("default"), checksum("railway")
    env = {
        "DATABASE_URL": url_as("default", limited_role),
        "RAILWAY_DATABASE_URL": database_url("railway"),
    }

    for command, failure, outcome in (
        ("railway_sync", "❌ Railway data sync failed", " (nothing was written)"),
        ("railway_status", "❌ Railway status failed", ""),
    ):
        out, err, code = run_process(command, env=env)

        assert code == 1, out
        assert err == (
            f"{failure}: The local database refused the user in DATABASE_URL ({limited_role}): "
            f"permission denied for table animals{outcome}. Run on the local database as the "
            f"owner: GRANT SELECT ON animals TO {limited_role};\n"
        )
    assert (checksum("default"), checksum("railway")) == before
    # The GRANT the line names is all it takes.
    execute("default", f"GRANT SELECT ON animals TO {limited_role}")
    out, err, code = run_process("railway_sync", env=env)
    assert (code, err) == (0, ""), out
    assert run_process("railway_status", "--check", env=env)[2] == 0


@DB
def test_a_railway_role_that_may_not_write_one_table_is_refused_before_any_write(
    pending, limited_role
):
    execute(
        "railway",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON organizations, animal_images, scrape_logs, "
        f"service_regions TO {limited_role}; GRANT SELECT ON animals, django_migrations TO "
        f"{limited_role}; GRANT SELECT, INSERT, UPDATE ON railway_sync_state, "
        f"railway_sync_owned TO {limited_role}; GRANT SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA "
        f"public TO {limited_role}",
    )
    before = checksum("default"), checksum("railway")
    env = {
        "DATABASE_URL": database_url("default"),
        "RAILWAY_DATABASE_URL": url_as("railway", limited_role),
    }

    out, err, code = run_process("railway_sync", env=env)

    assert code == 1, out
    assert err == (
        f"❌ Railway data sync failed: Railway refuses the user in RAILWAY_DATABASE_URL "
        f"({limited_role}) INSERT, UPDATE on animals; nothing was written. Run on Railway as "
        f"the tables' owner: GRANT SELECT, INSERT, UPDATE, DELETE ON animals TO "
        f"{limited_role};\n"
    )
    assert (checksum("default"), checksum("railway")) == before

    # Reading is all status needs; a dry run writes nothing either.
    for command in (("railway_status",), ("railway_sync", "--dry-run")):
        out, err, code = run_process(*command, env=env)
        assert (code, err) == (0, ""), out

    execute("railway", f"REVOKE SELECT ON animals FROM {limited_role}")
    out, err, code = run_process("railway_status", env=env)

    assert code == 1, out
    assert err == (
        f"❌ Railway status failed: Railway refused the user in RAILWAY_DATABASE_URL "
        f"({limited_role}): permission denied for table animals. Run on Railway as the owner: "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON animals TO {limited_role};\n"
    )
    assert (checksum("default"), checksum("railway")) == before

    # The id sequences, which every sync moves on, are checked as well.
    execute("railway", f"GRANT SELECT, INSERT, UPDATE, DELETE ON animals TO {limited_role}")
    execute("railway", f"REVOKE SELECT ON animals_id_seq, scrape_logs_id_seq FROM {limited_role}")
    out, err, code = run_process("railway_sync", env=env)

    assert code == 1, out
    assert err == (
        f"❌ Railway data sync failed: Railway refuses the user in RAILWAY_DATABASE_URL "
        f"({limited_role}) SELECT, UPDATE on sequences public.animals_id_seq, "
        "public.scrape_logs_id_seq; nothing was written. Run on Railway as the tables' owner: "
        "GRANT SELECT, UPDATE ON SEQUENCE public.animals_id_seq, public.scrape_logs_id_seq TO "
        f"{limited_role};\n"
    )
    assert (checksum("default"), checksum("railway")) == before
    execute("railway", f"GRANT SELECT ON animals_id_seq, scrape_logs_id_seq TO {limited_role}")
    out, err, code = run_process("railway_sync", env=env)
    assert (code, err) == (0, ""), out
    assert run_process("railway_status", "--check", env=env)[2] == 0
