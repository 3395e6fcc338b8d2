"""The verified rebuild against pgcopydb, in pairs: the aim of issue 24 judged by medians.

    python -m benchmarks.pairs --animals 200000 --pairs 5 [--reuse]

Builds the sync benchmark's databases (``benchmarks.sync``; ``--reuse`` keeps those a previous
run left), then ``--pairs`` times: empties Railway and runs ``pgcopydb copy table-data
--table-jobs 2`` into it (``Bench.pgcopydb``), empties it again and runs ``railway_sync --mode
rebuild --confirm-destructive`` (verification included), each in its own process and timed by
wall clock, the content of both databases compared after each (outside the timed part). One
whole benchmark run moves with the machine; pairs run back to back see the same machine. It
prints each pair and the median of the ratios; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import shutil
from statistics import median

from benchmarks.sync import Bench

AIM = 1.0  # issue 24: the verified rebuild no slower than pgcopydb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--animals", type=int, default=200_000, help="animals to generate")
    parser.add_argument("--pairs", type=int, default=5, help="pairs to run")
    parser.add_argument("--reuse", action="store_true", help="keep the databases of a last run")
    args = parser.parse_args()
    if shutil.which("pgcopydb") is None:
        print("pgcopydb is not installed: apt-get install pgcopydb")
        return 1
    bench = Bench(args.animals)
    if not args.reuse:
        bench.prepare()
    ratios = []
    for number in range(1, args.pairs + 1):
        peer = bench.pgcopydb()
        assert peer is not None  # installed, checked above
        rebuild = bench.verified_rebuild()
        ratios.append(rebuild.seconds / peer.seconds)
        equal = "yes" if peer.content_equal and rebuild.content_equal else "NO"
        print(
            f"pair {number}: pgcopydb {peer.seconds:.2f} s, verified rebuild "
            f"{rebuild.seconds:.2f} s, ratio {ratios[-1]:.3f}, content equal: {equal}",
            flush=True,
        )
        if equal != "yes":
            return 1
    print(
        f"verified rebuild / pgcopydb, median of {len(ratios)} pairs: {median(ratios):.3f} "
        f"(aim: <= {AIM:.2f}; {args.animals} animals)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
