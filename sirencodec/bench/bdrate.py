"""Bjøntegaard deltas between two rate-distortion curves.

Method (the piecewise-cubic successor of VCEG-M33, as in the ``bjontegaard`` package's
``pchip`` method and JVET-style reports):

* Each curve is a set of (rate, PSNR) points, rate in any positive unit (here bpp).
* **BD-rate** — interpolate log10(rate) as a function of PSNR with a monotone piecewise
  cubic Hermite interpolant (:class:`scipy.interpolate.PchipInterpolator`) for each curve,
  integrate both over the PSNR interval the two curves share, and turn the mean difference
  of log-rate into a percentage: ``(10 ** mean(log R_test - log R_anchor) - 1) * 100``.
  Negative means the test codec needs fewer bits for the same quality.
* **BD-PSNR** — the same with the roles swapped: PSNR interpolated as a function of
  log10(rate), integrated over the shared log-rate interval; the mean difference in dB.
  Positive means the test codec gives higher quality at the same rate.

Point selection rule (applied to each curve before interpolating): points with a
non-finite or non-positive rate or a non-finite PSNR (e.g. lossless, PSNR = inf) are
dropped; the rest are sorted by rate and reduced to their **Pareto front** — a point is
kept only if its PSNR is strictly higher than that of every point with a lower or equal
rate (so at equal rates only the best PSNR survives). What remains is strictly increasing
in both rate and PSNR, which both interpolations require. A sweep over several knobs
(e.g. bits x prune) is thereby compared through its best operating points. At least two
points must remain, and the two curves must overlap on the integration axis; otherwise
:class:`~sirencodec.errors.InputError` (a ``ValueError``) is raised.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from scipy.interpolate import PchipInterpolator

from sirencodec.errors import InputError

Curve = Sequence[tuple[float, float]]
"""An RD curve: (rate, psnr) pairs in any order."""


def pareto_front(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """The usable points of a curve under the module's selection rule, sorted by rate."""
    finite = [
        (float(r), float(p))
        for r, p in points
        if math.isfinite(r) and r > 0 and math.isfinite(p)
    ]
    # Ascending rate; at equal rate the best PSNR comes first so the others get dropped.
    finite.sort(key=lambda rp: (rp[0], -rp[1]))
    front: list[tuple[float, float]] = []
    for rate, psnr in finite:
        if not front or psnr > front[-1][1]:
            front.append((rate, psnr))
    return front


def _prepared(curve: Curve, name: str) -> tuple[np.ndarray, np.ndarray]:
    front = pareto_front(curve)
    if len(front) < 2:
        raise InputError(
            f"the {name} curve has {len(front)} usable point(s) after dropping dominated and "
            "non-finite ones; BD metrics need at least 2 - add sweep points"
        )
    rates, psnrs = (np.array(v, dtype=np.float64) for v in zip(*front))
    return np.log10(rates), psnrs


def _mean_difference(
    x_anchor: np.ndarray, y_anchor: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, axis: str,
    limits: tuple[float, float] | None = None,
) -> float:
    """Mean of (y_test - y_anchor) over the shared x interval (within ``limits``, if given),
    both y pchip-interpolated."""
    low = max(x_anchor.min(), x_test.min())
    high = min(x_anchor.max(), x_test.max())
    if limits is not None:
        low, high = max(low, limits[0]), min(high, limits[1])
    if not high > low:
        raise InputError(f"the two RD curves do not overlap in {axis}; BD metrics are undefined")
    anchor = PchipInterpolator(x_anchor, y_anchor).antiderivative()
    test = PchipInterpolator(x_test, y_test).antiderivative()
    area = (test(high) - test(low)) - (anchor(high) - anchor(low))
    return float(area / (high - low))


def bd_rate(anchor: Curve, test: Curve, rate_range: tuple[float, float] | None = None) -> float:
    """BD-rate of ``test`` relative to ``anchor`` in percent (negative: test saves bits).

    ``rate_range`` (lo, hi): only the part of the test curve between these rates counts —
    the PSNR interval is cut to the test curve's PSNR at ``lo`` and ``hi`` (pchip of PSNR
    over log-rate, never extrapolated)."""
    log_rate_a, psnr_a = _prepared(anchor, "anchor")
    log_rate_t, psnr_t = _prepared(test, "test")
    limits = None
    if rate_range is not None:
        lo, hi = np.clip(np.log10(_check_range(rate_range)), log_rate_t.min(), log_rate_t.max())
        psnr_at = PchipInterpolator(log_rate_t, psnr_t)
        limits = (float(psnr_at(lo)), float(psnr_at(hi)))
    mean_log_ratio = _mean_difference(psnr_a, log_rate_a, psnr_t, log_rate_t, "PSNR", limits)
    return (10.0**mean_log_ratio - 1.0) * 100.0


def bd_psnr(anchor: Curve, test: Curve, rate_range: tuple[float, float] | None = None) -> float:
    """BD-PSNR of ``test`` relative to ``anchor`` in dB (positive: test is better), over
    the shared rates (within ``rate_range``, if given)."""
    log_rate_a, psnr_a = _prepared(anchor, "anchor")
    log_rate_t, psnr_t = _prepared(test, "test")
    limits = None if rate_range is None else tuple(np.log10(_check_range(rate_range)))
    return _mean_difference(log_rate_a, psnr_a, log_rate_t, psnr_t, "rate", limits)


def parse_rate_range(text: str | None) -> tuple[float, float] | None:
    """``"0.4,1.6"`` -> (0.4, 1.6), the ``--bd-range`` option of srnbench and compare; None stays None."""
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"--bd-range must be LO,HI in bpp (e.g. 0.4,1.6), got {text!r}") from None
    if not 0 < lo < hi:
        raise InputError(f"--bd-range needs 0 < LO < HI, got {text!r}")
    return lo, hi


def _check_range(rate_range: tuple[float, float]) -> tuple[float, float]:
    lo, hi = (float(v) for v in rate_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
        raise InputError(f"a BD rate range needs 0 < lo < hi, got {rate_range}")
    return lo, hi
