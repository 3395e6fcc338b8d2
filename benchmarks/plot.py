"""Draw the benchmark's ratios by scale as an SVG for the docs' performance page.

    python -m benchmarks.sync --animals 10000 --json benchmark-results-10000.json   # per scale
    python -m benchmarks.plot benchmark-results-*.json --out docs/performance/ratios.svg

Each results file is one run of ``benchmarks.sync`` at one scale; the plot has one line per
step, its ratio to that run's ``pg_dump --data-only | psql`` baseline against the number of
animals, both axes logarithmic, and each step's target as a tick at the right edge. Plain
SVG, written by hand: no plotting library, nothing fetched when the page is shown.
"""

from __future__ import annotations

import argparse
import json
import math
from html import escape
from pathlib import Path

WIDTH, HEIGHT = 760, 440
LEFT, RIGHT, TOP, BOTTOM = 64, 300, 48, 40
# Colours that stay apart for the common kinds of colour blindness (Okabe and Ito).
COLOURS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"]


def load(paths: list[Path]) -> tuple[list[int], dict[str, dict[int, float]], dict[str, float]]:
    """(the scales, step -> scale -> ratio, step -> target) from the results files."""
    ratios: dict[str, dict[int, float]] = {}
    targets: dict[str, float] = {}
    scales = set()
    for path in paths:
        run = json.loads(path.read_text())
        scales.add(run["animals"])
        for step in run["steps"]:
            if "baseline" in step["name"] or step["ratio"] <= 0:
                continue
            ratios.setdefault(step["name"], {})[run["animals"]] = step["ratio"]
            if step.get("target"):
                targets[step["name"]] = step["target"]
    return sorted(scales), ratios, targets


def _ticks(low: float, high: float) -> list[float]:
    """1, 2 and 5 times the powers of ten between ``low`` and ``high``."""
    ticks = []
    for power in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for factor in (1, 2, 5):
            value = factor * 10.0**power
            if low <= value <= high:
                ticks.append(value)
    return ticks


def _label(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:g}x" if value >= 0.01 else f"{value:.3f}x"


def draw(scales: list[int], ratios: dict[str, dict[int, float]], targets: dict[str, float]) -> str:
    values = [r for by_scale in ratios.values() for r in by_scale.values()] + list(targets.values())
    low, high = min(values) / 1.3, max(values) * 1.3
    x_low, x_high = scales[0] / 1.5, scales[-1] * 1.5
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(scale: float) -> float:
        return LEFT + plot_w * math.log(scale / x_low) / math.log(x_high / x_low)

    def y(ratio: float) -> float:
        return TOP + plot_h * (1 - math.log(ratio / low) / math.log(high / low))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
        f'<text x="{LEFT}" y="18" font-size="14" font-weight="bold">'
        "Time of each step / pg_dump | psql of the same data, by scale</text>",
        f'<text x="{LEFT}" y="35" font-size="11" fill="#555">Both axes logarithmic; the '
        "ticks at the right edge are the targets, set for 1,000,000 animals.</text>",
    ]
    for tick in _ticks(low, high):
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            'stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{_label(tick)}</text>'
        )
    for scale in scales:
        parts.append(
            f'<line x1="{x(scale):.1f}" x2="{x(scale):.1f}" y1="{TOP}" y2="{TOP + plot_h}" '
            'stroke="#eee"/>'
            f'<text x="{x(scale):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">'
            f"{_label(scale)}</text>"
        )
    parts.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 4}" text-anchor="middle">animals</text>'
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#888"/>'
    )
    for index, (name, by_scale) in enumerate(ratios.items()):
        colour = COLOURS[index % len(COLOURS)]
        points = " ".join(f"{x(s):.1f},{y(r):.1f}" for s, r in sorted(by_scale.items()))
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        for scale, ratio in sorted(by_scale.items()):
            parts.append(
                f'<circle cx="{x(scale):.1f}" cy="{y(ratio):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(name)}: {ratio:.3f}x at {scale:,} animals</title></circle>"
            )
        if name in targets:
            parts.append(
                f'<line x1="{LEFT + plot_w - 10}" x2="{LEFT + plot_w}" y1="{y(targets[name]):.1f}" '
                f'y2="{y(targets[name]):.1f}" stroke="{colour}" stroke-width="3"/>'
            )
        legend_y = TOP + 8 + index * 34
        target = f" (target <= {targets[name]:g}x)" if name in targets else ""
        parts.append(
            f'<line x1="{WIDTH - RIGHT + 16}" x2="{WIDTH - RIGHT + 36}" y1="{legend_y}" '
            f'y2="{legend_y}" stroke="{colour}" stroke-width="2"/>'
            f'<text x="{WIDTH - RIGHT + 42}" y="{legend_y + 4}">{escape(name)}</text>'
            f'<text x="{WIDTH - RIGHT + 42}" y="{legend_y + 18}" fill="#555">'
            f"{escape(target.strip())}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="benchmarks.sync --json files")
    parser.add_argument("--out", type=Path, default=Path("docs/performance/ratios.svg"))
    args = parser.parse_args()
    scales, ratios, targets = load(args.results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(draw(scales, ratios, targets))
    print(f"wrote {args.out} ({len(ratios)} steps at {len(scales)} scales)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
