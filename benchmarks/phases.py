"""Where a verified rebuild spends its time: per phase, per statement, client against server.

    python -m benchmarks.phases --animals 200000 [--reuse] [--indexes]

Builds the sync benchmark's databases (``benchmarks.sync``; ``--reuse`` keeps those a previous
run left), times the ``pg_dump --data-only | psql`` baseline, then empties Railway and runs
``railway_sync --mode rebuild --confirm-destructive`` in its own process with
``RAILWAY_SYNC_LOG_LEVEL=INFO`` and prints:

- the command's own phase lines (``railway_sync: write animals took 3.10 s``), and the wall
  time outside them (Python and Django starting, connecting, the history);
- CPU seconds (user + system, from ``wait4``, with its peak RSS) of the command's process
  against those of the embedded server's processes (its backends, reaped by the postmaster,
  and its background processes), read from ``/proc`` before and after;
- the server time of every statement on either database, summed by kind (a cursor's FETCHes
  under the query it was declared for), largest first, from the server's log
  (``log_min_duration_statement = 0`` on the two benchmark databases for the run, and a
  ``log_line_prefix`` naming the database; both reset afterwards).

Only the embedded server's log is read, so local and Railway share one server here: their
CPU is counted together. ``--indexes`` first times, inside the local server, loading animals
and scrape_logs into a copy that keeps their indexes against loading a bare copy and building
them afterwards. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.sync import Bench

# Fields 14-17 of /proc/PID/stat: utime, stime, cutime, cstime (clock ticks).
TICKS = os.sysconf("SC_CLK_TCK")
TOP = 15
CURSOR = re.compile(r'"railway_sync_[0-9a-f]+"')
# A list of column names, quoted (ours) or not (pg_dump's).
COLUMNS = re.compile(r'"[^"]+"(?:, "[^"]+"){2,}|\b\w+(?:, \w+){2,}\b')
DURATION = re.compile(
    r"\[(?P<pid>\d+)\] (?P<db>\S+) LOG:  duration: (?P<ms>[\d.]+) ms  statement: (?P<sql>.*)"
)


def server_cpu(postmaster: int) -> float:
    """CPU seconds the server has used: the postmaster with the children it reaped, and its
    children still running (checkpointer, WAL writer, autovacuum...)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        pid, parent = int(entry.name), int(fields[1])
        if pid == postmaster:
            total += sum(int(f) for f in fields[11:15]) / TICKS
        elif parent == postmaster:
            total += sum(int(f) for f in fields[11:13]) / TICKS
    return total


def read_log(log: Path, offset: int) -> list[re.Match]:
    """The server log's statement durations from ``offset`` on."""
    with log.open(errors="replace") as lines:
        lines.seek(offset)
        entries: list[str] = []
        for line in lines:
            if line.startswith("\t") and entries:  # a statement's next lines
                entries[-1] += " " + line.strip()
            else:
                entries.append(line.rstrip("\n"))
    return [m for m in map(DURATION.search, entries) if m]


def statement_totals(logged: list[re.Match]) -> list[tuple[tuple[str, str], tuple[int, float]]]:
    """((database, statement kind), (count, seconds)), largest total first. A kind is the
    statement's text with numbers, column lists and a cursor's name replaced; a FETCH counts under the
    query its cursor was declared for."""
    declared: dict[str, str] = {}
    totals: dict[tuple[str, str], tuple[int, float]] = {}
    for match in logged:
        sql = " ".join(match["sql"].split())
        cursor = CURSOR.search(sql)
        if sql.startswith("DECLARE") and cursor:
            declared[cursor[0]] = sql.split(" FOR ", 1)[-1]
        if sql.startswith("FETCH") and cursor:
            sql = "FETCH from: " + declared.get(cursor[0], sql)
        kind = re.sub(r"\b\d+\b", "N", COLUMNS.sub("...", CURSOR.sub("<cursor>", sql)))
        count, seconds = totals.get((match["db"], kind), (0, 0.0))
        totals[(match["db"], kind)] = (count + 1, seconds + float(match["ms"]) / 1000)
    return sorted(totals.items(), key=lambda item: -item[1][1])


def index_costs(bench: Bench, table: str) -> tuple[int, float, float, float]:
    """(indexes, seconds to load ``table``'s rows into a copy that keeps its indexes, seconds
    into one without them, seconds to build them afterwards), inside the local server
    (``INSERT ... SELECT``, no client, no network): what building indexes after loading an
    empty table would save."""
    connection = bench.connect(bench.local_db)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [table])
            definitions = [row[0] for row in cursor.fetchall()]

            def on(copy: str, definition: str) -> str:
                head, tail = definition.split(f" ON public.{table} ", 1)
                name = head.rsplit(" ", 1)[1]
                return f"{head.rsplit(' ', 1)[0]} {copy}_{name} ON {copy} {tail}"

            def timed(statement: str) -> float:
                started = time.monotonic()
                cursor.execute(statement)
                return time.monotonic() - started

            cursor.execute("DROP TABLE IF EXISTS bench_indexed, bench_bare")
            for copy in ("bench_indexed", "bench_bare"):
                cursor.execute(f"CREATE TABLE {copy} (LIKE {table} INCLUDING DEFAULTS)")
            for definition in definitions:
                cursor.execute(on("bench_indexed", definition))
            cursor.execute("CHECKPOINT")
            indexed = timed(f"INSERT INTO bench_indexed SELECT * FROM {table}")
            cursor.execute("CHECKPOINT")
            bare = timed(f"INSERT INTO bench_bare SELECT * FROM {table}")
            built = sum(timed(on("bench_bare", definition)) for definition in definitions)
            cursor.execute("DROP TABLE bench_indexed, bench_bare")
    finally:
        connection.close()
    return len(definitions), indexed, bare, built


