"""A database restored from a dump is the same database (issue 20): PostgreSQL prints some
definitions differently after ``pg_dump`` and a restore (a CHECK's IN list comes back with its
casts moved), which must never look like a schema change; a real change still does."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

from railway_sync.pg import driver, embedded
from tests.conftest import DB, database_url, execute, run, run_process, scalar
from tests.helpers import FIX, socket_dir

RESTORED = "railway_sync_restored"
NO_CHANGES = "No changes: Railway's migrations match the local schema."
STATUS_CHECK = (
    "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'animals_status_check'"
)


def _programs(alias: str) -> Path:
    """The pg_dump, pg_restore and psql of the server ``alias`` is on (its major version)."""
    major = scalar(alias, "SELECT current_setting('server_version_num')::int / 10000")
    debian = Path(f"/usr/lib/postgresql/{major}/bin")
    return debian if (debian / "pg_dump").exists() else embedded.binaries()


def _dump_and_restore(alias: str, fmt: str, folder: Path) -> str:
    """Dump database ``alias`` (``plain`` or ``custom`` format) and restore it into a fresh
    database on the same server, as a user would with createdb and psql or pg_restore;
    return the restored database's URL."""
    bin_dir = _programs(alias)
    sockets = socket_dir(alias)
    name = connections[alias].settings_dict["NAME"]
    embedded.drop_database(sockets, RESTORED)
    embedded.ensure_database(sockets, RESTORED)
    common = ["-h", str(sockets), "-U", embedded.SUPERUSER]
    dump = folder / f"{alias}.{fmt}"
    flag = "--format=custom" if fmt == "custom" else "--format=plain"
    subprocess.run(
        [str(bin_dir / "pg_dump"), *common, flag, "-f", str(dump), name], check=True, timeout=120
    )
    if fmt == "custom":
        restore = [str(bin_dir / "pg_restore"), *common, "-d", RESTORED, str(dump)]
    else:
        restore = [str(bin_dir / "psql"), *common, "-q", "-v", "ON_ERROR_STOP=1", "-d", RESTORED]
        restore += ["-f", str(dump)]
    subprocess.run(restore, check=True, timeout=120, capture_output=True)
    return embedded.database_url(sockets, RESTORED)


@pytest.fixture
def synced_with_a_migration(seeded, migrations_package) -> Iterator[dict[str, str]]:
    """Both sides synced, and a generated migration recording a CHECK the scrapers added (the
    kind a restore prints differently); the environment of a user of this pair."""
    name, folder = migrations_package
    execute(
        "default",
        "ALTER TABLE animals ADD CONSTRAINT animals_status_check "
        "CHECK (status IN ('available', 'unknown', 'adopted', 'reserved'))",
    )
    for command in ("railway_makemigrations", "railway_migrate", "railway_sync"):
        out, err, code = run(command)
        assert (err, code) == ("", 0), command
    try:
        yield {
            "DATABASE_URL": database_url("default"),
            "RAILWAY_DATABASE_URL": database_url("railway"),
            "RAILWAY_SYNC_MIGRATIONS_MODULE": name,
            "PYTHONPATH": str(folder.parent),
        }
    finally:
        for alias in ("default", "railway"):
            embedded.drop_database(socket_dir(alias), RESTORED)


def assert_nothing_changed(env: dict[str, str]) -> None:
    """What cron and an operator run after the restore: all say nothing changed."""
    out, err, code = run_process("railway_makemigrations", "--check", env=env)
    assert (out.splitlines(), code) == ([NO_CHANGES], 0), err
    out, err, code = run_process("railway_sync", env=env)
    assert code == 0, out + err
    assert out.splitlines()[-1].startswith("✅ Railway data sync completed successfully (0 rows")
    out, err, code = run_process("railway_status", env=env)
    assert code == 0, out + err


@DB
@pytest.mark.parametrize("fmt", ["plain", "custom"])
@pytest.mark.parametrize("side", ["local", "railway"])
def test_a_database_restored_from_a_dump_raises_no_schema_alarm(
    synced_with_a_migration, side, fmt, tmp_path
):
    alias = "default" if side == "local" else "railway"
    restored_url = _dump_and_restore(alias, fmt, tmp_path)
    variable = "DATABASE_URL" if side == "local" else "RAILWAY_DATABASE_URL"
    env = {**synced_with_a_migration, variable: restored_url}
    if side == "local":
        # What set off the false alarm: the restored copy prints the CHECK differently.
        assert fetch_from(restored_url, STATUS_CHECK) != scalar(alias, STATUS_CHECK)

    assert_nothing_changed(env)


@DB
def test_a_check_whose_list_really_changed_after_a_restore_is_still_found(
    synced_with_a_migration, tmp_path
):
    restored_url = _dump_and_restore("default", "plain", tmp_path)
    env = {**synced_with_a_migration, "DATABASE_URL": restored_url}
    execute_on(
        restored_url,
        "ALTER TABLE animals DROP CONSTRAINT animals_status_check, ADD CONSTRAINT "
        "animals_status_check CHECK (status IN ('available', 'unknown', 'adopted', 'reserved', "
        "'archived'))",
    )
    added = fetch_from(restored_url, STATUS_CHECK)

    out, err, code = run_process("railway_makemigrations", "--check", env=env)

    assert (out.splitlines(), code) == (
        [
            "2 change(s) to the local schema no Railway migration covers:",
            "  - Drop constraint animals_status_check on animals",
            f"  - Add constraint animals_status_check on animals: {added}",
        ],
        1,
    )
    out, err, code = run_process("railway_sync", env=env)
    assert code == 1
    assert err.splitlines()[0].endswith(f"nothing was written. Run: {FIX}")


def _connect(url: str):  # type: ignore[no-untyped-def]
    return driver.connect(dsn=url, connect_timeout=10)


def fetch_from(url: str, sql: str) -> str:
    connection = _connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()[0]
    finally:
        connection.close()


def execute_on(url: str, sql: str) -> None:
    connection = _connect(url)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()
