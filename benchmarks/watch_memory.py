"""A ``railway_sync --watch`` process's memory over a long run: does it grow?

    python -m benchmarks.watch_memory [--animals 1000000] [--minutes 60] [--every 30]
        [--interval 5] [--json FILE]

Two databases of their own on the embedded PostgreSQL (``benchmarks.sync``'s ``Bench``, other
names, so the sync benchmark can run meanwhile), brought in sync once by a plain sync. Then a
watch runs for ``--minutes``; every ``--every`` seconds the benchmark changes 1,000 animals
locally (a different slice each time), so the watch syncs again and again. Every 30 s it
reads (from the watch's first sync on) its resident memory (``VmRSS``) and peak (``VmHWM``) from ``/proc``, and prints
them with the syncs the watch reported so far. At the end: the peak, and the mean of the
last quarter of the samples against the first quarter (growth). Nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

from benchmarks.sync import Bench
from benchmarks.watch import start_watch

LOCAL_DB, RAILWAY_DB = "railway_sync_mem_local", "railway_sync_mem_railway"
SAMPLE_SECONDS = 30.0
CHANGED_PER_ROUND = 1_000


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return tuple(int(fields[name].split()[0]) / 1024 for name in ("VmRSS", "VmHWM"))  # type: ignore[return-value]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--animals", type=int, default=1_000_000, help="animals to generate")
    parser.add_argument("--minutes", type=float, default=60.0, help="how long the watch runs")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between changes")
    parser.add_argument("--interval", type=float, default=5.0, help="the watch's --interval")
    parser.add_argument("--reuse", action="store_true", help="keep the databases of a last run")
    parser.add_argument("--json", help="where to write the samples as JSON")
    args = parser.parse_args()
    bench = Bench(args.animals, LOCAL_DB, RAILWAY_DB)
    if not args.reuse:
        bench.prepare()
    bench.manage("railway_sync")
    process = start_watch(bench, None, args.interval)
    syncs = {"success": 0, "other": 0}

    def read_documents() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            outcome = json.loads(line).get("outcome")
            syncs["success" if outcome == "success" else "other"] += 1

    threading.Thread(target=read_documents, daemon=True).start()
    samples: list[dict[str, float]] = []
    started = time.monotonic()
    next_change = next_sample = started
    round_ = 0
    try:
        while time.monotonic() - started < args.minutes * 60:
            now = time.monotonic()
            if now >= next_change:
                first = 1 + (round_ * CHANGED_PER_ROUND) % max(args.animals - CHANGED_PER_ROUND, 1)
                bench.sql(
                    bench.local_db,
                    "UPDATE animals SET updated_at = updated_at + interval '1 second' "
                    f"WHERE id BETWEEN {first} AND {first + CHANGED_PER_ROUND - 1}",
                )
                round_ += 1
                next_change += args.every
            # Sampled from the watch's first sync on: before it, Python is still starting.
            if now >= next_sample and syncs["success"]:
                rss, peak = memory_mb(process.pid)
                sample = {
                    "minute": round((now - started) / 60, 2),
                    "rss_mb": round(rss, 1),
                    "peak_mb": round(peak, 1),
                    "syncs": syncs["success"],
                    "failed": syncs["other"],
                }
                samples.append(sample)
                print(json.dumps(sample), flush=True)
                next_sample += SAMPLE_SECONDS
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
    quarter = max(len(samples) // 4, 1)
    first_mean = sum(s["rss_mb"] for s in samples[:quarter]) / quarter
    last_mean = sum(s["rss_mb"] for s in samples[-quarter:]) / quarter
    summary = {
        "animals": args.animals,
        "minutes": args.minutes,
        "syncs": syncs["success"],
        "failed": syncs["other"],
        "peak_mb": max(s["peak_mb"] for s in samples),
        "first_quarter_mean_rss_mb": round(first_mean, 1),
        "last_quarter_mean_rss_mb": round(last_mean, 1),
        "exit_code": process.returncode,
    }
    print(json.dumps(summary), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "samples": samples}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