def log_settings(bench: Bench, on: bool) -> None:
    for database in (bench.local_db, bench.railway_db):
        setting = "= 0" if on else "TO DEFAULT"
        bench.sql("postgres", f"ALTER DATABASE {database} SET log_min_duration_statement {setting}")
    prefix = "'%m [%p] %d '" if on else "DEFAULT"
    bench.sql("postgres", f"ALTER SYSTEM SET log_line_prefix = {prefix}")
    bench.sql("postgres", "SELECT pg_reload_conf()")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--animals", type=int, default=200_000, help="animals to generate")
    parser.add_argument("--reuse", action="store_true", help="keep the databases of a last run")
    parser.add_argument(
        "--indexes", action="store_true", help="also time loading with indexes against after"
    )
    args = parser.parse_args()
    bench = Bench(args.animals)
    if not args.reuse:
        bench.prepare()
    if args.indexes:
        for table in ("animals", "scrape_logs"):
            count, indexed, bare, built = index_costs(bench, table)
            print(
                f"{table}: loaded keeping its {count} indexes {indexed:.2f} s; without them "
                f"{bare:.2f} s, then building them {built:.2f} s ({bare + built:.2f} s)",
                flush=True,
            )
    data_dir = bench.socket_dir  # the embedded server keeps its socket in its data folder
    postmaster = int((Path(data_dir) / "postmaster.pid").read_text().split()[0])
    log = Path(data_dir) / "log"
    names = {bench.local_db: "local", bench.railway_db: "Railway"}
    log_settings(bench, on=True)
    try:
        time.sleep(0.5)  # the reload reaches the server's processes
        log_offset = log.stat().st_size
        bench.empty_railway()
        server_before = server_cpu(postmaster)
        baseline, _ = bench.dump_and_restore()
        server = server_cpu(postmaster) - server_before
        print(
            f"baseline: pg_dump --data-only | psql: {baseline:.2f} s wall, the server's CPU "
            f"{server:.2f} s, content equal: {'yes' if bench.equal() else 'NO'}",
            flush=True,
        )
        print("its COPY statements by server time:")
        for (database, kind), (count, seconds) in statement_totals(read_log(log, log_offset)):
            if kind.startswith("COPY"):
                where = names.get(database, database)
                print(f"  {seconds:7.2f} s {count:5d}x {where:8} {kind[:110]}")
        bench.empty_railway()
        log_offset = log.stat().st_size
        env = {**bench.env(), "RAILWAY_SYNC_LOG_LEVEL": "INFO"}
        server_before = server_cpu(postmaster)
        started = time.monotonic()
        process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "railway_sync",
                "--mode",
                "rebuild",
                "--confirm-destructive",
            ],
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None
        err = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
        server = server_cpu(postmaster) - server_before
    finally:
        # Also when interrupted: the server logs as before.
        log_settings(bench, on=False)
    if os.waitstatus_to_exitcode(status):
        print(err, file=sys.stderr)
        return 1
    equal = bench.equal()

    print(
        f"verified rebuild: {wall:.2f} s wall ({wall / baseline:.2f}x the baseline), "
        f"content equal: {'yes' if equal else 'NO'}"
    )
    print(
        f"CPU: the command {usage.ru_utime + usage.ru_stime:.2f} s "
        f"(user {usage.ru_utime:.2f}, system {usage.ru_stime:.2f}), "
        f"the server (local and Railway together) {server:.2f} s; "
        f"the command's peak RSS {usage.ru_maxrss / 1024:.0f} MB"
    )
    phases = re.findall(r"railway_sync: (.+) took ([\d.]+) s", err)
    finished = re.search(r"railway_sync: finished in ([\d.]+) s", err)
    print("phases (the command's INFO lines):")
    for name, seconds in phases:
        print(f"  {name:40} {float(seconds):7.2f} s")
    if finished:
        print(f"  {'outside the sync (start-up, history)':40} {wall - float(finished[1]):7.2f} s")
    logged = read_log(log, log_offset)
    print("statements by total server time (server's log; a cursor's FETCHes under its query):")
    for (database, kind), (count, seconds) in statement_totals(logged)[:TOP]:
        where = names.get(database, database)
        print(f"  {seconds:7.2f} s {count:5d}x {where:8} {kind[:110]}")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
