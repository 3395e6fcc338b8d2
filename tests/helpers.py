"""What several test files do alike: the tables and databases a test starts from (today's
schema, a scrapers' database on a cluster of its own), the environment of a command run in a
fresh process, sessions of a test's own on the test servers, waiting for a state of those
servers, reading what commands print and what the admin shows, and the JSON documents'
documented key sets. Fixtures live in ``tests/conftest.py``."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from html import unescape
from pathlib import Path
from types import ModuleType
from typing import Any

from django.db import connections

from railway_sync import sample
from railway_sync.models import SYNCED_TABLES
from railway_sync.pg import driver
from railway_sync.pg.locks import RUN_LOCK_KEY
from tests.conftest import (
    DEFAULT_TABLES,
    PROJECT_DIR,
    SMALL,
    database_url,
    execute,
    fetch,
    project_environment,
    run,
)

# The fix a command names when Railway's migrations are behind the local schema.
FIX = "python manage.py railway_makemigrations && python manage.py railway_migrate"


# The local database of a cluster of a test's own (tests/cluster.py), as the scrapers name it.
LOCAL_DATABASE = "rescue_dogs"
CHECKSUM_SQL = (
    "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) FROM {table} t"
)


def create_scrapers_database(connection: Any) -> None:
    """The scrapers' five tables and a small data set, as the scrapers would have them."""
    with connection.cursor() as cursor:
        cursor.execute(sample.SOURCE_SCHEMA.read_text())
        for table, rows in sample.generate(**SMALL).items():
            if rows:
                placeholders = ", ".join(["%s"] * len(rows[0]))
                cursor.executemany(f'INSERT INTO "{table}" VALUES ({placeholders})', rows)


def local_checksum(connection: Any) -> dict[str, tuple[int, str]]:
    """What ``tests.conftest.checksum`` reads, from a database Django has no alias for."""
    result = {}
    with connection.cursor() as cursor:
        for table in SYNCED_TABLES:
            cursor.execute(CHECKSUM_SQL.format(table=f'"{table}"'))
            result[table] = cursor.fetchone()
    return result


# The documented key sets of the --format json documents (README): fields may be added, never
# renamed or removed.
SYNC_KEYS = {
    "command",
    "outcome",
    "exit_code",
    "mode",
    "dry_run",
    "verified",
    "rows_written",
    "rows_deleted",
    "seconds",
    "guard_problems",
    "refused_tables",
    "notices",
    "tables",
    "error",
}
SYNC_TABLE_KEYS = {
    "table",
    "local_count",
    "railway_count",
    "inserted",
    "updated",
    "unchanged",
    "kept",
    "deleted",
    "seconds",
    "compared",
    "site_rows",
    "conflicts",
    "conflict_rows",
    "held_back",
    "refused",
    "waiting_for",
    "railway_edits",
    "railway_edits_kept",
    "railway_edit_ids",
}
STATUS_KEYS = {
    "command",
    "outcome",
    "exit_code",
    "railway",
    "connected",
    "in_sync",
    "tables",
    "recommendation",
    "notices",
    "last_successful_sync",
    "local_history",
    "error",
}
STATUS_TABLE_KEYS = {
    "table",
    "local_count",
    "railway_count",
    "missing_on_railway",
    "differing",
    "railway_only",
    "compared",
    "in_sync",
    "site_rows",
    "conflicts",
    "conflict_rows",
    "site_columns",
}
CONNECTION_KEYS = {
    "command",
    "outcome",
    "exit_code",
    "railway",
    "server_version",
    "database",
    "seconds",
    "error",
}


def create_today_tables(alias: str, **counts: int) -> dict[str, int]:
    """Replace the synced tables on ``alias`` with the scrapers' four tables of today (animals
    with 40 columns) holding rows generated with ``counts``; the rows inserted per table."""
    execute(alias, "DROP TABLE IF EXISTS " + ", ".join(reversed(DEFAULT_TABLES)) + " CASCADE")
    sample.create_today_schema(alias)
    return sample.insert(alias, sample.generate_today(**counts))


def both_urls(**extra: str) -> dict[str, str]:
    """The environment of a user of the two test databases: both URLs, then ``extra``."""
    return {
        "DATABASE_URL": database_url("default"),
        "RAILWAY_DATABASE_URL": database_url("railway"),
        **extra,
    }


def socket_dir(alias: str) -> Path:
    """The folder of the unix socket of the server ``alias`` is on."""
    connections[alias].ensure_connection()  # the server's socket folder is known once connected
    return Path(connections[alias].settings_dict["HOST"])


