"""Entropy coding of latent grids with an autoregressive model (ARM) that every decoder
computes bit-identically.  No torch: the writer codes with constriction (as entropy.py does),
the reader decodes with the compiled loop of ``wavefront`` (C).

A latent grid is a 2-D array of integers.  Each latent is coded with a discrete Laplace whose
mean and scale a small ReLU MLP (the ARM) predicts from ``context`` causal neighbours in the
same grid (zero outside it) and, with ``channel`` inputs, the co-located latents of the grids
decoded before it at its level (``channel_sources``).  The encoder trains that MLP in floating point
(``sirencodec.latent.fit``); for coding, it runs here in **int64 fixed point**: weights are
integers on a ``2**-FRAC_BITS`` grid, every layer is ``floor(a @ W / 2**FRAC_BITS) + b``, and
the outputs select a row of a fixed table of probability rows built only from IEEE
multiplications, divisions and square roots of float32 constants (no ``exp``/``log``, whose
last bit may differ between machines).  So the decoder reproduces the encoder's models exactly
and the range coder round-trips on any machine.

Decoding order: a latent's context must be decoded before it, so latents go in *wavefronts*
``t = alpha * row + col`` (``alpha`` from the context: 3 for 8 neighbours, 4 for the default 16); every
latent of one wavefront depends only on earlier wavefronts (the encoder, which knows every
latent, predicts them all at once).  The encoder writes symbols in this order; the decoder
walks it one latent at a time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import constriction
import numpy as np

from ..errors import FormatError
from .entropy import Categorical, bytes_to_words, words_to_bytes

# Causal neighbours (row, column offsets) in the order the ARM reads them.
OFFSETS = ((0, -1), (-1, 0), (-1, -1), (-1, 1), (0, -2), (-2, 0), (-1, -2), (-1, 2),
           (-2, -1), (-2, 1), (-2, -2), (-2, 2), (0, -3), (-3, 0), (-1, -3), (-1, 3))
MAX_CONTEXT = len(OFFSETS)
MAX_CHANNEL = 3  # co-located latents of earlier grids at the same level an ARM may read

FRAC_BITS = 12  # fixed point of the integer ARM: value v is stored as v * 2**FRAC_BITS
ONE = 1 << FRAC_BITS
MAX_ARM_WIDTH = 32
MAX_ARM_LAYERS = 4
# Bounds that keep every int64 sum exact: |latent| <= MAX_LATENT, |weight integer| <= 2**27
# (16-bit integers at a step of at least 2**-FRAC_BITS), hidden activations clamped to
# [0, ACT_CLAMP]; 32 products of at most 2**30 * 2**27 stay below 2**62.
MAX_LATENT = 1 << 12
ACT_CLAMP = 1 << 30
MAX_REACH = 255  # |latent - predicted mean floor| a grid may reach (its alphabet is 2 * reach + 1)

# The scale table: row i is a discrete Laplace of scale b_i = exp((i + 0.5) / SCALE_STEPS +
# LOG_SCALE_MIN), parametrised by THETA[i] = exp(-1 / b_i) rounded to float32 once
# (``theta_table``) and stored below as bits.  b_0 = 0.0195: theta_0 = 5.3e-23 stays a
# normal float32.  The ARM's second output is ln(b) in fixed point.
SCALE_STEPS = 8
LOG_SCALE_MIN = -4.0  # ln(b) of the bottom of the table (b = 0.018)
SCALE_TABLE = 72  # b_71 = 140
MEAN_STEPS = 16  # the mean keeps MEAN_STEPS fractions of a unit above its floor
PROB_FLOOR = 2.0**-30  # every probability row entry is at least this (before normalising)
PRECISION_TOTAL = 1 << 24  # the range coder's probabilities are 24-bit integers


def theta_table() -> np.ndarray:
    """How THETA was made; THETA itself is the normative table (its bits are the format)."""
    i = np.arange(SCALE_TABLE, dtype=np.float64)
    b = np.exp((i + 0.5) / SCALE_STEPS + LOG_SCALE_MIN)
    return np.exp(-1.0 / b).astype(np.float32)


# The bits of theta_table() on the reference machine, so that no decoder depends on its exp.
THETA = np.array([
    0x1A8057CE, 0x1ECFBD7A, 0x22A59F2E, 0x260D5C94, 0x290B0340, 0x2BA80C07, 0x2E043606, 0x300E66C5,
    0x31DB8A4D, 0x337BF22E, 0x34DED290, 0x361C96FA, 0x3733AC48, 0x382C5C9F, 0x390D2E42, 0x39C92D6B,
    0x3A7D7A22, 0x3B0F40C4, 0x3B931F1B, 0x3C0AD739, 0x3C733464, 0x3CC76E0B, 0x3D1A4C8C, 0x3D62D2B4,
    0x3D9F569A, 0x3DD71890, 0x3E0C2728, 0x3E310C1E, 0x3E5998A7, 0x3E8283CA, 0x3E9940EF, 0x3EB09705,
    0x3EC81E6F, 0x3EDF795E, 0x3EF656CF, 0x3F0639FE, 0x3F10CE53, 0x3F1AD533, 0x3F2441B4, 0x3F2D0C6A,
    0x3F353285, 0x3F3CB4F3, 0x3F439790, 0x3F49E069, 0x3F4F9719, 0x3F54C443, 0x3F597124, 0x3F5DA735,
    0x3F616FEE, 0x3F64D48D, 0x3F67DDF5, 0x3F6A9496, 0x3F6D0057, 0x3F6F2895, 0x3F71141B, 0x3F72C927,
    0x3F744D6A, 0x3F75A612, 0x3F76D7CE, 0x3F77E6D9, 0x3F78D702, 0x3F79ABB4, 0x3F7A67FF, 0x3F7B0EA0,
    0x3F7BA209, 0x3F7C2468, 0x3F7C97AD, 0x3F7CFD92, 0x3F7D57A0, 0x3F7DA735, 0x3F7DED84, 0x3F7E2BA0,
], dtype=np.uint32).view(np.float32)


def wave_alpha(context: int) -> int:
    """Smallest alpha such that every neighbour of the context lies on an earlier wavefront
    ``alpha * row + col``."""
    alpha = 1
    for dy, dx in OFFSETS[:context]:
        if dy < 0:
            alpha = max(alpha, dx // -dy + 1)
    return alpha


@dataclass(frozen=True)
class IntegerArm:
    """The ARM in fixed point: per layer an int64 weight [out, in] and bias [out], already
    multiplied by ``ONE``.  The last layer has two outputs: the mean and ln(scale).  Its inputs
    are ``context`` spatial neighbours, then ``channel`` co-located latents of earlier grids."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    channel: int = 0

    @property
    def context(self) -> int:
        """The spatial neighbours it reads."""
        return int(self.weights[0].shape[1]) - self.channel

    def validate(self) -> None:
        if not 1 <= len(self.weights) <= MAX_ARM_LAYERS or len(self.biases) != len(self.weights):
            raise FormatError(f"ARM must have 1..{MAX_ARM_LAYERS} layers")
        if not 0 <= self.channel <= MAX_CHANNEL:
            raise FormatError(f"ARM channel inputs {self.channel} outside 0..{MAX_CHANNEL}")
        if not 1 <= self.context <= MAX_CONTEXT:
            raise FormatError(f"ARM context {self.context} outside 1..{MAX_CONTEXT}")
        prev = self.context + self.channel
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            last = i == len(self.weights) - 1
            if w.ndim != 2 or w.shape[1] != prev or b.shape != (w.shape[0],):
                raise FormatError("ARM layer shapes do not chain")
            if (last and w.shape[0] != 2) or (not last and not 1 <= w.shape[0] <= MAX_ARM_WIDTH):
                raise FormatError("ARM layer widths out of range")
            if np.abs(w).max(initial=0) > 1 << 27 or np.abs(b).max(initial=0) > 1 << 40:
                raise FormatError("ARM parameter out of range")
            prev = w.shape[0]

    def predict(self, ctx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(floor of the mean, its fraction in 1/MEAN_STEPS, scale-table row) of each latent
        from its context ``ctx`` (int [n, context + channel])."""
        a = np.asarray(ctx, dtype=np.int64) * ONE
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            a = ((a @ w.T) >> FRAC_BITS) + b
            if i < last:
                a = np.clip(a, 0, ACT_CLAMP)
        mean = np.clip(a[:, 0], -MAX_LATENT * ONE, MAX_LATENT * ONE)
        base = mean >> FRAC_BITS
        frac = ((mean - (base << FRAC_BITS)) * MEAN_STEPS) >> FRAC_BITS
        log_scale = np.clip(a[:, 1], -(1 << 40), 1 << 40)
        row = ((log_scale - int(LOG_SCALE_MIN * ONE)) * SCALE_STEPS) >> FRAC_BITS
        return base, frac, np.clip(row, 0, SCALE_TABLE - 1)


def contexts(grid: np.ndarray, context: int, channel: list[np.ndarray | None] = ()) -> np.ndarray:
    """int64 [h * w, context + len(channel)]: every latent's causal neighbours (zero outside the
    grid), then its co-located latent in each grid of ``channel`` (zero for None)."""
    h, w = grid.shape
    pad = 3
    gp = np.pad(np.asarray(grid, dtype=np.int64), ((pad, 0), (pad, pad)))
    columns = [gp[pad + dy: pad + dy + h, pad + dx: pad + dx + w].reshape(-1) for dy, dx in OFFSETS[:context]]
    columns += [np.zeros(h * w, np.int64) if g is None else np.asarray(g, np.int64).reshape(-1) for g in channel]
    return np.stack(columns, 1)


def channel_sources(levels, channel: int) -> np.ndarray:
    """int64 [L, channel]: for grid i (at level ``levels[i]``), the grids before it at its level,
    nearest first, -1 where there are fewer than ``channel`` of them."""
    out = np.full((len(levels), channel), -1, np.int64)
    for i, level in enumerate(levels):
        before = [j for j in range(i - 1, -1, -1) if levels[j] == level][:channel]
        out[i, :len(before)] = before
    return out


def wavefront_order(h: int, w: int, alpha: int) -> np.ndarray:
    """Flat indices of an h x w grid in decoding order: wavefront, then row."""
    r, c = np.divmod(np.arange(h * w, dtype=np.int64), w)
    return np.lexsort((r, alpha * r + c))


class _Rows:
    """Probability rows of one grid's alphabet ``d = -reach..reach`` (the latent minus the floor
    of its predicted mean) for every (scale row s, mean fraction f): the mass of a Laplace of
    scale b_s centred on ``(f + 0.5) / MEAN_STEPS`` over ``[d - 1/2, d + 1/2]``, floored at
    PROB_FLOOR.  Its CDF needs ``exp(-|x| / b_s) = THETA[s]^|x|`` only at multiples of 1/32, so
    every entry is a difference of powers of ``THETA[s]^(1/32)`` (five square roots, then
    sequential products): bit-identical on every IEEE machine."""

    def __init__(self, reach: int):
        rho = THETA.astype(np.float64)[:, None]
        for _ in range(5):
            rho = np.sqrt(rho)
        kmax = 32 * reach + 48  # |32 * (d -+ 1/2 - fraction)| <= 32 * reach + 47
        powers = np.multiply.accumulate(np.concatenate([np.ones_like(rho), np.repeat(rho, kmax, 1)], 1), 1)
        d = np.arange(-reach, reach + 1, dtype=np.int64)[None, :]
        f = np.arange(MEAN_STEPS, dtype=np.int64)[:, None]
        khi = 32 * d + 15 - 2 * f  # 32 * (d + 1/2 - mean fraction), [F, A]
        klo = khi - 32
        above = 0.5 * (powers[:, np.maximum(klo, 0)] - powers[:, np.maximum(khi, 0)])  # klo >= 0
        below = 0.5 * (powers[:, np.maximum(-khi, 0)] - powers[:, np.maximum(-klo, 0)])  # khi <= 0
        across = 1.0 - 0.5 * powers[:, np.maximum(-klo, 0)] - 0.5 * powers[:, np.maximum(khi, 0)]
        p = np.where(klo >= 0, above, np.where(khi <= 0, below, across))  # [S, F, A]
        self.table = np.maximum(p, PROB_FLOOR)

    def model(self, row: np.ndarray, frac: np.ndarray) -> np.ndarray:
        return self.table[row, frac]


# encode_latents' last results by content (grids, ARM, trim_tries): an encoder choosing the
# synthesis' bit widths packs the same latents under the same ARM many times over.
_LATENT_PAYLOADS: dict[bytes, tuple[bytes, list[int]]] = {}
_LATENT_PAYLOADS_KEPT = 4


def encode_latents(grids: list[np.ndarray], arm: IntegerArm, trim_tries: int = 3,
                   levels=None) -> tuple[bytes, list[int]]:
    """The latents payload (big-endian words, trailing bytes dropped while the zero-padded
    stream still decodes to the same grids; at most ``trim_tries`` of them) and each grid's reach.
    ``levels``: each grid's level (None: all different), for the ARM's channel inputs.
    Raises ValueError for latents the format cannot code. (A pure function of its arguments'
    contents; the last few results are kept.)"""
    levels = tuple(range(len(grids))) if levels is None else tuple(int(v) for v in levels)
    digest = hashlib.sha256(repr((trim_tries, levels, arm.channel, [np.shape(g) for g in grids],
                                  [(w.shape, b.shape) for w, b in zip(arm.weights, arm.biases)])).encode())
    for part in (*grids, *arm.weights, *arm.biases):
        digest.update(np.ascontiguousarray(part, dtype=np.int64).tobytes())
    key = digest.digest()
    if key not in _LATENT_PAYLOADS:
        if len(_LATENT_PAYLOADS) >= _LATENT_PAYLOADS_KEPT:
            _LATENT_PAYLOADS.pop(next(iter(_LATENT_PAYLOADS)))
        _LATENT_PAYLOADS[key] = _encode_latents(grids, arm, trim_tries, levels)
    payload, reaches = _LATENT_PAYLOADS[key]
    return payload, list(reaches)


def _encode_latents(grids: list[np.ndarray], arm: IntegerArm, trim_tries: int, levels) -> tuple[bytes, list[int]]:
    enc = constriction.stream.queue.RangeEncoder()
    reaches = encode_grids(grids, arm, enc, levels)
    payload = words_to_bytes(enc.get_compressed())
    shapes = [np.shape(g) for g in grids]
    for _ in range(trim_tries):
        if not payload:
            break
        try:
            back = decode_latents(payload[:-1], shapes, reaches, arm, levels=levels)
        except FormatError:
            break
        if not all(np.array_equal(a, b) for a, b in zip(back, grids)):
            break
        payload = payload[:-1]
    return payload, reaches


def decode_latents(payload: bytes, shapes: list[tuple[int, int]], reaches: list[int], arm: IntegerArm,
                   compiled: bool = True, levels=None) -> list[np.ndarray]:
    """Inverse of ``encode_latents``: every grid's latents from the payload; FormatError on a
    bad stream.  Decoded by the compiled loop of ``wavefront`` (C), or with ``compiled=False``
    -- and where the extension was not built -- by a numpy loop over the wavefronts that gives
    the same grids, slower."""
    if any(not 0 <= reach <= MAX_REACH for reach in reaches):
        raise FormatError(f"latent reach outside 0..{MAX_REACH}")
    sources = channel_sources(range(len(shapes)) if levels is None else levels, arm.channel)
    try:
        if not compiled:
            raise ImportError
        from . import wavefront
    except ImportError:
        return _decode_wavefronts(payload, shapes, reaches, arm, sources)
    tables: dict[int, np.ndarray] = {}
    for reach in reaches:
        if reach and reach not in tables:
            tables[reach] = cdf_tables(reach)
    status, grids = wavefront.decode_grids(
        bytes_to_words(payload), shapes, reaches, wave_alpha(arm.context),
        np.array(OFFSETS[:arm.context], dtype=np.int64), list(arm.weights), list(arm.biases),
        [tables.get(reach, _NO_TABLE) for reach in reaches], MAX_LATENT, sources)
    if status == wavefront.INVALID_STREAM:
        raise FormatError("entropy-coded latents are invalid (corrupt stream)")
    if status == wavefront.LATENT_RANGE:
        raise FormatError("latent out of range (corrupt stream)")
    return [g.copy() for g in grids]


def _decode_wavefronts(payload: bytes, shapes, reaches, arm: IntegerArm, sources: np.ndarray) -> list[np.ndarray]:
    """decode_latents without the compiled loop: one vectorised ARM step per wavefront, the symbols through
    constriction's RangeDecoder (the same coder as ``wavefront``'s)."""
    decoder = constriction.stream.queue.RangeDecoder(bytes_to_words(payload))
    alpha = wave_alpha(arm.context)
    pad = 3
    out, padded = [], []
    try:
        for i, ((h, w), reach) in enumerate(zip(shapes, reaches)):
            gp = np.zeros((h + pad, w + 2 * pad), dtype=np.int64)
            channel = [None if j < 0 else padded[j] for j in sources[i]]
            rows = _Rows(reach) if reach else None
            for t in range(alpha * (h - 1) + w):
                r = np.arange(max(0, -(-(t - w + 1) // alpha)), min(h - 1, t // alpha) + 1, dtype=np.int64)
                c = t - alpha * r
                ctx = np.stack([gp[pad + r + dy, pad + c + dx] for dy, dx in OFFSETS[:arm.context]]
                               + [np.zeros(r.size, np.int64) if g is None else g[pad + r, pad + c] for g in channel], 1)
                base, frac, row = arm.predict(ctx)
                values = base
                if reach:
                    symbols = decoder.decode(Categorical(perfect=False), rows.model(row, frac))
                    values = base + symbols.astype(np.int64) - reach
                if np.abs(values).max(initial=0) > MAX_LATENT:
                    raise FormatError("latent out of range (corrupt stream)")
                gp[pad + r, pad + c] = values
            padded.append(gp)
            out.append(gp[pad:, pad:pad + w].copy())
    except FormatError:
        raise
    except Exception as exc:  # constriction reports undecodable data with AssertionError/ValueError
        raise FormatError(f"entropy-coded latents are invalid ({type(exc).__name__})") from None
    return out


_NO_TABLE = np.zeros((0,), dtype=np.uint64)  # a grid of reach 0 codes no symbol


def cdf_tables(reach: int) -> np.ndarray:
    """uint64 [SCALE_TABLE * MEAN_STEPS, 2 * reach + 2]: the 24-bit cumulative table (format_spec.md
    section 6) of every probability row of a grid of this reach, row ``s * MEAN_STEPS + f``;
    what constriction's ``Categorical(p, perfect=False)`` builds from the same masses."""
    p = _Rows(reach).table.reshape(SCALE_TABLE * MEAN_STEPS, -1)
    k = p.shape[1]
    cum = np.zeros((p.shape[0], k + 1), dtype=np.float64)
    np.cumsum(p, axis=1, out=cum[:, 1:])  # sequential, left to right, as the spec's c_i
    scale = float(PRECISION_TOTAL - k) / cum[:, -1:]
    cdf = np.empty((p.shape[0], k + 1), dtype=np.uint64)
    cdf[:, :k] = (cum[:, :k] * scale).astype(np.uint64) + np.arange(k, dtype=np.uint64)
    cdf[:, k] = PRECISION_TOTAL
    return cdf


