"""Real PostgreSQL for both aliases: the local tables come from the scrapers' SQL, Railway's
from railway_sync's migrations, exactly as in production."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.test import override_settings

from railway_sync import sample
from railway_sync.models import SYNCED_TABLES
from railway_sync.pg import driver, embedded

PROJECT_DIR = Path(__file__).resolve().parent.parent
DB = pytest.mark.django_db(databases=["default", "railway"], transaction=True)

PASSWORD = "Sup3r-S3cret-Pa55word"
ROLE = "railway_sync_password_test"

# The tables the scrapers create (the default synced set), and those the schema tests add.
DEFAULT_TABLES = ["organizations", "animals", "animal_images", "scrape_logs", "service_regions"]
NEW_TABLES = ["photo_analysis", "shelters", "dogs"]

# Small but above the rebuild thresholds (5 organizations, 50 animals, 10 scrape_logs, ...).
SMALL = {"organizations": 6, "animals": 60, "images": 20, "scrape_logs": 15, "service_regions": 5}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker) -> None:
    """After Django built the test databases, create the local tables from the scrapers' SQL
    (the copy the app ships, so a fresh clone needs nothing beside it)."""
    with django_db_blocker.unblock(), connections["default"].cursor() as cursor:
        cursor.execute(sample.SOURCE_SCHEMA.read_text())


def execute(alias: str, sql: str, params: list | None = None) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)


def fetch(alias: str, sql: str, params: list | None = None) -> list[tuple]:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def scalar(alias: str, sql: str, params: list | None = None):
    return fetch(alias, sql, params)[0][0]


def table_rows(alias: str, table: str) -> list[tuple]:
    return fetch(alias, f"SELECT * FROM {table} ORDER BY id")


def checksum(alias: str) -> dict[str, tuple[int, str]]:
    """Row count and a content hash of every synced table present on ``alias``."""
    result = {}
    for table in SYNCED_TABLES:
        if scalar(alias, "SELECT to_regclass(%s) IS NOT NULL", [table]):
            result[table] = fetch(
                alias,
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) "
                f"FROM {table} t",
            )[0]
    return result


def wait_for_a_quiet_server() -> None:
    """Wait until no other session holds a transaction open on the (shared) test server.

    A sync's watermark is the oldest transaction still running anywhere on the server (xids
    are cluster-wide): one left by an earlier test or by autovacuum would hold it back, make
    every row a change-tracking candidate, and turn a tracked comparison into a full one.
    """
    # Both servers, when the two aliases are on different ones (RAILWAY_SYNC_TEST_*_PG).
    servers = {connections[a].settings_dict["EMBEDDED_DATA_DIR"]: a for a in ("default", "railway")}
    for _ in range(600):
        busy = sum(
            scalar(
                alias,
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                "AND (backend_xid IS NOT NULL OR backend_xmin IS NOT NULL)",
            )
            for alias in servers.values()
        )
        if not busy:
            return
        time.sleep(0.1)
    raise AssertionError("another session kept a transaction open for a minute")


def truncate(alias: str) -> None:
    present = [t for t in SYNCED_TABLES if scalar(alias, "SELECT to_regclass(%s) IS NOT NULL", [t])]
    if present:
        execute(alias, f"TRUNCATE {', '.join(present)} RESTART IDENTITY CASCADE")


def unmigrate_railway() -> None:
    """Railway as before its first setup: railway_sync's migrations unapplied, and none of
    the synced tables."""
    call_command("migrate", "railway_sync", "zero", database="railway", verbosity=0)
    execute("railway", "DROP TABLE IF EXISTS " + ", ".join(reversed(SYNCED_TABLES)) + " CASCADE")


def migrate_railway() -> None:
    """Apply railway_sync's own migrations to Railway."""
    call_command("migrate", "railway_sync", database="railway", verbosity=0)


@pytest.fixture
def clean() -> Iterator[None]:
    """Empty synced tables on both databases, and Railway's schema fresh from the migrations."""
    unmigrate_railway()
    migrate_railway()
    truncate("default")
    yield


def reset_both() -> None:
    """Both databases as the other tests expect them: the scrapers' tables locally, Railway's
    schema fresh from railway_sync's own migrations, no generated migration recorded."""
    for alias in ("default", "railway"):
        execute(alias, "DROP TABLE IF EXISTS " + ", ".join(NEW_TABLES) + " CASCADE")
        execute(alias, "DELETE FROM django_migrations WHERE app = 'railway_schema'")
    execute("default", "DROP TABLE IF EXISTS " + ", ".join(DEFAULT_TABLES) + " CASCADE")
    execute("default", sample.SOURCE_SCHEMA.read_text())
    unmigrate_railway()
    migrate_railway()


