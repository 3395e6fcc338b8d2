"""One seam for the driver: ``railway_sync/pg/driver.py`` alone imports psycopg2 or psycopg, and
it uses the driver Django's connections use."""

from __future__ import annotations

import ast
import json
import os

import pytest
from django.db import connections
from django.db.backends.postgresql.psycopg_any import is_psycopg3
from django.db.utils import DataError

from railway_sync.pg import driver, error_source
from tests.conftest import DB, PROJECT_DIR, fetch
from tests.helpers import run_python

DRIVERS = {"psycopg", "psycopg2"}
SEAM = PROJECT_DIR / "railway_sync" / "pg" / "driver.py"


def driver_imports(path, root=PROJECT_DIR) -> list[str]:
    """``file:line module`` for each import of a driver (or a module of one) in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names = [str(node.args[0].value)]
        else:
            continue
        for name in names:
            if name.split(".")[0] in DRIVERS:
                found.append(f"{path.relative_to(root)}:{node.lineno} {name}")
    return found


def test_only_the_driver_module_imports_a_driver():
    folders = ("railway_sync", "project", "tests", "benchmarks")
    files = [p for folder in folders for p in sorted((PROJECT_DIR / folder).rglob("*.py"))]
    assert SEAM in files
    assert driver_imports(SEAM) != []
    assert [hit for path in files if path != SEAM for hit in driver_imports(path)] == []


def test_the_seam_test_sees_every_way_of_importing(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import psycopg2\nimport psycopg.sql as s\nfrom psycopg2.extensions import parse_dsn\n"
        "from psycopg import errors\nimport importlib\nimportlib.import_module('psycopg2.extras')\n"
        "import psycopg_pool\nfrom .psycopg import x\n"
    )
    hits = [hit.split(" ", 1)[1] for hit in driver_imports(sample, tmp_path)]
    assert hits == ["psycopg2", "psycopg.sql", "psycopg2.extensions", "psycopg", "psycopg2.extras"]


@DB
def test_the_driver_is_the_one_djangos_connections_use():
    connections["default"].ensure_connection()
    raw = connections["default"].connection
    django_uses = "psycopg" if is_psycopg3 else "psycopg2"
    assert django_uses == driver.NAME
    assert type(raw).__module__.split(".")[0] == driver.NAME
    assert driver.backend_pid(raw) == fetch("default", "SELECT pg_backend_pid()")[0][0]


def test_the_app_imports_and_checks_without_the_driver_django_does_not_use():
    """With only one driver importable (the other made unimportable), every module of the
    app imports, ``check`` passes, and the sync's connection is of that driver."""
    other = "psycopg2" if is_psycopg3 else "psycopg"
    probe = f"""
import importlib, json, pkgutil, sys
sys.modules[{other!r}] = None
import django
django.setup()
import railway_sync
from django.core.management import call_command
names = [m.name for m in pkgutil.walk_packages(railway_sync.__path__, "railway_sync.")]
for name in names:
    importlib.import_module(name)
import io
call_command("check", stdout=io.StringIO())
from railway_sync.pg import driver
print(json.dumps({{"driver": driver.NAME, "modules": len(names),
                  "loaded": sorted(m for m, module in sys.modules.items()
                                   if module is not None and m.split(".")[0] == {other!r})}}))
"""
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.test_settings"}
    finished = run_python("-c", probe, env=environment, timeout=120)
    assert finished.returncode == 0, finished.stderr
    result = json.loads(finished.stdout)
    assert result["driver"] == driver.NAME
    assert result["loaded"] == []
    assert result["modules"] > 40


@DB
def test_quoted_literals_read_back_as_the_same_text():
    connections["railway"].ensure_connection()
    raw = connections["railway"].connection
    for value in ["plain", "it's", "back\\slash", "new\nline", "ünïcödé ✅", "", "' OR 1=1 --"]:
        literal = driver.quote_literal(raw, value)
        assert fetch("railway", f"SELECT {literal}::text") == [(value,)], literal


@DB
def test_a_server_side_cursor_reads_every_row_in_chunks_and_closes():
    connections["default"].ensure_connection()
    raw = connections["default"].connection
    chunks = list(driver.server_cursor(raw, "SELECT g, g::text FROM generate_series(1, 5) g", 2))
    assert chunks == [[(1, "1"), (2, "2")], [(3, "3"), (4, "4")], [(5, "5")], []]
    assert fetch("default", "SELECT count(*) FROM pg_cursors") == [(0,)]


def test_errors_name_their_sqlstate_and_libpq_words_alike():
    error = driver.OperationalError("connection failed: server closed the connection")
    assert driver.sqlstate(error) is None
    # psycopg 3 puts the libpq call that failed first; both drivers read as libpq wrote it.
    assert driver.message(error) == ("server closed the connection" if is_psycopg3 else str(error))
    assert driver.parse_conninfo("host=/tmp dbname=railway user=sync port=5433") == {
        "host": "/tmp",
        "dbname": "railway",
        "user": "sync",
        "port": "5433",
    }


@DB
def test_an_error_names_the_database_whose_statement_raised_it():
    """psycopg2 errors carry their cursor, psycopg 3 errors do not: either way a failure is
    pinned on the database that raised it (error_source.failing_alias), with its SQLSTATE."""
    for alias in ("default", "railway"):
        with pytest.raises(DataError) as raised, connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
        assert error_source.failing_alias(raised.value) == alias
        assert error_source.sqlstate(raised.value) == "22012"
        assert (
            driver.connection_parameters(connections[alias].connection)["dbname"]
            == (connections[alias].settings_dict["NAME"])
        )
