"""Calibrate the SIREN rate control's size estimate (``sirencodec.siren.ratecontrol.FIT_BITS``)
from a sweep's real files.

    .venv/bin/python research/calibrate_estimate.py RUN_DIR

RUN_DIR is an ``srnbench`` run of ``--quality`` levels (settings ``quality=N``, with the
default ``quant_noise``).  For each level's network (the width and depth its rows record),
bisection finds the hidden-weight bits at which :func:`sirencodec.siren.ratecontrol.estimate_bytes`
equals the mean real file size over the run's images.  Prints the (log2 weights per pixel,
bits) pairs to paste into ``FIT_BITS``, and each image's file against the estimate that the
current table gives.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path

import numpy as np

from sirencodec.bench.run import read_results
from sirencodec.format.siren_v3 import count_weights
from sirencodec.siren import ratecontrol as rc
from sirencodec.siren.config import PRESETS


def level_files(run: Path) -> dict[tuple[int, int, int, int, int], list[int]]:
    """(quality, hidden width, hidden layers, image width, image height) -> file sizes."""
    out: dict[tuple[int, int, int, int, int], list[int]] = {}
    for row in read_results(run / "results.csv").values():
        if row["codec"] == "siren" and row.get("quality"):
            key = (int(row["quality"]), int(row["hidden_width"]), int(row["hidden_layers"]),
                   int(row["width"]), int(row["height"]))
            out.setdefault(key, []).append(int(row["bytes"]))
    return out


def level_config(quality: int, hidden_width: int):
    return dataclasses.replace(PRESETS["default"], **rc.shape_for(rc.QUALITY_BPP[quality - 1]),
                               hidden_width=hidden_width, layer_prune=None)


def fitted_bits(config, width: int, height: int, size: float) -> float:
    """Hidden-weight bits at which the estimate of ``config``'s file is ``size`` bytes."""
    lo, hi = rc.FIT_BITS_CLAMP
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        small = rc.estimate_bytes(config, width, height, 1, hidden_bits=mid) < size
        lo, hi = (mid, hi) if small else (lo, mid)
    return round(hi, 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    args = parser.parse_args(argv)
    levels = level_files(args.run)
    if not levels:
        print("calibrate_estimate: error: no quality-level sirencodec rows in the run", file=sys.stderr)
        return 2
    table = []
    for (q, hw, hl, w, h), sizes in sorted(levels.items()):
        config = level_config(q, hw)
        if config.hidden_layers != hl:
            print(f"calibrate_estimate: error: quality {q} has {hl} hidden layers, the planner {config.hidden_layers}",
                  file=sys.stderr)
            return 2
        x = round(math.log2(count_weights(hw, hl, 1) / (w * h)), 3)
        bits = fitted_bits(config, w, h, float(np.mean(sizes)))
        table.append((x, bits))
        now = rc.estimate_bytes(config, w, h, 1)
        spread = ", ".join(f"{s / now - 1:+.1%}" for s in sizes)
        print(f"quality {q}: {hw} x {hl}, mean file {np.mean(sizes):.0f} B, bits {bits}; "
              f"files against today's estimate ({now} B): {spread}")
    print("FIT_BITS =", tuple(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
