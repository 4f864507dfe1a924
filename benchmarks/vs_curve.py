"""Single probe points against a run's sirencodec curve: dB above it at equal rate.

    .venv/bin/python benchmarks/vs_curve.py RUN_DIR PROBE.jsonl [PROBE.jsonl ...]

Each JSON line (``probe.py``'s output, or any line with ``image``, ``bytes``, ``bpp`` and
``psnr``) is compared with RUN_DIR's sirencodec points of the same image (the image is the
file's stem): the PSNR difference from the curve at the point's rate, and the rate difference
from the curve at the point's PSNR (negative: fewer bytes than the curve needs).  The curve is
piecewise linear in log-rate between neighbouring points and extended along its end segments;
since the real curve is concave there, a point between two levels is flattered by a few
hundredths of a dB.  One point decides nothing on its own: run-to-run spread is about 0.1 dB.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from compare_runs import curves  # noqa: E402


def _interp(x: float, xs: list[float], ys: list[float]) -> float:
    i = min(max(sum(1 for v in xs if v <= x) - 1, 0), len(xs) - 2)
    return ys[i] + (x - xs[i]) * (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])


def compare(point: dict, curve: list[tuple[float, float]]) -> tuple[float, float]:
    """(dB above the curve at the point's rate, % rate against the curve at its PSNR)."""
    pts = sorted(curve)
    xs, ys = [math.log(b) for b, _ in pts], [p for _, p in pts]
    x = math.log(point["bpp"])
    d_db = point["psnr"] - _interp(x, xs, ys)
    order = sorted(range(len(ys)), key=ys.__getitem__)
    x_needed = _interp(point["psnr"], [ys[i] for i in order], [xs[i] for i in order])
    return d_db, 100 * (math.exp(x - x_needed) - 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("probes", type=Path, nargs="+")
    args = parser.parse_args(argv)
    run = curves(args.run)
    for path in args.probes:
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            point = json.loads(line)
            image = Path(point["image"]).stem
            if len(run.get(image, [])) < 2:
                print(f"vs_curve: {image} has fewer than two points in {args.run}; skipped", file=sys.stderr)
                continue
            d_db, d_rate = compare(point, run[image])
            label = " ".join(point["overrides"]) if "overrides" in point else point.get("tag", "")
            print(f"{image:14s} {label:50s} {point['bytes']:6d} B {point['bpp']:.4f} bpp {point['psnr']:6.2f} dB"
                  f"  {d_db:+.2f} dB  {d_rate:+.1f} % rate")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