def raw_connection(alias: str, *, autocommit: bool = True, **options: Any) -> Any:
    """A session of the test's own on ``alias``, outside Django (it holds locks for a test)."""
    settings_dict = connections[alias].settings_dict
    return driver.connect(
        host=settings_dict["HOST"],
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        autocommit=autocommit,
        **options,
    )


def wait_for(condition: Callable[[], bool], what: str, limit: float = 120) -> None:
    """Poll until ``condition`` holds: the tests wait for states, never for durations."""
    give_up = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < give_up, f"gave up waiting for {what}"
        time.sleep(0.05)


def blocked_by(alias: str, pid: int) -> list[int]:
    """Backends on ``alias`` waiting for a lock that session ``pid`` holds."""
    return [
        row[0]
        for row in fetch(
            alias,
            "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
            [pid],
        )
    ]


def start_manage_py(*args: str, env: dict[str, str]) -> subprocess.Popen:
    """Start ``manage.py *args`` in a fresh process with the project's real settings and
    ``env``; its stdout and stderr are pipes the test reads."""
    return subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "manage.py"), *args],
        env=project_environment(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT_DIR,
    )


def start_waiting_sync(holder: Any) -> subprocess.Popen:
    """A ``railway_sync --verbosity 2`` process, returned once it waits for the run lock that
    ``holder`` (a Railway connection) takes first: every step after is in the test's hands."""
    holder.cursor().execute("SELECT pg_advisory_lock(%s)", [RUN_LOCK_KEY])
    sync = start_manage_py(
        "railway_sync", "--verbosity", "2", env=both_urls(RAILWAY_SYNC_WAIT_TIMEOUT="600")
    )
    for line in sync.stderr:
        if line.endswith("] wait another railway_sync is running; waiting up to 600 s\n"):
            return sync
    sync.kill()
    raise AssertionError(f"the sync never waited for the run lock: {sync.communicate()}")


def without_timing(output: str) -> list[str]:
    """The lines of ``output``, each without the ``(0.12 s)`` a line may end with."""
    return [re.sub(r" \(\d+\.\d+ s\)$", "", line) for line in output.splitlines()]


def table_line(out: str, table: str) -> str:
    """The line of ``table`` in a sync's output, without its timing."""
    (line,) = [line for line in out.splitlines() if line.startswith(f"  {table}: ")]
    return line.rsplit(" (", 1)[0] if line.endswith(" s)") else line


def assert_refused_alone(out: str, err: str, code: int, refusal: str, fix: str) -> None:
    """A sync refused scrape_logs alone and synced the rest: exit 1, the closing line, and
    the table's ``refusal`` line followed by its ``fix`` line."""
    assert code == 1
    assert err == (
        "⚠ Railway data sync refused scrape_logs (see above) and synced every other table. "
        "Run the fix named above, then sync again."
    )
    lines = out.splitlines()
    at = lines.index(refusal)
    assert lines[at + 1] == fix


def sync_tables_json(*args: str) -> dict[str, dict]:
    """``railway_sync --format json *args``, which must succeed: its tables by name."""
    out, err, code = run("railway_sync", "--format", "json", *args)
    assert code == 0, err
    return {table["table"]: table for table in json.loads(out)["tables"]}


def columns(alias: str, table: str) -> list[tuple]:
    """Name, type and NOT NULL of every column of ``table`` on ``alias``, in order."""
    return fetch(
        alias,
        "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
        "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        [table],
    )


def text(html: str) -> str:
    """What a person reads in ``html``: tags dropped, white space collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _rows_of_class(html: str, row_class: str) -> list[list[str]]:
    rows = re.findall(rf'<tr class="{row_class}">(.*?)</tr>', html, re.S)
    return [[text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in rows]


def dashboard_rows(html: str) -> list[list[str]]:
    """The cells of each table's row in the admin's status panel."""
    return _rows_of_class(html, "railway-table")


def run_rows(html: str) -> list[list[str]]:
    """The cells of each row of the admin's recent runs."""
    return _rows_of_class(html, "railway-run")


@contextmanager
def railway_settings(**changes: Any) -> Iterator[None]:
    """Point the ``railway`` alias elsewhere for the duration, as a changed .env would."""
    original = connections["railway"].settings_dict.copy()
    connections["railway"].close()
    connections["railway"].settings_dict.update(changes)
    try:
        yield
    finally:
        connections["railway"].close()
        connections["railway"].settings_dict.clear()
        connections["railway"].settings_dict.update(original)


def run_python(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """``python *args`` (this interpreter) in the project folder with the environment ``env``;
    its stdout and stderr captured as text."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@cache
def docs_generator() -> ModuleType:
    """``scripts/docs.py``, the documentation generator, as a module (it is no package)."""
    spec = importlib.util.spec_from_file_location("docs_generator", PROJECT_DIR / "scripts/docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module
