"""Which database is this? A Railway URL that reaches the local database itself must be
refused before anything is written. Run as a user runs it: ``manage.py`` in a fresh process,
against a real server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from django.db import connections

from railway_sync import embedded, sample
from railway_sync.models import SYNCED_TABLES
from tests.conftest import SMALL, run_process

CHECKSUM_SQL = (
    "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) FROM {table} t"
)


def create_scrapers_database(connection) -> None:
    """The scrapers' five tables and a small data set, as the scrapers would have them."""
    with connection.cursor() as cursor:
        cursor.execute(sample.SOURCE_SCHEMA.read_text())
        for table, rows in sample.generate(**SMALL).items():
            if rows:
                placeholders = ", ".join(["%s"] * len(rows[0]))
                cursor.executemany(f'INSERT INTO "{table}" VALUES ({placeholders})', rows)


def local_checksum(connection) -> dict[str, tuple[int, str]]:
    """What ``tests.conftest.checksum`` reads, from a database Django has no alias for."""
    result = {}
    with connection.cursor() as cursor:
        for table in SYNCED_TABLES:
            cursor.execute(CHECKSUM_SQL.format(table=f'"{table}"'))
            result[table] = cursor.fetchone()
    return result


@pytest.fixture
def scrapers_database() -> Iterator[str]:
    """A database on the embedded server holding what the scrapers keep, none of Django's."""
    socket_dir = Path(connections["default"].settings_dict["HOST"])
    name = f"railway_sync_scrapers_{os.getpid()}"
    embedded.drop_database(socket_dir, name)
    embedded.ensure_database(socket_dir, name)
    connection = psycopg2.connect(host=str(socket_dir), user=embedded.SUPERUSER, dbname=name)
    connection.autocommit = True
    try:
        create_scrapers_database(connection)
        yield name
    finally:
        connection.close()
        embedded.drop_database(socket_dir, name)


def tables_and_rows(name: str) -> tuple[list[str], dict[str, tuple[int, str]]]:
    socket_dir = connections["default"].settings_dict["HOST"]
    connection = psycopg2.connect(host=socket_dir, user=embedded.SUPERUSER, dbname=name)
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
    # Django's run_from_argv puts the exception's class name before the line.
    (line,) = [line.removeprefix("CommandError: ") for line in err.splitlines() if "❌" in line]
    assert line == f"{failure}: " + SAME_DATABASE.format(name=scrapers_database)
    assert tables_and_rows(scrapers_database) == before


@pytest.fixture
def role_without_control_functions(scrapers_database) -> Iterator[str]:
    """A role that may not call pg_control_system() in the scrapers' database, as some hosted
    servers have it."""
    socket_dir = connections["default"].settings_dict["HOST"]
    role = "railway_sync_no_control"
    connection = psycopg2.connect(
        host=socket_dir, user=embedded.SUPERUSER, dbname=scrapers_database
    )
    connection.autocommit = True
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
    (line,) = [line.removeprefix("CommandError: ") for line in err.splitlines() if "❌" in line]
    assert line == "❌ Railway database migration failed: " + SAME_DATABASE.format(
        name=scrapers_database
    )
    assert tables_and_rows(scrapers_database) == before
