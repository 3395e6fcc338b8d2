"""How long a committed local change takes to be visible on Railway under ``--watch``.

    python -m benchmarks.watch [--animals 20000] [--changes 20] [--interval 1] [--rtt 0,100]
        [--json FILE] [--svg docs/performance/watch-latency.svg]

Two databases on the embedded PostgreSQL stand in for local and Railway, as in
``benchmarks.sync``, brought in sync once. A ``railway_sync --watch`` process runs against
them, Railway reached through ``benchmarks.link.Link`` with the round-trip time given; the
benchmark then changes one animal at a time locally and, from the moment its transaction
commits, polls Railway every 5 ms until the row reads the new value there. Each change waits
for the previous one to land, so a measurement includes the wait for the next check (at most
``--interval``), the check, and the sync. Prints the median and the worst per round-trip
time, and with ``--svg`` draws them for the docs' performance page.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.link import Link, server_socket
from benchmarks.sync import PROJECT_DIR, RAILWAY_DB, Bench

POLL = 0.005


def start_watch(bench: Bench, url: str | None, interval: float) -> subprocess.Popen:
    """``railway_sync --watch --format json`` against ``bench``'s databases (Railway reached
    at ``url`` if given), its documents on its stdout."""
    return subprocess.Popen(
        [
            sys.executable,
            str(PROJECT_DIR / "manage.py"),
            "railway_sync",
            "--watch",
            "--interval",
            f"{interval:g}",
            "--format",
            "json",
        ],
        env=bench.env(url),
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def measure(bench: Bench, url: str, interval: float, changes: int) -> list[float]:
    """Seconds from commit to visible on Railway, for ``changes`` changes, one at a time."""
    process = start_watch(bench, url, interval)
    assert process.stdout is not None
    first = process.stdout.readline()
    if json.loads(first)["outcome"] != "success":
        raise RuntimeError(f"the watch's first sync failed: {first}")
    # Keep reading its documents, so its pipe never fills.
    threading.Thread(target=lambda: [None for _ in process.stdout or ()], daemon=True).start()
    latencies = []
    try:
        for number in range(changes):
            name = f"watched change {number} {time.time()}"
            bench.sql(
                bench.local_db, "UPDATE animals SET name = %(name)s WHERE id = 1", {"name": name}
            )
            committed = time.monotonic()
            while bench.sql(RAILWAY_DB, "SELECT name FROM animals WHERE id = 1")[0][0] != name:
                if time.monotonic() - committed > 120:
                    raise RuntimeError("a change did not reach Railway within 2 minutes")
                time.sleep(POLL)
            latencies.append(time.monotonic() - committed)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    return latencies


def svg(results: dict[int, list[float]], interval: float) -> str:
    """Median and worst latency per round-trip time, as bars, with the interval marked."""
    width, height, left, bottom = 420, 200, 60, 30
    top = max(max(values) for values in results.values()) * 1.15
    slot = (width - left - 20) / len(results)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="{left}" y="14">--watch: commit to visible on Railway (interval {interval:g} s)</text>',
    ]

    def y(value: float) -> float:
        return height - bottom - value / top * (height - bottom - 30)

    for index, (rtt, values) in enumerate(sorted(results.items())):
        x = left + index * slot + 10
        for offset, (label, value, colour) in enumerate(
            (("median", statistics.median(values), "#3f51b5"), ("worst", max(values), "#e57373"))
        ):
            bar_x = x + offset * (slot / 2 - 8)
            parts.append(
                f'<rect x="{bar_x:.1f}" y="{y(value):.1f}" width="{slot / 2 - 12:.1f}" '
                f'height="{height - bottom - y(value):.1f}" fill="{colour}">'
                f"<title>{label} {value:.2f} s at {rtt} ms</title></rect>"
            )
            parts.append(f'<text x="{bar_x:.1f}" y="{y(value) - 3:.1f}">{value:.2f} s</text>')
        parts.append(f'<text x="{x:.1f}" y="{height - 12}">RTT {rtt} ms</text>')
    parts.append(
        f'<line x1="{left}" x2="{width - 10}" y1="{y(interval):.1f}" y2="{y(interval):.1f}" '
        'stroke="#999" stroke-dasharray="4 3"/>'
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--animals", type=int, default=20_000, help="animals to generate")
    parser.add_argument("--changes", type=int, default=20, help="changes measured per RTT")
    parser.add_argument("--interval", type=float, default=1.0, help="the watch's --interval")
    parser.add_argument("--rtt", default="0,100", help="round-trip times to Railway, in ms")
    parser.add_argument("--json", help="also write the latencies to this JSON file")
    parser.add_argument("--svg", type=Path, help="also draw them into this SVG file")
    args = parser.parse_args()
    bench = Bench(args.animals)
    bench.prepare()
    bench.manage("railway_sync")
    results: dict[int, list[float]] = {}
    with Link(server_socket(bench.socket_dir)) as link:
        for rtt in (int(value) for value in args.rtt.split(",")):
            link.delay = rtt / 2000
            results[rtt] = measure(bench, link.url(RAILWAY_DB), args.interval, args.changes)
    print(
        f"railway_sync --watch --interval {args.interval:g}: commit to visible on Railway, "
        f"{args.changes} changes each, {args.animals} animals"
    )
    for rtt, values in results.items():
        print(
            f"RTT {rtt:>3} ms: median {statistics.median(values):.2f} s, worst {max(values):.2f} s"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({str(k): v for k, v in results.items()}, indent=2))
    if args.svg:
        args.svg.write_text(svg(results, args.interval))
    return 0


if __name__ == "__main__":
    sys.exit(main())
