"""Benchmark railway_sync against `pg_dump --data-only | psql`, measured in the same run.

    python -m benchmarks.sync --animals 1000000 [--json benchmark-results.json]

Two databases on the project's embedded PostgreSQL stand in for local and Railway. Each step
runs the real command in its own process (as cron would), timed by wall clock, with the peak
RSS of that process; after each step, outside the timed part, the content of the five tables
is compared on both sides with an md5 over every row's text, independently of the tool's own
verification, so a fast wrong answer cannot pass. Django's start-up and the quiet no-op sync
(a few tenths of a second each) are the median of five runs; the sync after 1% of animals
changed (each run after a change of its own) and ``railway_status``, whose targets are
tenths of the baseline at 200,000 animals, the median of three.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import median

from benchmarks.data import ANIMALS_SQL, generate, scale
from benchmarks.railway import RailwayServer

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from railway_sync.pg import driver, embedded  # noqa: E402

TABLES = ("organizations", "animals", "animal_images", "scrape_logs", "service_regions")
LOCAL_DB, RAILWAY_DB = "railway_sync_bench_local", "railway_sync_bench_railway"
# Targets as ratios to the baseline, judged from a scale on (below it, start-up dominates):
# issue 24's from 200,000 animals, the earlier ones at a million.
TARGET_SCALE = 200_000
MILLION = 1_000_000
TARGETS = {
    "rebuild into empty Railway (with verification)": 1.2,
    "rebuild into empty Railway --skip-validation": 1.1,
    "sync after 1% of animals changed": 0.10,
    "railway_status": 0.06,
    "sync after 100 animals changed": 0.05,
    "sync after one row changed on Railway": 0.05,
    "railway_status --deep": 0.6,
    # Against the pull's own baseline (the other way round), the verified rebuild's target.
    "pull into empty local tables (with verification)": 1.5,
}
JUDGED_FROM = {
    "sync after 100 animals changed": MILLION,
    "sync after one row changed on Railway": MILLION,
    "railway_status --deep": MILLION,
    "pull into empty local tables (with verification)": MILLION,
}


BASELINE = "baseline: pg_dump --data-only | psql"
PULL_BASELINE = "pull baseline: pg_dump --data-only Railway | psql local"
PULL = "pull into empty local tables (with verification)"
PGCOPYDB = "peer: pgcopydb copy table-data --table-jobs 2"
STARTUP = "Django start-up (manage.py help)"
NO_OP = "no-op sync"
# The first sync with nothing to do after one that wrote reads the tables (change tracking);
# the ones after it, while nothing is written, answer from its record (``engine.quiet``).
NO_OP_READ = "no-op sync, first after a write (reads the tables)"
# The short steps (start-up, the quiet no-op) are the median of this many runs: a single
# run of half a second varies by a tenth or more on a shared machine.
SHORT_RUNS = 5
# The steps with a target that take a second or two at 200,000 animals (the sync after 1%
# changed, the status) are the median of this many runs: single runs varied by a tenth.
MEDIAN_RUNS = 3
# Seconds a no-op sync may spend beyond Django's start-up.
NO_OP_BEYOND_STARTUP = 0.25
VERIFIED_REBUILD = "rebuild into empty Railway (with verification)"
PGSYNC_ABSENT = (
    "not measured: ankane/pgsync is a Ruby gem, and neither Debian, PyPI nor npm ships it "
    "(PyPI's pgsync is an unrelated Elasticsearch sync)"
)


def peers_not_measured() -> dict[str, str]:
    """The peers a user would pick that this machine cannot run, and why (said, never faked)."""
    absent = {"pgsync": PGSYNC_ABSENT}
    if shutil.which("pgcopydb") is None:
        absent["pgcopydb"] = "not installed: apt-get install pgcopydb"
    return absent


def wait_with_rss(process: subprocess.Popen) -> tuple[int, float]:
    """Wait for ``process``; its exit code and peak RSS in MB (its own and its waited-for
    children's, as the kernel reports to wait4)."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss / 1024


@dataclass
class Step:
    name: str
    seconds: float
    rows_written: int
    peak_rss_mb: float | None
    content_equal: bool
    ratio: float = 0.0
    rows_per_second: float = 0.0
    target: float | None = None
    # The baseline step this one's ratio is taken against.
    versus: str = BASELINE
    # A sync's tables' ``compared``, the distinct ones in order ("tracked", "quiet", ...).
    compared: str = ""


class Bench:
    """Two databases, filled with ``animals`` animals locally, and the real commands run
    against them; shared with the round-trip benchmark, which passes its own database names
    so the two never touch each other's data. Both are on the embedded server, unless
    ``railway`` is given: then Railway's database is on that server (local stays embedded)."""

    def __init__(
        self,
        animals: int,
        local_db: str = LOCAL_DB,
        railway_db: str = RAILWAY_DB,
        railway: RailwayServer | None = None,
    ) -> None:
        self.animals = animals
        self.local_db, self.railway_db = local_db, railway_db
        self.railway = railway
        self.socket_dir = embedded.ensure_server(PROJECT_DIR / ".embedded-postgres" / "data")
        self.bin = embedded.binaries()

    def connect(self, database: str):
        if self.railway is not None and database == self.railway_db:
            return self.railway.connect(database)
        return driver.connect(
            host=str(self.socket_dir), user="postgres", dbname=database, autocommit=True
        )

    def sql(self, database: str, statement: str, params: dict | None = None) -> list[tuple]:
        connection = self.connect(database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement, params)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()

    def env(self, railway_url: str | None = None) -> dict[str, str]:
        # As a user's Python runs: the project's bytecode cached after the first run.
        environment = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONDONTWRITEBYTECODE")
        }
        environment.update(
            DATABASE_URL=embedded.database_url(self.socket_dir, self.local_db),
            RAILWAY_DATABASE_URL=railway_url or self.railway_url(),
            RAILWAY_SYNC_ENV_FILE=os.devnull,
        )
        return environment

    def railway_url(self) -> str:
        """Railway's database, straight (not through a link)."""
        if self.railway is not None:
            return self.railway.url(self.railway_db)
        return embedded.database_url(self.socket_dir, self.railway_db)

    def manage(self, *args: str, railway_url: str | None = None) -> tuple[float, float, str]:
        """Run manage.py, reaching Railway at ``railway_url`` if given (else straight at its
        server); return (wall seconds, peak RSS in MB, stdout)."""
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, str(PROJECT_DIR / "manage.py"), *args],
            env=self.env(railway_url),
            cwd=PROJECT_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None and process.stderr is not None
        out, err = process.stdout.read(), process.stderr.read()
        returncode, rss = wait_with_rss(process)
        seconds = time.monotonic() - started
        if returncode not in (0,) and args[0] != "railway_status":
            raise RuntimeError(f"{' '.join(args)} failed:\n{err.decode()}")
        return seconds, rss, out.decode()

    def create(self) -> None:
        """Both databases afresh: local with the scrapers' tables and generated rows, Railway
        empty (no schema yet)."""
        embedded.drop_database(self.socket_dir, self.local_db)
        embedded.ensure_database(self.socket_dir, self.local_db)
        if self.railway is not None:
            self.railway.drop_database(self.railway_db)
            self.railway.create_database(self.railway_db)
        else:
            embedded.drop_database(self.socket_dir, self.railway_db)
            embedded.ensure_database(self.socket_dir, self.railway_db)
        schema = (PROJECT_DIR / "railway_sync" / "sql" / "source_schema.sql").read_text()
        self.sql(self.local_db, schema)
        started = time.monotonic()
        generate(
            dict(host=str(self.socket_dir), user="postgres", dbname=self.local_db), self.animals
        )
        self.sql(self.local_db, "VACUUM ANALYZE")
        print(f"generated {self.animals} animals in {time.monotonic() - started:.1f} s", flush=True)

    def prepare(self) -> None:
        self.create()
        self.manage("migrate", "--verbosity", "0")  # local's own tables (a pull's record)
        self.manage("railway_migrate")

    def empty_railway(self) -> None:
        self.sql(self.railway_db, f"TRUNCATE {', '.join(TABLES)} CASCADE")
        self.sql(self.railway_db, "TRUNCATE railway_sync_state")
        self.sql(self.railway_db, "VACUUM ANALYZE")

    def content(self, database: str) -> list[tuple]:
        return [
            self.sql(
                database,
                f"SELECT count(*), md5(string_agg(md5(t::text), '' ORDER BY id)) FROM {table} t",
            )[0]
            for table in TABLES
        ]

    def equal(self, vacuum: bool = True) -> bool:
        """Same content on both sides; then (``vacuum``) vacuum, so autovacuum does not land
        in the next timed step (both outside the timed part). ANALYZE takes a transaction
        id, as any write does: not between two no-op syncs."""
        with ThreadPoolExecutor(2) as pool:
            local, railway = pool.map(self.content, (self.local_db, self.railway_db))
        for database in (self.local_db, self.railway_db) if vacuum else ():
            self.sql(database, "VACUUM ANALYZE")
        return local == railway

    def wait_for_no_open_transaction(self, seconds: float = 30.0) -> None:
        """Wait (outside the timed part) until no other session on the local server holds a
        transaction open: a sync reading meanwhile cannot record itself as quiet."""
        deadline = time.monotonic() + seconds
        while (
            time.monotonic() < deadline
            and self.sql(
                self.local_db,
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                "AND (backend_xid IS NOT NULL OR backend_xmin IS NOT NULL)",
            )[0][0]
        ):
            time.sleep(0.1)

    def rows(self, database: str) -> int:
        return sum(self.sql(database, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES)

    def baseline(self) -> Step:
        self.empty_railway()
        seconds, rss = self.dump_and_restore()
        return Step(BASELINE, seconds, self.rows(self.local_db), rss, self.equal())

    def empty_local(self) -> None:
        self.sql(self.local_db, f"TRUNCATE {', '.join(TABLES)} CASCADE")
        self.sql(self.local_db, "VACUUM ANALYZE")

    def pull_steps(self) -> list[Step]:
        """The pull (Railway to local, into emptied local tables) and its baseline, the
        other way round: ``pg_dump --data-only`` of Railway into local's tables."""
        self.empty_local()
        seconds, rss = self.dump_and_restore(self.railway_db, self.local_db)
        baseline = Step(PULL_BASELINE, seconds, self.rows(self.local_db), rss, self.equal())
        self.empty_local()
        seconds, rss, out = self.manage("railway_pull", "--format", "json")
        pulled = Step(PULL, seconds, json.loads(out)["rows_written"], rss, self.equal())
        baseline.versus = pulled.versus = PULL_BASELINE
        return [baseline, pulled]

    def dump_and_restore(self, source: str = "", target: str = "") -> tuple[float, float]:
        """``pg_dump --data-only | psql`` of the five tables from ``source`` (local's
        database) into the (empty) ones of ``target`` (Railway's); wall seconds and the larger
        peak RSS of the two. Both on the embedded server."""
        source, target = source or self.local_db, target or self.railway_db
        tables = [arg for table in TABLES for arg in ("-t", table)]
        started = time.monotonic()
        dump = subprocess.Popen(
            [
                str(self.bin / "pg_dump"),
                "--data-only",
                "-h",
                str(self.socket_dir),
                "-U",
                "postgres",
                *tables,
                source,
            ],
            stdout=subprocess.PIPE,
        )
        restore = subprocess.Popen(
            [
                str(self.bin / "psql"),
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-U",
                "postgres",
                target,
            ],
            stdin=dump.stdout,
            stdout=subprocess.DEVNULL,
        )
        assert dump.stdout is not None
        dump.stdout.close()
        psql_status, psql_rss = wait_with_rss(restore)
        dump_status, dump_rss = wait_with_rss(dump)
        seconds = time.monotonic() - started
        if psql_status or dump_status:
            raise RuntimeError(f"pg_dump | psql failed ({dump_status}, {psql_status})")
        return seconds, max(psql_rss, dump_rss)

    def pgcopydb(self) -> Step | None:
        """``pgcopydb copy table-data --table-jobs 2`` into the emptied tables, or None where
        it is not installed (Debian's ``pgcopydb``).

        Its two jobs copy tables in any order, so the target's foreign keys would reject
        children copied before their parents: with them on, it loses those tables and still
        exits 0 (seen with 0.10). Its target sessions run with
        ``session_replication_role = replica``, which leaves foreign keys unchecked (indexes
        are still maintained, as for the baseline). Its time includes the ``VACUUM ANALYZE``
        it runs on each table it copied.
        """
        binary = shutil.which("pgcopydb")
        if binary is None:
            return None
        self.empty_railway()
        url = self.railway_url()
        target = f"{url}{'&' if '?' in url else '?'}options=-c%20session_replication_role%3Dreplica"
        with tempfile.TemporaryDirectory(prefix="railway-sync-pgcopydb-") as work:
            filters = Path(work) / "filters.ini"
            filters.write_text("[include-only-table]\n" + "".join(f"public.{t}\n" for t in TABLES))
            started = time.monotonic()
            process = subprocess.Popen(
                [
                    binary,
                    "copy",
                    "table-data",
                    "--source",
                    embedded.database_url(self.socket_dir, self.local_db),
                    "--target",
                    target,
                    "--table-jobs",
                    "2",
                    "--dir",
                    str(Path(work) / "work"),
                    "--filters",
                    str(filters),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            assert process.stderr is not None
            err = process.stderr.read()
            status, rss = wait_with_rss(process)
            seconds = time.monotonic() - started
        if status:
            raise RuntimeError(f"pgcopydb failed:\n{err.decode()}")
        return Step(PGCOPYDB, seconds, self.rows(self.railway_db), rss, self.equal())

    def sync_step(self, name: str, *args: str, vacuum: bool = True) -> Step:
        seconds, rss, out = self.manage("railway_sync", "--format", "json", *args)
        report = json.loads(out)
        compared = "/".join(dict.fromkeys(table["compared"] for table in report["tables"]))
        step = Step(name, seconds, report["rows_written"], rss, self.equal(vacuum))
        step.compared = compared
        return step

    def quiet_no_op(self) -> Step:
        """The no-op sync while nothing is written: the median of ``SHORT_RUNS`` runs that
        answered quietly (a run another transaction on the server made read the tables, as
        autovacuum's ANALYZE does, is not one of them; up to three such are run again)."""
        times: list[float] = []
        peak = 0.0
        for _ in range(SHORT_RUNS + 3):
            self.wait_for_no_open_transaction()
            seconds, rss, out = self.manage("railway_sync", "--format", "json")
            if {table["compared"] for table in json.loads(out)["tables"]} == {"quiet"}:
                times.append(seconds)
                peak = max(peak, rss)
            if len(times) == SHORT_RUNS:
                break
        step = Step(NO_OP, median(times) if times else 0.0, 0, peak, self.equal())
        step.compared = "quiet" if len(times) == SHORT_RUNS else "not quiet"
        return step

    def status_step(self, name: str, *args: str) -> Step:
        seconds, rss, out = self.manage("railway_status", "--format", "json", *args)
        report = json.loads(out)
        return Step(name, seconds, 0, rss, self.equal() and report["in_sync"])

    def median_of_runs(self, run: Callable[[], Step], before: Callable[[], None]) -> Step:
        """``run`` ``MEDIAN_RUNS`` times, each after ``before``: the first run's step with the
        median of the runs' seconds, the largest peak RSS, and content equal after every run."""
        runs = []
        for _ in range(MEDIAN_RUNS):
            before()
            runs.append(run())
        step = runs[0]
        step.seconds = median(each.seconds for each in runs)
        step.peak_rss_mb = max(each.peak_rss_mb or 0 for each in runs)
        step.content_equal = all(each.content_equal for each in runs)
        return step

    def change_one_percent(self) -> None:
        every = 125  # 0.8% of animals updated in several columns ...
        self.sql(
            self.local_db,
            f"UPDATE animals SET status = 'adopted', updated_at = updated_at + interval '1 hour', "
            f"properties = properties || '{{\"seen_again\": true}}' WHERE id % {every} = 0",
        )
        first = self.sql(self.local_db, "SELECT max(id) + 1 FROM animals")[0][0]
        added = max(self.animals // 500, 1)  # ... and 0.2% new animals
        sizes = scale(self.animals)
        self.sql(self.local_db, ANIMALS_SQL, {**sizes, "first": first, "last": first + added - 1})

    def verified_rebuild(self) -> Step:
        """Empty Railway, then ``railway_sync --mode rebuild --confirm-destructive``: the
        comparison with pgcopydb (``benchmarks.pairs`` runs it too)."""
        self.empty_railway()
        return self.sync_step(VERIFIED_REBUILD, "--mode", "rebuild", "--confirm-destructive")

    def run(self) -> list[Step]:
        self.prepare()
        steps = [self.baseline()]
        peer = self.pgcopydb()
        if peer is not None:
            steps.append(peer)
        steps.append(self.verified_rebuild())
        self.empty_railway()
        steps.append(
            self.sync_step(
                "rebuild into empty Railway --skip-validation",
                "--mode",
                "rebuild",
                "--confirm-destructive",
                "--skip-validation",
            )
        )
        starts = [self.manage("help")[:2] for _ in range(SHORT_RUNS)]
        steps.append(
            Step(STARTUP, median(s for s, _ in starts), 0, max(r for _, r in starts), True)
        )
        steps.append(self.sync_step(NO_OP_READ, vacuum=False))
        steps.append(self.quiet_no_op())
        steps.append(
            self.median_of_runs(
                lambda: self.sync_step("sync after 1% of animals changed"),
                before=self.change_one_percent,
            )
        )
        self.sql(
            self.local_db,
            "UPDATE animals SET age_text = 'changed' "
            "WHERE id IN (SELECT id FROM animals ORDER BY id DESC LIMIT 100)",
        )
        steps.append(self.sync_step("sync after 100 animals changed"))
        self.sql(self.railway_db, "UPDATE animals SET name = 'edited by the site' WHERE id = 7")
        steps.append(self.sync_step("sync after one row changed on Railway"))
        steps.append(
            self.median_of_runs(lambda: self.status_step("railway_status"), before=lambda: None)
        )
        steps.append(self.status_step("railway_status --deep", "--deep"))
        if self.railway is None:
            steps += self.pull_steps()
        by_name = {step.name: step for step in steps}
        for step in steps:
            baseline = by_name[step.versus]
            step.ratio = step.seconds / baseline.seconds
            step.rows_per_second = baseline.rows_written / step.seconds if step.seconds else 0
            step.target = TARGETS.get(step.name)
        return steps


def render(steps: list[Step], animals: int) -> str:
    lines = [
        f"railway_sync benchmark: {animals} animals, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}",
        f"{'step':50} {'seconds':>8} {'rows/s':>10} {'ratio':>7} {'target':>7} "
        f"{'RSS MB':>7} {'written':>9} equal",
    ]
    judged = animals >= TARGET_SCALE
    for step in steps:
        target = f"<={step.target}" if step.target else ""
        verdict = ""
        if step.target is not None and animals >= JUDGED_FROM.get(step.name, TARGET_SCALE):
            verdict = " ok" if step.ratio <= step.target else " MISS"
        rss = f"{step.peak_rss_mb:.0f}" if step.peak_rss_mb else "-"
        lines.append(
            f"{step.name:50} {step.seconds:8.2f} {step.rows_per_second:10.0f} "
            f"{step.ratio:6.3f}x {target:>7} {rss:>7} {step.rows_written:9d} "
            f"{'yes' if step.content_equal else 'NO'}{verdict}"
        )
    if not judged:
        lines.append(
            f"(targets apply from {TARGET_SCALE:,} animals; below that, process start-up dominates)"
        )
    by_name = {step.name: step for step in steps}
    rebuild, peer = by_name.get(VERIFIED_REBUILD), by_name.get(PGCOPYDB)
    if rebuild is not None and peer is not None and peer.seconds:
        lines.append(
            f"verified rebuild / pgcopydb: {rebuild.seconds / peer.seconds:.2f}x (aim: <= 1.00x)"
        )
    no_op, startup = by_name.get(NO_OP), by_name.get(STARTUP)
    first = by_name.get(NO_OP_READ)
    if no_op is not None and startup is not None:
        lines.append(
            f"no-op sync beyond Django's start-up: {no_op.seconds - startup.seconds:.2f} s "
            f"(aim: <= {NO_OP_BEYOND_STARTUP} s; compared: {no_op.compared})"
            + (
                f"; the first after a write, which reads the tables: "
                f"{first.seconds - startup.seconds:.2f} s"
                if first is not None
                else ""
            )
        )
    for name, why in peers_not_measured().items():
        lines.append(f"{name}: {why}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--animals", type=int, default=100_000, help="animals to generate")
    parser.add_argument("--json", default="benchmark-results.json", help="where to write JSON")
    args = parser.parse_args()
    steps = Bench(args.animals).run()
    print(render(steps, args.animals))
    Path(args.json).write_text(
        json.dumps(
            {
                "animals": args.animals,
                "steps": [asdict(s) for s in steps],
                "peers_not_measured": peers_not_measured(),
            },
            indent=2,
        )
    )
    return 0 if all(step.content_equal for step in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
