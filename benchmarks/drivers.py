"""The driver's share of a sync, timed in one process: psycopg2 against psycopg 3.

    .venv/bin/python -m benchmarks.sync --animals 100000     # leaves the two databases
    .venv/bin/python -m benchmarks.drivers --repeat 5         # in each driver's virtualenv

Whole commands (``benchmarks.sync``) each start a process, and on a shared machine their
times vary more than any driver could change them. This times only what passes through the
driver (``railway_sync/pg/driver.py``), in-process, several times over, and prints the fastest
and the median run of each:

- COPY: every local animal streamed into a staging table on Railway (``load.stream_copy``,
  the rebuild's and the upsert's path), rolled back;
- cursor: every animal's row hash read from both databases through server-side cursors
  (``diff.diff_table``, the path of ``--verify-all`` and ``railway_status --deep``);
- rows: 10,000 whole rows fetched as Python values (the driver's type conversion).

Run it once per driver, one after the other, on the databases ``benchmarks.sync`` left.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from benchmarks.sync import LOCAL_DB, RAILWAY_DB  # noqa: E402
from railway_sync.pg import embedded  # noqa: E402


def configure() -> None:
    socket_dir = embedded.ensure_server(PROJECT_DIR / ".embedded-postgres" / "data")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="project.settings",
        DATABASE_URL=embedded.database_url(socket_dir, LOCAL_DB),
        RAILWAY_DATABASE_URL=embedded.database_url(socket_dir, RAILWAY_DB),
        RAILWAY_SYNC_ENV_FILE=os.devnull,
    )
    import django

    django.setup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each measurement")
    args = parser.parse_args()
    configure()

    from django.db import connections, transaction

    from railway_sync.engine import diff, load
    from railway_sync.pg import driver
    from railway_sync.pg.columns import live_columns
    from railway_sync.pg.connection import connect
    from railway_sync.pg.sql import column_list

    for alias in ("default", "railway"):
        connect(alias)
    columns = live_columns("default", "animals")
    assert columns is not None, "run benchmarks.sync first: the local database has no animals"
    names = column_list(columns)
    with connections["default"].cursor() as counting:
        counting.execute("SELECT count(*) FROM animals")
        (count,) = counting.fetchone()

    def copy() -> None:
        with transaction.atomic(using="railway"):
            with connections["railway"].cursor() as cursor:
                cursor.execute(
                    "CREATE TEMP TABLE drivers_stage (LIKE animals INCLUDING DEFAULTS) ON COMMIT DROP"
                )
            load.stream_copy(
                "default",
                f"COPY (SELECT {names} FROM animals ORDER BY id) TO STDOUT",
                "railway",
                f"COPY drivers_stage ({names}) FROM STDIN",
            )
            transaction.set_rollback(True, using="railway")

    def cursor() -> None:
        found = diff.diff_table("default", "railway", "animals", columns)
        assert found.pending == 0, "the two databases differ: run benchmarks.sync again"

    def rows() -> None:
        with connections["default"].cursor() as cursor:
            cursor.execute(f"SELECT {names} FROM animals ORDER BY id LIMIT 10000")
            assert len(cursor.fetchall()) == 10000

    measurements: list[tuple[str, Callable[[], None]]] = [
        ("COPY local -> Railway, every animal", copy),
        ("server-side cursors, every animal's hash, both sides", cursor),
        ("10,000 whole rows as Python values", rows),
    ]
    print(f"{driver.NAME} {driver.VERSION}, Python {sys.version.split()[0]}, {count:,} animals")
    for label, measure in measurements:
        measure()  # warm: caches, connections
        seconds = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            measure()
            seconds.append(time.perf_counter() - started)
        print(f"  {label}: fastest {min(seconds):.3f} s, median {statistics.median(seconds):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