def encode_grids(grids: list[np.ndarray], arm: IntegerArm, encoder, levels=None) -> list[int]:
    """Append every grid's latents to ``encoder`` (a constriction RangeEncoder), grid after
    grid in wavefront order; returns each grid's reach (stored in the file). ``levels``: each
    grid's level (None: all different), for the ARM's channel inputs."""
    reaches = []
    alpha = wave_alpha(arm.context)
    sources = channel_sources(range(len(grids)) if levels is None else levels, arm.channel)
    for i, grid in enumerate(grids):
        grid = np.asarray(grid, dtype=np.int64)
        if grid.size == 0:
            reaches.append(0)
            continue
        if np.abs(grid).max() > MAX_LATENT:
            raise ValueError(f"latent beyond +-{MAX_LATENT}")
        base, frac, row = arm.predict(contexts(grid, arm.context, [None if j < 0 else grids[j] for j in sources[i]]))
        d = grid.reshape(-1) - base
        reach = int(np.abs(d).max())
        if reach > MAX_REACH:
            raise ValueError(f"latent {reach} away from its predicted mean (at most {MAX_REACH})")
        reaches.append(reach)
        if reach == 0:
            continue
        order = wavefront_order(*grid.shape, alpha)
        rows = _Rows(reach)
        for chunk in np.array_split(order, max(1, order.size // 8192)):
            encoder.encode((d[chunk] + reach).astype(np.int32), Categorical(perfect=False),
                           rows.model(row[chunk], frac[chunk]))
    return reaches


def arm_ideal_bits(grid: np.ndarray, arm: IntegerArm, channel: list[np.ndarray | None] = ()) -> float:
    """Ideal code length (bits) of one grid under the integer ARM (``channel``: the grids its
    channel inputs read, as ``contexts`` takes them): what the range coder spends, to within a
    few bytes per file."""
    grid = np.asarray(grid, dtype=np.int64)
    if grid.size == 0:
        return 0.0
    base, frac, row = arm.predict(contexts(grid, arm.context, list(channel) or [None] * arm.channel))
    d = grid.reshape(-1) - base
    reach = int(np.abs(d).max())
    if reach == 0:
        return 0.0
    table = _Rows(reach).table
    p = table[row, frac, d + reach] / table[row, frac].sum(axis=1)
    return float(-np.log2(p).sum())


def integer_arm(weights: list[np.ndarray], biases: list[np.ndarray], channel: int = 0) -> IntegerArm:
    """Round float ARM parameters to the fixed-point grid (the encoder's fallback when its
    weights are not already on it)."""
    return IntegerArm(tuple(np.round(np.asarray(w, np.float64) * ONE).astype(np.int64) for w in weights),
                      tuple(np.round(np.asarray(b, np.float64) * ONE).astype(np.int64) for b in biases), channel)