@pytest.fixture
def migrations_package(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A migrations package of the project's own, in a temporary folder (never the repo)."""
    name = f"railway_migrations_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / name
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    try:
        with override_settings(MIGRATION_MODULES={"railway_schema": name}):
            yield name, folder
    finally:
        sys.path.remove(str(tmp_path))
        for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[module]
        reset_both()


@pytest.fixture
def seeded(clean) -> dict[str, int]:
    """Local holds a small realistic data set; Railway's tables are empty."""
    return sample.insert("default", sample.generate(**SMALL))


@pytest.fixture
def pending(seeded) -> None:
    """Railway holds local's rows; then local changes, so a sync has rows to write."""
    assert run("railway_sync")[2] == 0
    execute("default", "UPDATE organizations SET city = city || ' (moved)'")
    execute("default", "UPDATE animals SET name = name || ' (moved)'")


def run(*args: str) -> tuple[str, str, int]:
    """Run a management command in-process as a user would: (stdout, stderr, exit code)."""
    out, err = StringIO(), StringIO()
    try:
        call_command(*args, stdout=out, stderr=err, no_color=True)
    except CommandError as exc:
        return out.getvalue(), err.getvalue() + str(exc), exc.returncode
    return out.getvalue(), err.getvalue(), 0


def database_url(alias: str) -> str:
    connections[alias].ensure_connection()  # the embedded backend learns its socket on connect
    settings_dict = connections[alias].settings_dict
    return embedded.database_url(Path(settings_dict["HOST"]), settings_dict["NAME"])


def project_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of ``manage.py`` run with the project's real settings: this process's,
    without its settings module, its URLs and its ``.env`` file, then ``env``."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "RAILWAY_DATABASE_URL")
    }
    environment["RAILWAY_SYNC_ENV_FILE"] = os.devnull
    environment.update(env or {})
    return environment


def run_process(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
    """Run ``manage.py`` in a fresh process with the project's real settings."""
    finished = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "manage.py"), *args, "--no-color"],
        env=project_environment(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT_DIR,
    )
    return finished.stdout, finished.stderr, finished.returncode


def timed_out(host: str, port: int) -> str:
    """What the driver says when a server accepts the connection and never answers: libpq
    (psycopg2) names the server; psycopg 3 keeps the time itself and says less."""
    if driver.NAME == "psycopg":
        return "connection timeout expired"
    return f'connection to server at "{host}", port {port} failed: timeout expired'


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def socket_host() -> str:
    return connections["railway"].settings_dict["HOST"].replace("/", "%2F")


def _require_password(password: str) -> str:
    """Make ROLE log in to Railway's server with ``password`` only; return its Railway URL
    with a placeholder."""
    hba_file = Path(scalar("railway", "SHOW hba_file"))
    rule = f"local all {ROLE} scram-sha-256\n"
    text = hba_file.read_text()
    if rule not in text:
        hba_file.write_text(rule + text)
    execute("railway", f"DROP ROLE IF EXISTS {ROLE}")
    execute("railway", f"CREATE ROLE {ROLE} SUPERUSER LOGIN PASSWORD %s", [password])
    execute("railway", "SELECT pg_reload_conf()")
    railway_name = connections["railway"].settings_dict["NAME"]
    return f"postgresql://{ROLE}:{{password}}@{socket_host()}/{railway_name}"


@pytest.fixture
def password_role() -> Iterator[str]:
    """A role that must give its password on the embedded server (others keep trust)."""
    yield _require_password(PASSWORD)
    execute("railway", f"DROP ROLE IF EXISTS {ROLE}")


@pytest.fixture
def role_with_password() -> Iterator[Callable[[str], str]]:
    """``password_role`` with a password the test chooses (short ones, words)."""
    yield _require_password
    execute("railway", f"DROP ROLE IF EXISTS {ROLE}")


def require_tls_postgres() -> None:
    """Fail, naming the install command, a test that needs a PostgreSQL built with TLS and
    ``openssl`` (the round-trip benchmark's Railway, ``benchmarks/railway.py``) where the
    machine has neither; ``make test`` installs them (``scripts/system-packages``)."""
    from benchmarks.railway import tls_binaries

    try:
        tls_binaries()
        problem = None if shutil.which("openssl") else "openssl is not installed"
    except RuntimeError as exc:
        problem = str(exc)
    if problem is not None:
        pytest.fail(f"{problem}; install them with: sudo apt-get install -y postgresql openssl")
