"""Rate control for latent-grid networks: ``--quality``, ``--target-bpp``, ``--target-psnr``.

A latent network's rate is set by one number, the rate weight ``lam`` of its training loss
MSE + lam * bpp (``fit``). So rate control here is control of ``lam``:

* **Quality** ``1..QUALITY_LEVELS``: a fixed ladder of ``lam``, halving from level to level
  (one training run). Halving ``lam`` raises both rate and PSNR, so the levels are monotone;
  what a level gives depends on the image (docs/rate-control.md).
* **Target bpp** (one training run, as a rule): ``lam`` is chosen at the first control point
  (``fit.CONTROL_START``, a tenth of the soft stage) and then held, since at a fixed
  ``lam`` the bytes there are within a few per cent of the trained file's, while moving ``lam``
  later moves the bytes little and costs PSNR. Training starts from a ``lam`` guessed from the
  ladder's typical rates; at the first point the rounded model is packed with the real writer
  (layer widths chosen by ``export.choose_bits``), and a start that misses ``START_AIM`` of
  the budget ``floor(bpp * pixels / 8)`` by more than ``START_TOLERANCE`` restarts at a ``lam``
  from the slope measured over the starts (``_secant_lam``). On a GPU, where a batch of
  networks trains about as fast as one, the first start is ``PARALLEL_STARTS`` networks
  side by side around the guess, and the one nearest the aim goes on alone. After training, a file short of
  the band ``[(1 - TARGET_TOLERANCE) * budget, budget]`` gets up to ``REFINE_ROUNDS`` short
  hard-stage refinements (they add bytes at any ``lam`` tried: ``REFINE_ADDS``), each
  from the trained network, and the largest file within the budget wins; one still short gains
  weight precision (``fill_budget``); one over the budget gives up weight precision until it
  fits (``fit_budget``, at most ``COARSEN_MAX_DB``); if nothing fits, training runs again (up
  to ``TRAININGS`` in all), the start's aim corrected by how far this image's file moved from
  its first point, at a ``lam`` no lower than the one the trained file's own bytes call for
  (``RATE_SLOPE``). Never above the budget: if nothing fits, an error.
* **Target PSNR** (one training run): a controller moves ``lam`` ``CONTROL_POINTS`` times
  during the soft stage, steering the PSNR the real decoder gets from the rounded model (at
  ``choose_bits``' widths, as the file will have), plus what a fixed-``lam`` training gains
  after that point (``PSNR_TO_COME``), towards the target plus ``PSNR_MARGIN``; after
  training, refinements at smaller ``lam`` lift a file that misses, then weights are coarsened
  while the decoded PSNR stays at or above the target (the smallest such file). An error if
  the target is out of the network's reach.

Every figure steering or checking these is a real packed file or a real decode.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from ..device import resolve_device
from ..errors import InputError
from ..format import latent_v4
from ..format.latent_v4 import LatentNetwork, grid_shapes
from ..metrics import mse
from ..metrics import psnr as psnr_db
from ..progress import Progress
from ..ratecontrol import (
    TARGET_TOLERANCE,
    byte_budget,
    check_quality,
    check_target_bpp,
    check_target_psnr,
)
from ..result import EncodeResult
from .config import LatentConfig, grid_levels
from .encode import finish_latent, latent_input
from .export import MIN_WEIGHT_BITS, choose_bits, export, quantized_layer
from .fit import LatentFit, fit_latent, fit_latent_batch, refine_latent
from .model import LOG_B_MIN
from .synthesis import render_network

# --quality 1..8: lam halves per level; level 5, the default, sits near 0.9 bpp and 34-35 dB on
# the bundled 256 x 256 gray images (docs/results/CHANGELOG.md#latent-2).
QUALITY_LAMS = (8e-3, 4e-3, 2e-3, 1e-3, 5e-4, 2.5e-4, 1.25e-4, 6.25e-5)

# The controllers' first guess, from the four-image curve (docs/results/CHANGELOG.md#latent-1):
# at lam 1e-3 a file of about REF_BPP and REF_PSNR; bpp ~ lam^-RATE_SLOPE, PSNR falls PSNR_SLOPE
# dB per e-fold of lam.
REF_LAM, REF_BPP, REF_PSNR = 1e-3, 0.64, 32.3
RATE_SLOPE = 0.49
PSNR_SLOPE = 2.5
# --target-psnr starts at its guess but at most at the ladder's largest lam: a lam far too
# large early zeroes latents for good (docs/results/CHANGELOG.md#latent-5).
PSNR_START_CAP = QUALITY_LAMS[0]

# --target-bpp chooses lam at the first control point (fit.CONTROL_START) and then holds it; a
# start whose packed bytes there miss START_AIM x POINT0_BYTES of the budget by more than
# START_TOLERANCE restarts at a lam from the slope measured over the starts, at most MAX_STARTS
# times; POINT0_BYTES is the bytes at that point over the trained file's
# (docs/results/CHANGELOG.md#latent-5).
START_AIM = 0.96
POINT0_BYTES = 1.02
START_TOLERANCE = 0.02
MAX_STARTS = 4
TRAININGS = 3  # whole trainings of --target-bpp when every file is over the budget (on small images
# the first-point bytes of the default network predict its trained file's loosely)
# Where a batch of networks costs about what one does (a GPU), the first start is PARALLEL_STARTS
# (by device type) starts trained side by side, at the guess and START_SPREAD either way; the
# one nearest the aim goes on, or the restart's secant has all of them to go by.
PARALLEL_STARTS = {"cuda": 3}
START_SPREAD = 2.0
START_SLOPE_RANGE = (0.2, 1.0)  # a measured -d ln(bytes) / d ln(lam) between starts is clamped to this
START_REACH = 16.0  # starts keep lam within this factor of the first one
AIM = 0.975  # refinements aim at this share of the budget
PSNR_MARGIN = 0.1  # --target-psnr's controller aims this many dB above the target ...
# ... for the trained file, which at a fixed lam gains this much PSNR after control point k
# (docs/results/CHANGELOG.md#latent-5).
PSNR_TO_COME = (2.2, 1.47, 1.07, 0.76, 0.61, 0.51, 0.45, 0.27, 0.22, 0.16, 0.14, 0.1, 0.09, 0.07, 0.07, 0.06, 0.05)
GAIN = 0.7  # share of the measured miss the controller corrects at each point
MAX_MOVE = 1.5  # ... moving lam by at most this factor (either way) at once
REFINE_ROUNDS = 3
REFINE_STEPS = 400  # hard-stage steps per refinement round (lr: the config's hard_lr)
# A refinement of the trained network (fresh Adam, REFINE_STEPS) at the trained lam adds about
# REFINE_ADDS of the bytes, and REFINE_RATE_SLOPE = -d ln(bytes) / d ln(lam) about it
# (docs/results/CHANGELOG.md#latent-5).
REFINE_ADDS = 0.045
REFINE_RATE_SLOPE = 0.025
REFINE_MOVE = 4.0  # --target-psnr's refinements move lam by this factor
REFINE_LAM_REACH = 16.0  # --target-bpp's refinements keep lam within this factor of the trained one
SLOPE_RANGE = (0.02, 0.5)  # a measured refinement slope is clamped to this (noise, wrong sign)
LAM_RANGE = (1e-6, 1.0)
MAX_FILL_BITS = 12  # fill_budget widens layers up to this
COARSEN_MAX_DB = 0.5  # fit_budget's most PSNR given up (docs/results/CHANGELOG.md#latent-4)


def quick_pack(net: LatentNetwork) -> bytes:
    """A valid file without the writer's trailing-byte trimming (a few bytes longer at most,
    several times faster): what the search packs. Sizes from it bound the real file's from
    above, so a network that fits the budget here fits it written; the chosen network is
    then written by ``latent_v4.pack`` itself."""
    return latent_v4.pack(net, trim_tries=0)


def quality_lam(quality: int) -> float:
    """The rate weight of quality level ``quality``."""
    return QUALITY_LAMS[check_quality(quality) - 1]


def _clamp_lam(lam: float) -> float:
    return min(max(lam, LAM_RANGE[0]), LAM_RANGE[1])


def _moved(lam: float, log_ratio: float, limit: float) -> float:
    """lam * exp(log_ratio), the move limited to a factor ``limit`` either way."""
    return _clamp_lam(lam * math.exp(max(-math.log(limit), min(math.log(limit), log_ratio))))


def encode_quality(image: np.ndarray, quality: int, base: LatentConfig | None = None, device: str = "auto",
                   progress: Progress | None = None) -> EncodeResult:
    """One training run at quality ``quality``'s lam (``base``'s other settings)."""
    from .encode import encode_latent

    base = LatentConfig() if base is None else base
    result = encode_latent(image, dataclasses.replace(base, lam=quality_lam(quality)), device, progress)
    result.report["quality"] = quality
    return result


class _Run:
    """One rate-controlled encode: the image, the device, the start time and the search's log."""

    def __init__(self, image: np.ndarray, base: LatentConfig | None, device: str, progress: Progress | None):
        self.base = LatentConfig() if base is None else base
        self.image = latent_input(image, self.base)
        self.height, self.width = self.image.shape[:2]
        self.dev = resolve_device(device)
        self.progress = progress
        self.start = time.perf_counter()
        self.log: list[dict] = []  # what the search tried, for the report

    def fit(self, lam: float, control) -> LatentFit:
        cfg = dataclasses.replace(self.base, lam=lam)
        return fit_latent(self.image, cfg, str(self.dev), self.progress, control=control)

    def fit_starts(self, lams: list[float], choose) -> LatentFit:
        """Networks at ``lams`` trained side by side until ``choose`` keeps one of them."""
        configs = [dataclasses.replace(self.base, lam=lam) for lam in lams]
        return fit_latent_batch([self.image] * len(lams), configs, str(self.dev), self.progress, choose=choose)[0]

    def refine(self, fitted: LatentFit, lam: float) -> LatentFit:
        return refine_latent(fitted, self.image, lam, REFINE_STEPS, self.base.hard_lr, str(self.dev))

    def psnr(self, net: LatentNetwork) -> float:
        return psnr_db(self.image, render_network(net))

    def finish(self, fitted: LatentFit, chosen: tuple, extra: dict) -> EncodeResult:
        return finish_latent(self.image, fitted, dataclasses.replace(self.base, lam=fitted.lam), self.dev,
                             self.start, chosen=chosen, extra={**extra, "search": self.log})


