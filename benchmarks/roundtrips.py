"""Round trips to Railway per command, counted by a delaying proxy, at several round-trip times.

    python -m benchmarks.roundtrips [--animals 2000] [--rtt 0,50,100,150] [--json FILE]

Railway is across the internet, where what a routine command costs is the number of times it
waits for Railway. A database on the project's embedded PostgreSQL stands in for local, and
one on a throw-away server that connects as Railway's does (``benchmarks.railway``: TCP, TLS
required, SCRAM-SHA-256) for Railway; they are set up like ``benchmarks.sync``, then brought
in sync once by ``railway_setup``. Railway is reached only through ``benchmarks.link.Link``,
a loopback proxy that adds half the round-trip time in each direction and counts round trips
(the TCP handshake included) and bytes; local stays direct, as in the real deployment. At
each round-trip time, each command runs as its own ``manage.py`` process (as cron would), so
connection set-up (TCP, TLS and SCRAM's round trips, as on Railway) and Django's start are
included:
``railway_test_connection``, ``railway_status``, a no-op ``railway_sync`` and a
``railway_sync`` after 10 animals changed locally (changed before the run, outside the
measurement). After each step, outside the measurement, the content of the five tables is
compared on both sides, independently of the tool, so a fast wrong answer cannot pass.

The targets are issue 12's, at 100 ms round-trip time. Round trips do not depend on the
round-trip time, so they are judged at every one; wall time only at 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass

from benchmarks.link import Counts, Link
from benchmarks.railway import USER, RailwayServer
from benchmarks.sync import Bench
from railway_sync.pg import driver

LOCAL_DB, RAILWAY_DB = "railway_sync_rtt_local", "railway_sync_rtt_railway"
CHANGED_ANIMALS = 10
TARGET_RTT_MS = 100


@dataclass(frozen=True)
class Target:
    round_trips: int
    seconds: float | None  # at TARGET_RTT_MS


# (name, arguments, target), in the order they run at each round-trip time.
COMMANDS: tuple[tuple[str, tuple[str, ...], Target], ...] = (
    ("railway_test_connection", ("railway_test_connection",), Target(8, None)),
    ("railway_status", ("railway_status", "--format", "json"), Target(12, 2.0)),
    ("no-op railway_sync", ("railway_sync", "--format", "json"), Target(15, 2.5)),
    (
        f"railway_sync, {CHANGED_ANIMALS} animals changed",
        ("railway_sync", "--format", "json"),
        Target(25, 3.5),
    ),
)


@dataclass
class Measurement:
    command: str
    rtt_ms: int
    round_trips: int
    bytes_to_railway: int
    bytes_from_railway: int
    connections: int
    seconds: float
    rows_written: int
    content_equal: bool
    target_round_trips: int
    target_seconds: float | None
    round_trips_met: bool
    seconds_met: bool | None  # None: not judged at this round-trip time


@dataclass
class SetUp:
    """Opening one connection to Railway through the link, and closing it."""

    rtt_ms: int
    round_trips: int
    tls_round_trips: int  # of them, the TLS handshake's
    bytes_to_railway: int
    bytes_from_railway: int
    seconds: float

    def breakdown(self) -> str:
        # The TCP handshake and the SSLRequest are one each; the rest is PostgreSQL's startup
        # and authentication (with SCRAM: StartupMessage, SASLInitialResponse, SASLResponse).
        ssl_request = 1 if self.tls_round_trips else 0
        rest = self.round_trips - 1 - ssl_request - self.tls_round_trips
        return (
            f"TCP handshake 1, SSLRequest {ssl_request}, TLS handshake {self.tls_round_trips}, "
            f"startup and SCRAM-SHA-256 {rest}"
        )


@dataclass
class Results:
    railway_server: str  # what stands for Railway
    set_ups: list[SetUp]
    measurements: list[Measurement]


def run(animals: int, rtts: list[int]) -> Results:
    with RailwayServer() as railway:
        return run_against(railway, animals, rtts)


def run_against(railway: RailwayServer, animals: int, rtts: list[int]) -> Results:
    bench = Bench(animals, LOCAL_DB, RAILWAY_DB, railway)
    bench.create()
    bench.manage("railway_setup")  # straight to the server: set-up is not measured
    if not bench.equal():
        raise RuntimeError("railway_setup left Railway different from local")
    (version,) = bench.sql(RAILWAY_DB, "SHOW server_version")[0]
    results = Results(
        f"PostgreSQL {version}, TCP, TLS required (ssl = on, self-signed certificate), "
        "SCRAM-SHA-256 password",
        [],
        [],
    )
    with Link(railway.address) as link:
        url = link.url(RAILWAY_DB, USER, railway.password, sslmode="require")
        for rtt in rtts:
            link.delay = rtt / 2000  # one way, in seconds
            results.set_ups.append(measure_set_up(link, url, rtt))
            for name, args, target in COMMANDS:
                expected_rows = 0
                if name.endswith("changed"):
                    expected_rows = CHANGED_ANIMALS
                    bench.sql(
                        LOCAL_DB,
                        "UPDATE animals SET age_text = %(text)s "
                        "WHERE id IN (SELECT id FROM animals ORDER BY id LIMIT %(count)s)",
                        {"text": f"changed before the {rtt} ms run", "count": CHANGED_ANIMALS},
                    )
                measurement = measure(bench, link, url, name, args, target, rtt)
                if measurement.rows_written != expected_rows:
                    raise RuntimeError(
                        f"{name} at {rtt} ms wrote {measurement.rows_written} rows, "
                        f"expected {expected_rows}"
                    )
                results.measurements.append(measurement)
                print(render_row(measurement), flush=True)
    return results


def measure_set_up(link: Link, url: str, rtt: int) -> SetUp:
    """Connect once with the driver through the link and close: what every connection costs."""
    if not link.wait_idle():
        raise RuntimeError("a connection to Railway is still open")
    before = link.counts()
    started = time.monotonic()
    driver.connect(dsn=url).close()
    seconds = time.monotonic() - started
    if not link.wait_idle():
        raise RuntimeError("the set-up connection to Railway did not close")
    counted: Counts = link.counts() - before
    return SetUp(
        rtt_ms=rtt,
        round_trips=counted.round_trips,
        tls_round_trips=counted.tls_round_trips,
        bytes_to_railway=counted.bytes_to_server,
        bytes_from_railway=counted.bytes_to_client,
        seconds=seconds,
    )


def measure(
    bench: Bench,
    link: Link,
    url: str,
    name: str,
    args: tuple[str, ...],
    target: Target,
    rtt: int,
) -> Measurement:
    before = link.counts()
    seconds, _, out = bench.manage(*args, railway_url=url)
    if not link.wait_idle():
        raise RuntimeError(f"{name} left a connection to Railway open after it exited")
    counted = link.counts() - before
    report = json.loads(out) if "--format" in args else {}
    # Independent of the tool; status must also say so itself, since it claims it.
    equal = bench.equal() and report.get("in_sync", True)
    judged = rtt == TARGET_RTT_MS and target.seconds is not None
    return Measurement(
        command=name,
        rtt_ms=rtt,
        round_trips=counted.round_trips,
        bytes_to_railway=counted.bytes_to_server,
        bytes_from_railway=counted.bytes_to_client,
        connections=counted.connections,
        seconds=seconds,
        rows_written=report.get("rows_written", 0),
        content_equal=equal,
        target_round_trips=target.round_trips,
        target_seconds=target.seconds,
        round_trips_met=counted.round_trips <= target.round_trips,
        seconds_met=seconds <= target.seconds if judged and target.seconds else None,
    )


SET_UP_NOTE = (
    "Every row includes connection set-up, counted like the rest: Railway's stand-in takes "
    "the TCP handshake, an SSLRequest, a TLS handshake and SCRAM-SHA-256's exchanges, as "
    "Railway does, through the same link. Measured alone (the driver connecting once and "
    "closing, through the link):"
)
HRR_NOTE = (
    "The TLS handshake takes 2 round trips: libpq's ClientHello offers key shares for groups "
    "PostgreSQL up to 17 does not accept by default (ssl_ecdh_curve = prime256v1), so the "
    "server asks again (HelloRetryRequest); a server on PostgreSQL 18 (X25519 accepted) "
    "takes 1."
)
HEADER = (
    "| command | RTT | round trips | target | bytes to Railway | bytes from Railway "
    "| connections | wall time | target | content equal |"
)


def verdict(met: bool | None) -> str:
    return "" if met is None else (" met" if met else " not met")


def render_row(m: Measurement) -> str:
    seconds_target = (
        f"<= {m.target_seconds} s{verdict(m.seconds_met)}"
        if m.target_seconds is not None and m.seconds_met is not None
        else ""
    )
    return (
        f"| {m.command} | {m.rtt_ms} ms | {m.round_trips} "
        f"| <= {m.target_round_trips}{verdict(m.round_trips_met)} "
        f"| {m.bytes_to_railway:,} | {m.bytes_from_railway:,} | {m.connections} "
        f"| {m.seconds:.2f} s | {seconds_target} | {'yes' if m.content_equal else 'NO'} |"
    )


def render_set_up(s: SetUp) -> str:
    return (
        f"- connection set-up at {s.rtt_ms} ms: {s.round_trips} round trips ({s.breakdown()}), "
        f"{s.bytes_to_railway:,} bytes to Railway, {s.bytes_from_railway:,} from, "
        f"{s.seconds:.2f} s"
    )


def render(results: Results, animals: int) -> str:
    measurements = results.measurements
    lines = [
        f"railway_sync round trips to Railway: {animals} animals, through a loopback proxy "
        f"(RTT = twice its one-way delay), {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; Railway: {results.railway_server}",
        HEADER,
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    ordered = sorted(measurements, key=lambda m: [c[0] for c in COMMANDS].index(m.command))
    lines += [render_row(m) for m in ordered]
    if not any(m.rtt_ms == TARGET_RTT_MS for m in measurements):
        lines.append(f"(wall-time targets are judged at {TARGET_RTT_MS} ms only)")
    lines.append(SET_UP_NOTE)
    lines += [render_set_up(s) for s in results.set_ups]
    if any(s.tls_round_trips == 2 for s in results.set_ups):
        lines.append(HRR_NOTE)
    return "\n".join(lines)


def parse_rtts(text: str) -> list[int]:
    try:
        rtts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of milliseconds: {text!r}") from None
    if not rtts or any(rtt < 0 for rtt in rtts):
        raise argparse.ArgumentTypeError(f"not a list of milliseconds: {text!r}")
    return rtts


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--animals", type=int, default=2000, help="animals to generate")
    parser.add_argument(
        "--rtt",
        type=parse_rtts,
        default=[0, 50, TARGET_RTT_MS, 150],
        help="round-trip times in ms, comma-separated (default 0,50,100,150)",
    )
    parser.add_argument("--json", help="also write the measurements to this JSON file")
    args = parser.parse_args()
    print(HEADER, flush=True)  # rows follow as they are measured; the sorted table at the end
    results = run(args.animals, args.rtt)
    measurements = results.measurements
    print()
    print(render(results, args.animals))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(
                {
                    "animals": args.animals,
                    "rtt_ms": args.rtt,
                    "railway_server": results.railway_server,
                    "connection_set_up": [asdict(s) for s in results.set_ups],
                    "measurements": [asdict(m) for m in measurements],
                },
                out,
                indent=2,
            )
    return 0 if all(m.content_equal for m in measurements) else 1


if __name__ == "__main__":
    sys.exit(main())
