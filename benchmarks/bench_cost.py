"""Decoding time against the decoding cost model (format_spec.md sections 7 and 10).

    .venv/bin/python benchmarks/bench_cost.py [--fraction F] [--runs N] [--out DIR]

For networks of many shapes -- SIRENs from 1 to 1024 wide, latent networks from the smallest
to the widest ARM, one grid to seventeen, narrow and wide alphabets -- builds a random file
whose decoding cost is about F x the cap (``limits.MAX_DECODE_COST``), decodes it (median of
N, in-process, after one warm-up) and records the cost's prediction (1 unit = 0.1 ns) beside
the measured time.  Writes ``cost.csv`` and ``cost.json`` (with the machine and the command)
under DIR.  The cap is right when even the costliest shape per unit decodes a file at the cap
within 5 s; the JSON's ``seconds_at_cap`` extrapolates each shape to it.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sirencodec  # noqa: E402
from sirencodec import limits  # noqa: E402
from sirencodec.format import latent_v4, siren_v3  # noqa: E402
from tests.netgen import random_latent_network, random_network  # noqa: E402

# (name, hidden width, hidden layers, channels)
SIRENS = [("siren-1x0", 1, 0, 3), ("siren-8x1", 8, 1, 1), ("siren-16x2", 16, 2, 3), ("siren-64x5", 64, 5, 3),
          ("siren-256x2", 256, 2, 3), ("siren-1024x3", 1024, 3, 3), ("siren-128x64", 128, 64, 1)]
# (name, channels, levels (None: all), synthesis widths, conv, context, ARM widths, latent spread, aspect)
LATENTS = [("latent-default", 3, 7, (16,), True, 8, (8, 8), 1.0, 1.5),
           ("latent-tiny", 1, 1, (), False, 1, (), 0.5, 1.0),
           ("latent-wide-arm", 3, 7, (16,), True, 16, (32, 32, 32), 1.0, 1.5),
           ("latent-wide-synthesis", 3, 7, (64, 64, 64), True, 8, (8, 8), 1.0, 1.5),
           ("latent-wide-alphabet", 1, 4, (8,), True, 8, (8,), 25.0, 1.0),
           ("latent-thin-all-grids", 3, None, (16,), True, 16, (32, 32, 32), 1.0, 4096.0)]


def siren_case(rng, width_px, height_px, f, n, c):
    net = random_network(rng, width=width_px, height=height_px, channels=c, hidden_width=f, hidden_layers=n,
                         bits=8, sparsity=0.3)
    return sirencodec.pack(net), siren_v3.decode_cost(width_px, height_px, f, n, c)


def latent_case(rng, width_px, height_px, c, levels, synth, conv, context, arm, spread):
    levels = latent_v4.max_levels(height_px, width_px) if levels is None else min(
        levels, latent_v4.max_levels(height_px, width_px))
    net = random_latent_network(rng, width=width_px, height=height_px, channels=c, levels=levels, synthesis=synth,
                                conv=conv, context=context, arm=arm, latent_scale=spread)
    for g in net.grids:  # keep the widest alphabets codable (|latent - predicted mean| <= 255)
        np.clip(g, -180, 180, out=g)
    data = sirencodec.pack(net)
    parsed = latent_v4.unpack(data)
    return data, parsed.network.decode_cost(levels, parsed.reaches)


def sized(build, target: float, aspect: float):
    """(data, cost, W, H) of the case scaled so its cost is about ``target``: one probe at a
    small size, then the size whose cost extrapolates to the target (costs are ~linear in pixels)."""
    w0 = max(4, int(round(math.sqrt(4096 * aspect))))
    h0 = max(1, int(round(4096 / w0)))
    _, probe = build(w0, h0)
    scale = math.sqrt(target / probe)
    w, h = max(1, int(w0 * scale)), max(1, int(h0 * scale))
    while w * h > limits.MAX_PIXELS or w > limits.MAX_DIMENSION:
        w, h = max(1, w * 9 // 10), max(1, h * 9 // 10)
    data, cost = build(w, h)
    return data, cost, w, h


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fraction", type=float, default=0.25, help="each file's cost as a fraction of the cap")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "docs/results/decode")
    args = parser.parse_args()
    target = args.fraction * limits.MAX_DECODE_COST
    rng = np.random.default_rng(0)
    rows = []
    cases = [(name, lambda w, h, f=f, n=n, c=c: siren_case(rng, w, h, f, n, c), 1.5) for name, f, n, c in SIRENS]
    cases += [(name, lambda w, h, a=a: latent_case(rng, w, h, *a), aspect)
              for name, *a, aspect in LATENTS]
    for name, build, aspect in cases:
        data, cost, w, h = sized(build, target, aspect)
        sirencodec.decode(data)  # warm-up (and the compiled decoder's first load)
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            sirencodec.decode(data)
            times.append(time.perf_counter() - t)
        seconds = statistics.median(times)
        row = {"case": name, "width": w, "height": h, "bytes": len(data), "cost": cost,
               "predicted_s": cost / 1e10, "seconds": round(seconds, 4),
               "ns_per_unit": round(seconds / cost * 1e9, 4),
               "seconds_at_cap": round(seconds * limits.MAX_DECODE_COST / cost, 2)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "cost.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = {"command": "python benchmarks/bench_cost.py " + " ".join(sys.argv[1:]),
               "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                           "omp_num_threads": os.environ.get("OMP_NUM_THREADS")},
               "cap": limits.MAX_DECODE_COST, "fraction": args.fraction, "runs": args.runs,
               "max_seconds_at_cap": max(r["seconds_at_cap"] for r in rows), "cases": rows}
    (args.out / "cost.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"slowest shape at the cap: {summary['max_seconds_at_cap']} s")


if __name__ == "__main__":
    main()