def encode_target_bpp(image: np.ndarray, bpp: float, base: LatentConfig | None = None, device: str = "auto",
                      progress: Progress | None = None) -> EncodeResult:
    """The file closest below ``bpp`` (real bytes) this search finds; an error if none fits."""
    bpp = check_target_bpp(bpp)
    run = _Run(image, base, device, progress)
    budget = byte_budget(bpp, run.width, run.height)
    empty = _empty_file_bytes(run)
    if empty > budget:
        raise InputError(f"--target-bpp {bpp:g} allows {budget} bytes; a latent network for this image takes "
                         f"at least about {empty} (every latent zero)")
    # quick_pack's sizes may exceed the written file's by TRIM_TRIES bytes: the band's
    # floor is raised by as much, so that the written file lands in it too
    low = math.ceil((1 - TARGET_TOLERANCE) * budget) + latent_v4.TRIM_TRIES

    class Restart(Exception):
        """A start whose bytes at the first control point missed the aim: train again."""

    def check_start(snapshot: LatentFit, lam: float, point: int) -> float:
        # At a fixed lam the bytes move a few per cent after the first control point, while a
        # lam moved later moves them little and costs PSNR: so lam is chosen at the first
        # point, by restarting, and then held.
        if point == 0:
            size = len(choose_bits(snapshot, run.image, lam, quick_pack)[2])
            starts.append((lam, size))
            run.log.append({"stage": "start", "lam": lam, "bytes": size})
            if may_restart and abs(math.log(size / start_aim)) > START_TOLERANCE:
                raise Restart
        return lam

    def choose_start(snapshots: list[LatentFit], lams: list[float]) -> list[int]:
        # parallel starts: the one nearest the aim goes on, if near enough
        sizes = []
        for snapshot, lam in zip(snapshots, lams):
            sizes.append(len(choose_bits(snapshot, run.image, lam, quick_pack)[2]))
            starts.append((lam, sizes[-1]))
            run.log.append({"stage": "start", "lam": lam, "bytes": sizes[-1], "parallel": len(lams)})
        best = min(range(len(sizes)), key=lambda k: abs(math.log(sizes[k] / start_aim)))
        if may_restart and abs(math.log(sizes[best] / start_aim)) > START_TOLERANCE:
            raise Restart
        return [best]

    starts: list[tuple[float, int]] = []  # (lam, bytes at the first control point)
    may_restart = True
    start_aim = START_AIM * POINT0_BYTES * budget
    guess = lam = _clamp_lam(REF_LAM * (REF_BPP / bpp) ** (1 / RATE_SLOPE))
    for attempt in range(TRAININGS):
        parallel = PARALLEL_STARTS.get(run.dev.type, 1) if attempt == 0 else 1
        for restart in range(MAX_STARTS):
            may_restart = restart < MAX_STARTS - 1
            try:
                if parallel > 1 and restart == 0:
                    spread = [START_SPREAD ** (k - (parallel - 1) / 2) for k in range(parallel)]
                    trained = run.fit_starts([_clamp_lam(lam * f) for f in spread], choose_start)
                else:
                    trained = run.fit(lam, check_start)
                break
            except Restart:
                lam = _secant_lam(starts, start_aim, RATE_SLOPE, START_SLOPE_RANGE, guess, START_REACH)
        chosen = choose_bits(trained, run.image, trained.lam, quick_pack)
        run.log.append({"stage": "trained", "lam": trained.lam, "bytes": len(chosen[2])})
        best = None  # the largest file within the budget so far: (fitted, chosen)
        trained_bytes = len(chosen[2])
        # Refinements add bytes: the trained point counts as a refinement at its own lam
        # that added REFINE_ADDS, so that the secant's slope is measured among like points.
        fitted, tried = trained, [(trained.lam, trained_bytes * (1 + REFINE_ADDS))]
        for round_ in range(REFINE_ROUNDS + 1):
            size = len(chosen[2])
            if size <= budget and (best is None or size > len(best[1][2])):
                best = fitted, chosen
            if low <= size <= budget or round_ == REFINE_ROUNDS or (round_ == 0 and size > budget):
                break  # in the band, out of rounds, or trained over the budget (refinements add bytes)
            # Every refinement starts from the trained network, at a lam from the rate's
            # slope measured so far (REFINE_RATE_SLOPE until two points exist).
            new = _secant_lam(tried, AIM * budget, REFINE_RATE_SLOPE, SLOPE_RANGE, trained.lam, REFINE_LAM_REACH)
            fitted = run.refine(trained, new)
            chosen = choose_bits(fitted, run.image, fitted.lam, quick_pack)
            tried.append((new, len(chosen[2])))
            run.log.append({"stage": "refine", "lam": fitted.lam, "bytes": len(chosen[2])})
        if (best is None or len(best[1][2]) < low) and len(chosen[2]) > budget:  # give up weight precision
            coarsened = fit_budget(fitted, run.image, budget, chosen)
            if coarsened is not None:
                run.log.append({"stage": "coarsen", "lam": fitted.lam, "bytes": len(coarsened[2])})
                if best is None or len(coarsened[2]) > len(best[1][2]):
                    best = fitted, coarsened
        if best is not None and len(best[1][2]) < low:  # below the band: spend the rest on precision
            best = best[0], fill_budget(best[0], run.image, low, budget, best[1])
            run.log.append({"stage": "fill", "lam": best[0].lam, "bytes": len(best[1][2])})
        if best is not None:
            return run.finish(best[0], best[1], {"target_bpp": bpp, "budget_bytes": budget})
        # Training once more, the first point's aim corrected by how far this image's trained
        # file moved from its first point's bytes.
        drift = trained_bytes / starts[-1][1] if starts else 1.0
        start_aim = START_AIM * budget / drift
        lam = _retrain_lam(starts, start_aim, trained.lam, trained_bytes, budget)
        run.log.append({"stage": "retrain", "lam": lam, "drift": round(drift, 4)})
    raise InputError(f"--target-bpp {bpp:g}: no latent network found within {budget} bytes "
                     f"(smallest tried: {min(e['bytes'] for e in run.log if 'bytes' in e)} bytes)")


