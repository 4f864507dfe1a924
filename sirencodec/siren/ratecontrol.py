"""Rate control: ``--quality``, ``--target-bpp`` and ``--target-psnr``.

All three choose the network for the image instead of taking it from a preset:

* **Planning.**  A nominal rate (bits per pixel) fixes the depth, bit widths and pruning
  (:func:`shape_for`); the hidden width then follows from the byte budget
  ``bpp * pixels / 8`` through :func:`estimate_bytes`, which packs a *synthetic* network of
  that shape with the real writer (real header, masks, biases and entropy coder; integers
  drawn to match the measured ~7.5 coded bits per 8-bit weight).  The network's capacity
  therefore grows with the pixel count, so a quality level means about the same rate at any
  image size.
* **Quality** ``1..QUALITY_LEVELS``: one training run of the network planned for
  ``QUALITY_BPP[q - 1]``.  The file lands near, not at, that rate.
* **Target bpp**: the network is planned slightly above the budget, trained, and then
  *coarsened*: every layer's quantization step is multiplied by one factor (bisection on it,
  every candidate packed by the real writer) until the real file fits
  (:class:`Rescaler`), which guarantees ``bytes <= floor(bpp * pixels / 8)``.  Never above
  the target; the aim is within 5 % below it, and a network whose file falls below that
  band is trained again, larger.
* **Target PSNR**: bisection over the quality levels (one training run each) for the
  lowest level whose decoded file reaches the target, then coarsening while the *decoded*
  PSNR (real file, real decoder) stays at or above it; the level below it, which missed,
  is also refined (finer steps) until it passes, and the smaller of the two files wins.

Every size here is a real packed file and every PSNR a real decode: nothing is estimated
in what the user gets; :func:`estimate_bytes` only steers the search.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .. import limits
from ..decoder import decode
from ..device import resolve_device
from ..errors import InputError
from ..format import seeded
from ..format.siren_v3 import QuantizedNetwork, count_weights, decode_cost, layer_shapes, pack
from ..format.tensors import QuantizedLayer, QuantizedTensor
from ..imageio import channels, check_image
from ..limits import MIN_BITS
from ..metrics import psnr as psnr_db
from ..progress import Progress, prefixed
from ..ratecontrol import (
    QUALITY_LEVELS,
    TARGET_TOLERANCE,
    byte_budget,
    check_quality,
    check_target_bpp,
    check_target_psnr,
)
from ..result import EncodeResult
from .config import FitConfig
from .encode import check_network_fits, finish_siren
from .fit import fit_network, layer_bias_bits, layer_bias_dtypes, layer_bits, prune_targets
from .model import Siren
from .quant import export_network

# Nominal rates (bpp) of --quality 1..8, spanning the range where sirencodec is useful:
# below ~0.25 bpp the planned networks are too small to draw a recognisable image, above
# ~2 bpp training time, not bits, limits the PSNR.
QUALITY_BPP = (0.25, 0.35, 0.5, 0.7, 0.9, 1.2, 1.6, 2.2)

MIN_WIDTH, MAX_PLAN_WIDTH = 4, 512
PLAN_MARGIN = 0.04  # plan this much above a --target-bpp budget; coarsening removes it
RETRIES = 1  # --target-bpp trains again, larger, if the trained file fell below the band
# Factors on every layer's quantization step that Rescaler searches: coarser only, up to 3 bits
# fewer per weight (docs/results/CHANGELOG.md#siren-6).
RESCALE_RANGE = (1.0, 8.0)
# --target-psnr's refinement of the level below the chosen one: its step factors (docs/results/CHANGELOG.md#siren-7).
REFINE_STEP_RANGE = (0.5, 1.0)
RESCALE_ITERATIONS = 16  # bisection steps on log(factor)
# The synthetic network's hidden integers are drawn uniformly from a fraction of their 2**n
# levels such that they code as trained weights do: without bit allocation about 7.5 bits per
# kept 8-bit weight (docs/results/CHANGELOG.md#siren-2), with it (and no quant_noise) about 0.35 bits fewer
# (docs/results/CHANGELOG.md#siren-3).
LEVELS_USED = 0.7
ALLOCATED_LEVELS_USED = 0.55
# With quant_noise, precision follows how well the network fits: (log2 weights per pixel,
# hidden-weight bits) pairs fitted to real files by research/calibrate_estimate.py
# (docs/results/CHANGELOG.md#siren-6), interpolated linearly, extrapolated from the end segments, clamped to
# FIT_BITS_CLAMP; another share moves the bits by half the log2 of share / FIT_BITS_SHARE.
FIT_BITS = ((-4.371, 6.443), (-3.879, 6.672), (-3.329, 6.833),
            (-2.930, 7.087), (-2.524, 7.492), (-2.074, 7.901))
FIT_BITS_SHARE = 0.057
FIT_BITS_CLAMP = (4.0, 11.0)
# Bits that seeded residuals save on the first layer's weights and on the quantized biases
# (first layer, hidden layers) (docs/results/CHANGELOG.md#siren-4).
SEEDED_FIRST_BITS_SAVED = 2
SEEDED_BIAS_BITS_SAVED = (4, 2)


# --- planning ---------------------------------------------------------------------------


def shape_for(bpp: float) -> dict:
    """Depth, bit widths and pruning for a nominal rate (everything but the width)."""
    return {"hidden_layers": 3 if bpp < 0.45 else 4, "bits": 8, "first_bits": 12, "prune": 0.2}


def hidden_weight_bits(config: FitConfig, width: int, height: int, channels: int) -> float:
    """Bits per kept hidden-layer weight that the synthetic network of :func:`estimate_bytes`
    draws its integers with (uniform over ``2**bits`` levels): a calibration, not a bound."""
    if not config.allocate_bits:
        return config.bits + math.log2(LEVELS_USED)
    if config.quant_noise is None:
        return config.bits + math.log2(ALLOCATED_LEVELS_USED)
    per_pixel = count_weights(config.hidden_width, config.hidden_layers, channels) / (width * height)
    x = math.log2(per_pixel)
    i = min(max(np.searchsorted([p[0] for p in FIT_BITS], x) - 1, 0), len(FIT_BITS) - 2)
    (x0, y0), (x1, y1) = FIT_BITS[i], FIT_BITS[i + 1]
    bits = y0 + (x - x0) * (y1 - y0) / (x1 - x0) - 0.5 * math.log2(config.quant_noise / FIT_BITS_SHARE)
    return min(max(bits, FIT_BITS_CLAMP[0]), FIT_BITS_CLAMP[1])


def estimate_bytes(config: FitConfig, width: int, height: int, channels: int,
                   hidden_bits: float | None = None) -> int:
    """Size of a ``.srn`` file of ``config``'s network for a W x H image, by packing a
    synthetic network of that shape (exact header, masks, biases; integers whose coded
    cost matches trained weights).  ``hidden_bits`` overrides :func:`hidden_weight_bits`
    (what ``research/calibrate_estimate.py`` fits)."""
    shapes = layer_shapes(config.hidden_width, config.hidden_layers, channels)
    bits = layer_bits(config, len(shapes))
    dtypes = layer_bias_dtypes(config, len(shapes))
    bias_bits = layer_bias_bits(config, len(shapes))
    pruned = prune_targets(config, shapes)
    if hidden_bits is None:
        hidden_bits = hidden_weight_bits(config, width, height, channels)
    hidden_used = max(2, int(2 ** hidden_bits))
    rng = np.random.default_rng(12345)
    layers = []
    residual = config.seeded_residuals
    for i, ((out, inp), b, dt, bb, n_pruned) in enumerate(zip(shapes, bits, dtypes, bias_bits, pruned)):
        size = out * inp
        mask = np.ones(size, dtype=bool)
        mask[rng.choice(size, n_pruned, replace=False)] = False
        hidden = 0 < i < len(shapes) - 1
        offset = None
        if residual and i == 0:
            b, offset = b - SEEDED_FIRST_BITS_SAVED, seeded.first_weights((out, inp))
        used = 1 << b
        if hidden:
            used = hidden_used
            b = max(b, (used - 1).bit_length())
        q = rng.integers(0, used, size).astype(np.int32)
        q = np.where(mask, q, 0).reshape(out, inp)
        tensor = QuantizedTensor(q=q, mask=mask.reshape(out, inp), bits=b, scale=1.0 / (1 << b), zero_point=0,
                                 offset=offset)
        code = None
        if dt == "quantized":
            b_offset = None
            if residual:
                bb = max(MIN_BITS, bb - SEEDED_BIAS_BITS_SAVED[0 if i == 0 else 1])
                b_offset = seeded.biases(i, out, inp).reshape(1, -1)
            code = QuantizedTensor(q=rng.integers(0, 1 << bb, (1, out)).astype(np.int32),
                                   mask=np.ones((1, out), dtype=bool), bits=bb, scale=1.0 / (1 << bb), zero_point=0,
                                   offset=b_offset)
            bias = code.dequantize()[0]
        else:
            bias = rng.uniform(-0.5, 0.5, out).astype(np.float16 if dt == "float16" else np.float32).astype(np.float32)
        layers.append(QuantizedLayer(weight=tensor, bias=bias, bias_dtype=dt, bias_code=code))
    net = QuantizedNetwork(width=width, height=height, channels=channels, hidden_width=config.hidden_width,
                           hidden_layers=config.hidden_layers, omega0_first=config.omega0,
                           omega0_hidden=config.omega0, layers=layers)
    return len(pack(net))


def _widest_decodable(base: FitConfig, width: int, height: int, channels: int) -> int:
    """Largest hidden width (MIN_WIDTH..MAX_PLAN_WIDTH) whose file the decoder's cost limit
    admits at this image size (MIN_WIDTH if none does: the encoder then refuses the image)."""
    lo, hi = MIN_WIDTH, MAX_PLAN_WIDTH
    while lo < hi:  # the cost is increasing in the width
        mid = (lo + hi + 1) // 2
        if decode_cost(width, height, mid, base.hidden_layers, channels) <= limits.MAX_DECODE_COST:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _largest_width(base: FitConfig, budget: float, width: int, height: int, channels: int) -> int:
    """Largest hidden width whose estimated file is <= ``budget`` bytes and which the decoder's
    cost limit admits (MIN_WIDTH if none)."""
    lo, hi = MIN_WIDTH, _widest_decodable(base, width, height, channels)
    if estimate_bytes(dataclasses.replace(base, hidden_width=lo), width, height, channels) > budget:
        return lo
    while lo < hi:  # estimate is increasing in the width
        mid = (lo + hi + 1) // 2
        if estimate_bytes(dataclasses.replace(base, hidden_width=mid), width, height, channels) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def plan(base: FitConfig, bpp: float, width: int, height: int, channels: int, exact: bool = False,
         margin: float = PLAN_MARGIN) -> FitConfig:
    """``base`` with the network shape for ``bpp``.

    ``exact=False`` (quality levels): the largest width whose estimated file fits the
    budget.  ``exact=True`` (target bpp): the next width up, pruned a little more so the
    estimate lands ``margin`` above the budget, for trimming to bring down exactly."""
    config = dataclasses.replace(base, **shape_for(bpp), layer_prune=None)
    budget = bpp * width * height / 8
    w = _largest_width(config, budget * (1 + margin if exact else 1), width, height, channels)
    if not exact:
        return dataclasses.replace(config, hidden_width=w)
    w = min(w + 1, _widest_decodable(config, width, height, channels))
    config = dataclasses.replace(config, hidden_width=w)
    goal = budget * (1 + margin)
    lo, hi = config.prune, 0.6
    if estimate_bytes(config, width, height, channels) <= goal:
        return config
    for _ in range(12):  # bisection on the prune rate: estimate decreases with it
        mid = 0.5 * (lo + hi)
        if estimate_bytes(dataclasses.replace(config, prune=mid), width, height, channels) > goal:
            lo = mid
        else:
            hi = mid
    return dataclasses.replace(config, prune=round(lo, 4))  # just above the goal


# --- coarsening and trimming -------------------------------------------------------------


class Rescaler:
    """A trained, quantized model with every layer's weight quantization step multiplied by
    one factor, its weights re-rounded from the model's float (QAT) weights.

    Scaling all steps alike keeps the bit allocation's balance (a layer's step squared is
    inversely proportional to its sensitivity), so the network moves along its own
    rate-distortion curve, about one bit per weight fewer per doubling; the re-rounded network
    is used as it is, with no further training (docs/results/CHANGELOG.md#siren-6).
    ``network(f)`` leaves the model's steps at ``f``."""

    def __init__(self, model: Siren, width: int, height: int) -> None:
        if not model.quantized:
            raise ValueError("Rescaler needs a quantized model (the output of fit_network)")
        self.model, self.size = model, (width, height)
        self.steps = [float(model.q_scale[i]) if s is None else s for i, s in enumerate(model.steps)]

    def network(self, factor: float) -> QuantizedNetwork:
        """The network with every weight step times ``factor`` (1: as trained)."""
        self.model.set_steps([s * factor for s in self.steps])
        return export_network(self.model, *self.size)

    def _bisect(self, ok: Callable[[QuantizedNetwork], bool], passes_high: bool,
                bounds: tuple[float, float]) -> float:
        lo, hi = (math.log(f) for f in bounds)
        for _ in range(RESCALE_ITERATIONS):
            mid = 0.5 * (lo + hi)
            if ok(self.network(math.exp(mid))) == passes_high:
                hi = mid
            else:
                lo = mid
        return math.exp(hi if passes_high else lo)

    def smallest(self, ok: Callable[[QuantizedNetwork], bool]) -> float | None:
        """Smallest factor in RESCALE_RANGE whose network satisfies ``ok`` (assumed false
        below a point, true above: a size limit); None if even the largest fails."""
        lo, hi = RESCALE_RANGE
        if ok(self.network(lo)):
            return lo
        if not ok(self.network(hi)):
            return None
        return self._bisect(ok, True, (lo, hi))

    def largest(self, ok: Callable[[QuantizedNetwork], bool],
                bounds: tuple[float, float] | None = None) -> float | None:
        """Largest factor in ``bounds`` (default RESCALE_RANGE) whose network satisfies
        ``ok`` (assumed true up to a point: a PSNR floor); None if even the smallest fails."""
        lo, hi = RESCALE_RANGE if bounds is None else bounds
        if not ok(self.network(lo)):
            return None
        if ok(self.network(hi)):
            return hi
        return self._bisect(ok, False, (lo, hi))


class Trimmer:
    """Prunes the ``k`` hidden-layer weights nearest zero (fewest quantization steps
    from it) of a quantized network; ``k = 0`` is the network itself.  Counting in steps
    rather than values is right across layers with allocated steps: a layer's step squared
    is inversely proportional to its per-weight sensitivity, so k steps cost the same MSE
    in any layer."""

    def __init__(self, net: QuantizedNetwork):
        self.net = net
        keys, where = [], []
        for i, layer in enumerate(net.layers):
            if i == 0 or i == len(net.layers) - 1:
                continue  # the first layer (12 bits, 2 inputs) and the output layer stay whole
            t = layer.weight
            idx = np.flatnonzero(t.mask)
            keys.append(np.abs(t.q.reshape(-1)[idx].astype(np.int64) - t.zero_point))
            where.append(np.stack([np.full(idx.size, i), idx], axis=1))
        if keys:
            order = np.argsort(np.concatenate(keys), kind="stable")
            self.order = np.concatenate(where)[order]
        else:
            self.order = np.zeros((0, 2), dtype=np.int64)

    @property
    def candidates(self) -> int:
        return len(self.order)

    def network(self, k: int) -> QuantizedNetwork:
        """The network with the ``k`` first candidates pruned."""
        if k == 0:
            return self.net
        chosen = self.order[:k]
        layers = []
        for i, layer in enumerate(self.net.layers):
            idx = chosen[chosen[:, 0] == i, 1]
            if idx.size == 0:
                layers.append(layer)
                continue
            t = layer.weight
            mask = t.mask.copy().reshape(-1)
            q = t.q.copy().reshape(-1)
            mask[idx] = False
            q[idx] = t.zero_point
            tensor = dataclasses.replace(t, mask=mask.reshape(t.mask.shape), q=q.reshape(t.q.shape))
            layers.append(dataclasses.replace(layer, weight=tensor))
        return dataclasses.replace(self.net, layers=layers)

    def smallest_k(self, ok: Callable[[QuantizedNetwork], bool]) -> int | None:
        """Smallest k whose network satisfies ``ok`` (assumed monotone in k); None if none."""
        lo, hi = 0, self.candidates
        if not ok(self.network(hi)):
            return None
        while lo < hi:
            mid = (lo + hi) // 2
            if ok(self.network(mid)):
                hi = mid
            else:
                lo = mid + 1
        return lo

    def largest_k(self, ok: Callable[[QuantizedNetwork], bool]) -> int | None:
        """Largest k whose network satisfies ``ok`` (assumed true up to a point); None if k=0 fails."""
        if not ok(self.network(0)):
            return None
        lo, hi = 0, self.candidates
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if ok(self.network(mid)):
                lo = mid
            else:
                hi = mid - 1
        return lo


def _fits(max_bytes: int) -> Callable[[QuantizedNetwork], bool]:
    return lambda net: len(pack(net)) <= max_bytes


# --- the three modes ------------------------------------------------------------------------


@dataclass
class _Context:
    image: np.ndarray
    dev: torch.device
    start: float

    @property
    def dims(self) -> tuple[int, int, int]:
        h, w = self.image.shape[:2]
        return w, h, channels(self.image)


def _context(image: np.ndarray, device: str) -> _Context:
    return _Context(check_image(image), resolve_device(device), time.perf_counter())


def quality_config(base: FitConfig, quality: int, width: int, height: int, channels: int) -> FitConfig:
    """``base`` with the network of quality level ``quality`` (1..QUALITY_LEVELS) for this size."""
    return plan(base, QUALITY_BPP[check_quality(quality) - 1], width, height, channels)


def encode_quality(image: np.ndarray, quality: int, base: FitConfig, device: str = "auto",
                   progress: Progress | None = None) -> EncodeResult:
    """One training run of the network planned for quality level ``quality``."""
    ctx = _context(image, device)
    config = quality_config(base, quality, *ctx.dims)
    check_network_fits(ctx.image, config)
    fitted = fit_network(ctx.image, config, ctx.dev, progress)
    extra = {"rate_control": {"mode": "quality", "quality": quality, "nominal_bpp": QUALITY_BPP[quality - 1]}}
    return finish_siren(ctx.image, fitted.network, fitted.config, ctx.dev, ctx.start, fitted.stage_seconds,
                        fitted.restarts, extra)


def encode_target_bpp(image: np.ndarray, bpp: float, base: FitConfig, device: str = "auto",
                      progress: Progress | None = None) -> EncodeResult:
    """The best file this search finds with ``bytes * 8 / pixels <= bpp``, aiming within
    ``TARGET_TOLERANCE`` below."""
    bpp = check_target_bpp(bpp)
    ctx = _context(image, device)
    image = ctx.image
    w, h, c = ctx.dims
    max_bytes = byte_budget(bpp, w, h)
    config = plan(base, bpp, w, h, c, exact=True)
    check_network_fits(image, config)
    # The smallest file of this network (every hidden weight pruned) must fit, or no
    # amount of trimming can reach the target.
    floor_bytes = estimate_bytes(dataclasses.replace(config, hidden_width=MIN_WIDTH, prune=0.0), w, h, c)
    if floor_bytes > max_bytes:
        raise InputError(f"target {bpp:g} bpp ({max_bytes} bytes) is below the smallest file for a "
                         f"{w}x{h} image (about {8 * floor_bytes / (w * h):.3g} bpp)")

    lo_bytes = (1 - TARGET_TOLERANCE) * bpp * w * h / 8
    seconds: dict[str, float] = {}
    attempts = []
    for attempt in range(1 + RETRIES):
        fitted = fit_network(image, config, ctx.dev, prefixed(progress, f"try {attempt + 1}") if attempt else progress)
        for stage, s in fitted.stage_seconds.items():
            seconds[stage] = seconds.get(stage, 0.0) + s
        trained = len(pack(fitted.network))
        attempts.append({"width": config.hidden_width, "prune": config.prune, "trained_bytes": trained})
        if trained >= lo_bytes or attempt == RETRIES:
            break
        # The estimate was too high for this image: the trained file is already below the
        # tolerance band.  Plan again with the margin the shortfall asks for.
        margin = PLAN_MARGIN + (lo_bytes / trained - 1) * 1.5
        config = plan(base, bpp, w, h, c, exact=True, margin=margin)
        check_network_fits(image, config)
    info: dict = {"mode": "target_bpp", "target_bpp": bpp, "max_bytes": max_bytes, "attempts": attempts}
    t = time.perf_counter()
    rescaler = Rescaler(fitted.model, w, h)
    factor = rescaler.smallest(_fits(max_bytes))
    net = rescaler.network(RESCALE_RANGE[1] if factor is None else factor)
    info["step_factor"] = round(RESCALE_RANGE[1] if factor is None else factor, 4)
    if factor is None:
        # Even the coarsest steps leave the file too large (masks and biases dominate a
        # network this size): prune the hidden weights nearest zero until it fits.
        trimmer = Trimmer(net)
        k = trimmer.smallest_k(_fits(max_bytes))
        if k is None:
            raise InputError(f"cannot fit the network into {max_bytes} bytes even fully pruned")
        info["trimmed"] = k
        net = trimmer.network(k)
    seconds["rescale"] = time.perf_counter() - t
    result = finish_siren(image, net, fitted.config, ctx.dev, ctx.start, seconds, fitted.restarts,
                          {"rate_control": info})
    info["within_tolerance"] = result.report["bytes"] >= lo_bytes  # the file finish_siren() wrote
    return result


def encode_target_psnr(image: np.ndarray, target_psnr: float, base: FitConfig, device: str = "auto",
                       progress: Progress | None = None) -> EncodeResult:
    """The smallest file found whose decoded PSNR is >= ``target_psnr`` dB."""
    target_psnr = check_target_psnr(target_psnr)
    ctx = _context(image, device)
    image = ctx.image
    w, h, c = ctx.dims
    tried: dict[int, tuple[float, int]] = {}
    results = {}

    def attempt(q: int) -> bool:
        config = quality_config(base, q, w, h, c)
        check_network_fits(image, config)
        fitted = fit_network(image, config, ctx.dev, prefixed(progress, f"q{q}"))
        data = pack(fitted.network)
        value = psnr_db(image, decode(data))
        tried[q] = (round(value, 3), len(data))
        results[q] = fitted
        return value >= target_psnr

    # Bisection for the lowest passing level, assuming PSNR increases with the level.  The
    # highest (slowest) level is trained only if every level below it misses.
    lo, hi = 1, QUALITY_LEVELS
    while lo < hi:
        mid = (lo + hi) // 2
        if attempt(mid):
            hi = mid
        else:
            lo = mid + 1
    if lo not in tried and not attempt(lo):  # only the highest level can be untried here
        raise InputError(f"cannot reach {target_psnr:g} dB: the highest quality ({QUALITY_LEVELS}) "
                         f"decodes to {tried[lo][0]:.2f} dB")
    t = time.perf_counter()

    def good(net: QuantizedNetwork) -> bool:
        return psnr_db(image, decode(pack(net))) >= target_psnr

    # Candidates: the lowest passing level, coarsened while it passes; and the level below
    # it (which missed), refined until it passes, if REFINE_STEP_RANGE reaches that far.
    candidates = []
    for q, bounds in ((lo, RESCALE_RANGE), (lo - 1, REFINE_STEP_RANGE)):
        if q not in results:
            continue
        rescaler = Rescaler(results[q].model, w, h)
        factor = rescaler.largest(good, bounds)
        if factor is not None:
            net = rescaler.network(factor)
        elif q == lo:  # the trained file passed; keep it as it is
            factor, net = 1.0, results[q].network
        else:  # the level below misses even at its finest steps
            continue
        data = pack(net)
        candidates.append({"quality": q, "step_factor": round(factor, 4), "bytes": len(data),
                           "psnr": round(psnr_db(image, decode(data)), 3), "network": net})
    chosen = min(candidates, key=lambda cand: cand["bytes"])
    fitted = results[chosen["quality"]]
    info = {"mode": "target_psnr", "target_psnr": target_psnr, "quality": chosen["quality"],
            "tried": {str(q): {"psnr": p, "bytes": b} for q, (p, b) in sorted(tried.items())},
            "step_factor": chosen["step_factor"],
            "candidates": [{k: v for k, v in cand.items() if k != "network"} for cand in candidates]}
    seconds = {"search": t - ctx.start, "rescale": time.perf_counter() - t}
    return finish_siren(image, chosen["network"], fitted.config, ctx.dev, ctx.start, seconds, fitted.restarts,
                        {"rate_control": info})
