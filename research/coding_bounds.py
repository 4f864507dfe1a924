"""How many bytes a better entropy model could save on a real file: ideal code lengths.

    .venv/bin/python research/coding_bounds.py FILE.srn [FILE.srn ...]

For each hidden layer of each file, the ideal cost (bytes, no side information) of its kept
integers under

* ``gauss``: one discretised Gaussian per tensor (what the format's Gaussian model costs);
* ``row`` / ``col`` / ``rowcol``: a Gaussian whose scale is an oracle per row, per column,
  or their product over the tensor's (an upper bound on per-row/column scales: the scales
  themselves would still have to be stored);
* ``gap``: the tensor Gaussian times (1 - exp(-(d/c)^2)), the best c (or none): pruning
  takes the smallest weights, so kept integers thin out near the zero point;
* ``empirical``: the integers' own symmetric histogram of |q - Z| (a bound no parametric
  model of this family beats, ignoring the histogram's cost);

and of its sparsity mask under one Bernoulli rate (the format), oracle per-row and
per-column rates.  Prints a table per file and the totals, and what per-row scales would
save net of storing them (``--side-bits`` each) against the bytes the file really spends on
those integers.  A lever that the bounds show to be worth a few bytes is not worth a format
change.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.stats import norm

from sirencodec.format import unpack
from sirencodec.decoder import inspect

GAP_SCALES = np.arange(0.5, 15.0, 0.25)


def gaussian_bits(v: np.ndarray, sigma: np.ndarray | float) -> float:
    """Ideal bits of integers ``v`` under discretised zero-mean Gaussians of scale ``sigma``."""
    s = np.maximum(sigma, 0.3)
    p = norm.cdf((v + 0.5) / s) - norm.cdf((v - 0.5) / s)
    return float(-np.log2(np.maximum(p, 1e-300)).sum())


def gap_bits(v: np.ndarray, sigma: float) -> float:
    """Ideal bits under the tensor Gaussian thinned near zero, for the best thinning scale."""
    span = int(np.abs(v).max()) + 1
    k = np.arange(-span, span + 1)
    base = norm.cdf((k + 0.5) / sigma) - norm.cdf((k - 0.5) / sigma)
    best = gaussian_bits(v, sigma)  # no thinning
    for c in GAP_SCALES:
        p = np.maximum(base * (1.0 - np.exp(-((k / c) ** 2))), 1e-12)
        best = min(best, float(-np.log2(p[v + span] / p.sum()).sum()))
    return best


def empirical_bits(v: np.ndarray) -> float:
    a = np.abs(v)
    counts = np.bincount(a)
    p = counts[a] / v.size / np.where(a == 0, 1, 2)
    return float(-np.log2(p).sum())


def entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def layer_bounds(q: np.ndarray, mask: np.ndarray, zero_point: int) -> dict:
    v_all = q.astype(np.int64) - zero_point
    v = v_all[mask]
    s = float(v.std()) if v.size > 1 else 1.0
    rows = np.array([v_all[r][mask[r]].std() if mask[r].sum() > 1 else s for r in range(q.shape[0])])
    cols = np.array([v_all[:, c][mask[:, c]].std() if mask[:, c].sum() > 1 else s for c in range(q.shape[1])])
    row_s = np.broadcast_to(rows[:, None], q.shape)[mask]
    col_s = np.broadcast_to(cols[None, :], q.shape)[mask]
    pruned = ~mask
    return {
        "kept": int(v.size),
        "gauss": gaussian_bits(v, s) / 8,
        "row": gaussian_bits(v, row_s) / 8,
        "col": gaussian_bits(v, col_s) / 8,
        "rowcol": gaussian_bits(v, row_s * col_s / s) / 8,
        "gap": gap_bits(v, s) / 8,
        "empirical": empirical_bits(v) / 8,
        "mask": float(entropy(np.array(pruned.mean())) * pruned.size) / 8,
        "mask_row": float((entropy(pruned.mean(1)) * q.shape[1]).sum()) / 8,
        "mask_col": float((entropy(pruned.mean(0)) * q.shape[0]).sum()) / 8,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--side-bits", type=float, default=4.0,
                        help="bits a stored per-row scale would cost (for the net saving line)")
    args = parser.parse_args(argv)
    keys = ("gauss", "row", "col", "rowcol", "gap", "empirical", "mask", "mask_row", "mask_col")
    for path in args.files:
        data = path.read_bytes()
        net = unpack(data).network
        print(f"{path}: {len(data)} bytes; ideal bytes of the hidden layers' kept integers and masks")
        print(f"{'layer':>5} {'kept':>6} " + " ".join(f"{k:>9}" for k in keys))
        total = dict.fromkeys(keys, 0.0)
        coded, side = 0.0, 0.0
        layer_bytes = inspect(data)["layers"]
        for i, layer in enumerate(net.layers[1:-1], 1):
            t = layer.weight
            b = layer_bounds(t.q, t.mask, t.zero_point)
            print(f"{i:>5} {b['kept']:>6} " + " ".join(f"{b[k]:>9.0f}" for k in keys))
            for k in keys:
                total[k] += b[k]
            coded += layer_bytes[i]["bytes"]["weights"]
            side += t.q.shape[0] * args.side_bits / 8
        print(f"{'all':>5} {'':>6} " + " ".join(f"{total[k]:>9.0f}" for k in keys))
        net_row = coded - total["row"] - side
        print(f"the file codes these integers in {coded:.0f} bytes; per-row scales at {args.side_bits:g} bits "
              f"each would save {net_row:.0f} ({100 * net_row / len(data):+.2f} % of the file)")
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