def _retrain_lam(starts: list[tuple[float, float]], start_aim: float, trained_lam: float, trained_bytes: int,
                 budget: int) -> float:
    """The lam of a new training after every file was over the budget: the starts' secant
    towards ``start_aim``, but at least the lam that the trained file's own bytes call for at
    the typical rate slope (``bytes ~ lam ** -RATE_SLOPE``, aiming at ``AIM * budget``): the
    secant over noisy starts can point below the lam that was already too rich."""
    lam = _secant_lam(starts, start_aim, RATE_SLOPE, START_SLOPE_RANGE, trained_lam, START_REACH)
    return max(lam, _clamp_lam(trained_lam * (trained_bytes / (AIM * budget)) ** (1 / RATE_SLOPE)))


def _secant_lam(tried: list[tuple[float, float]], aim: float, slope: float, slope_range: tuple[float, float],
                center: float, reach: float) -> float:
    """The lam expected to give ``aim`` bytes: from the tried (lam, bytes) point nearest
    ``aim``, along the slope -d ln(bytes) / d ln(lam) measured between the two nearest
    (clamped to ``slope_range``; ``slope`` while only one point exists), within a factor
    ``reach`` of ``center`` either way."""
    ranked = sorted(tried, key=lambda t: abs(math.log(t[1] / aim)))
    lam0, size0 = ranked[0]
    if len(ranked) > 1:
        lam1, size1 = ranked[1]
        if lam1 != lam0 and size1 != size0:
            slope = min(max(-math.log(size1 / size0) / math.log(lam1 / lam0), slope_range[0]), slope_range[1])
    new = lam0 * math.exp(math.log(size0 / aim) / slope)
    return _clamp_lam(min(max(new, center / reach), center * reach))


def _empty_file_bytes(run: _Run) -> int:
    """The file of a network whose latents are all zero and whose ARM predicts them at its
    smallest scale, the synthesis at 2 bits: about the least any latent network for this
    image costs (budgets below it are refused before training)."""
    cfg, channels = run.base, 1 if run.image.ndim == 2 else run.image.shape[2]
    levels = grid_levels(run.height, run.width, cfg)

    def zero_layers(dims: list[int], bits: int, pow2: bool, last_bias=None) -> list:
        return [quantized_layer(np.zeros((o, i)), np.zeros(o) if last_bias is None or k < len(dims) - 2 else last_bias,
                       bits, pow2) for k, (i, o) in enumerate(zip(dims, dims[1:]))]

    net = LatentNetwork(run.width, run.height, channels,
                        [np.zeros(s, np.int64) for s in grid_shapes(run.height, run.width, levels)],
                        zero_layers([len(levels), *cfg.hidden, channels], 2, False),
                        zero_layers([9 * channels, channels], 2, False)[0] if cfg.conv else None,
                        zero_layers([cfg.context, *cfg.arm_hidden, 2], 8, True, np.array([0.0, LOG_B_MIN])), levels)
    return len(quick_pack(net))


def _one_bit_moves(fitted: LatentFit, widths: list[int], step: int, limit: int):
    """Every ``widths`` with one layer's width moved by ``step`` (not past ``limit``), as
    (widths, network, quick_pack bytes)."""
    for i, b in enumerate(widths):
        if (b + step - limit) * step <= 0:
            trial = widths[:i] + [b + step] + widths[i + 1:]
            net = export(fitted, trial)
            yield trial, net, quick_pack(net)


def fit_budget(fitted: LatentFit, image: np.ndarray, budget: int, chosen: tuple,
               max_loss_db: float = COARSEN_MAX_DB) -> tuple | None:
    """Coarsen layer widths, one bit at a time where it costs the least distortion per byte
    saved, until the file fits ``budget`` bytes; None if that costs more than ``max_loss_db``
    of PSNR, or if even 2-bit layers do not fit. (Weights are a small share of the file: at
    full size, squeezing a few per cent out of them left a 6 dB image.)"""
    widths, net, data = chosen
    current = _mse(net, image)
    worst = max(current, 1e-12) * 10 ** (max_loss_db / 10)
    while len(data) > budget:
        best = None
        for trial, trial_net, trial_data in _one_bit_moves(fitted, widths, -1, MIN_WEIGHT_BITS):
            saved = len(data) - len(trial_data)
            if saved > 0:
                m = _mse(trial_net, image)
                if best is None or (m - current) / saved < best[0]:
                    best = ((m - current) / saved, trial, trial_net, trial_data, m)
        if best is None or best[4] > worst:
            return None
        _, widths, net, data, current = best
    return widths, net, data


def fill_budget(fitted: LatentFit, image: np.ndarray, low: int, budget: int, chosen: tuple) -> tuple:
    """Widen layers, one bit at a time where it removes the most distortion per byte added,
    while the file stays within ``budget`` and until it reaches ``low`` bytes: a file short of
    the band spends the rest on weight precision (small PSNR gains, but the budget is the
    user's)."""
    widths, net, data = chosen
    current = _mse(net, image)
    while len(data) < low:
        best = None
        for trial, trial_net, trial_data in _one_bit_moves(fitted, widths, +1, MAX_FILL_BITS):
            added = len(trial_data) - len(data)
            if 0 < added <= budget - len(data):
                m = _mse(trial_net, image)
                if best is None or (current - m) / added > best[0]:
                    best = ((current - m) / added, trial, trial_net, trial_data, m)
        if best is None:
            break
        _, widths, net, data, current = best
    return widths, net, data


def _mse(net: LatentNetwork, image: np.ndarray) -> float:
    return mse(image, render_network(net))


def encode_target_psnr(image: np.ndarray, target: float, base: LatentConfig | None = None, device: str = "auto",
                       progress: Progress | None = None) -> EncodeResult:
    """The smallest file this search finds whose decoded PSNR is at least ``target`` dB."""
    target = check_target_psnr(target)
    run = _Run(image, base, device, progress)

    def control(snapshot: LatentFit, lam: float, point: int) -> float:
        # the PSNR at the widths the file would get (docs/results/CHANGELOG.md#latent-5)
        got = run.psnr(choose_bits(snapshot, run.image, lam, quick_pack)[1])
        expected = got + PSNR_TO_COME[min(point, len(PSNR_TO_COME) - 1)]
        new = _moved(lam, GAIN * (expected - target - PSNR_MARGIN) / PSNR_SLOPE, MAX_MOVE)
        run.log.append({"stage": "control", "lam": lam, "psnr": round(got, 3), "expected": round(expected, 3),
                        "next_lam": new})
        return new

    lam = _clamp_lam(min(REF_LAM * math.exp(-(target + PSNR_MARGIN - REF_PSNR) / PSNR_SLOPE), PSNR_START_CAP))
    fitted = run.fit(lam, control)
    chosen = choose_bits(fitted, run.image, fitted.lam, quick_pack)
    got = run.psnr(chosen[1])
    run.log.append({"stage": "trained", "lam": fitted.lam, "bytes": len(chosen[2]), "psnr": round(got, 3)})
    for _ in range(REFINE_ROUNDS):
        if got >= target:
            break
        fitted = run.refine(fitted, _clamp_lam(fitted.lam / REFINE_MOVE))
        chosen = choose_bits(fitted, run.image, fitted.lam, quick_pack)
        got = run.psnr(chosen[1])
        run.log.append({"stage": "refine", "lam": fitted.lam, "bytes": len(chosen[2]), "psnr": round(got, 3)})
    if got < target:
        raise InputError(f"--target-psnr {target:g}: the latent network reached {got:.2f} dB at most "
                         f"(lam {fitted.lam:.3g}); try a lower target")
    chosen = _coarsen_above(fitted, run, target, chosen)
    return run.finish(fitted, chosen, {"target_psnr": target})


def _coarsen_above(fitted: LatentFit, run: _Run, target: float, chosen: tuple) -> tuple:
    """Drop layer widths one bit at a time (the largest byte saving first) while the decoded
    PSNR stays at or above ``target``."""
    widths, net, data = chosen
    improved = True
    while improved:
        improved = False
        trials = sorted(_one_bit_moves(fitted, widths, -1, MIN_WEIGHT_BITS), key=lambda t: len(t[2]))
        for trial, trial_net, trial_data in trials:
            if len(trial_data) < len(data) and run.psnr(trial_net) >= target:
                widths, net, data = trial, trial_net, trial_data
                improved = True
                break
    return widths, net, data
