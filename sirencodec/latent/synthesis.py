"""The image a latent-grid file defines (format_spec.md section 10), in numpy: the decoder's
math.  Upsample integer latent grids to the pixel grid, then a small per-pixel ReLU network
and a residual 3 x 3 convolution give the pixels (Cool-chic, Ladune et al. ICCV 2023).  The
network description is ``sirencodec.format.latent_v4.LatentNetwork``; the encoder's torch model
(``sirencodec.latent.model``) builds its upsampling from the same matrices
(``upsample_matrix``), so both sides compute the same image up to float rounding.

Image definition, for an H x W image and L grids:

* grid l (0 = finest) is ceil(H / 2^l) x ceil(W / 2^l) integers;
* each grid is upsampled to H x W separably, ``U_rows @ grid @ U_cols.T``, with
  ``upsample_matrix`` (Keys' cubic convolution, a = -0.75, pixel centres aligned, edges
  clamped: what ``torch.nn.functional.interpolate(mode="bicubic", align_corners=False)`` does);
  or, with learned filters (version 6), by ``level`` successive x2 steps, the step from level s
  to s - 1 with filter s (``step_taps``): the rows by the steps composed into one set of taps
  (``learned_taps``), the columns by the steps one after another (``x2_steps``);
* the L upsampled values of a pixel go through the per-pixel layers (ReLU between them, none
  after the last, which has one output per channel), then ``out + conv3x3(out)`` (zero padding);
* pixel = clip(round(255 * out), 0, 255).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from ..format.latent_v4 import LatentNetwork
from ..limits import TILE_FLOATS

CUBIC_A = -0.75
X2_OFFSETS = np.array([1.75, 0.75, 0.25, 1.25])
"""Distances from an even output sample of a x2 step (at input coordinate i - 1/4) to its four
inputs i - 2 .. i + 1; the odd one (i + 1/4) reads i - 1 .. i + 2 with the taps reversed."""


def _cubic(t: np.ndarray) -> np.ndarray:
    t = np.abs(t)
    a = CUBIC_A
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def upsample_matrix(n_in: int, n_out: int) -> np.ndarray:
    """float64 [n_out, n_in]: row j holds the cubic weights of output sample j, whose centre
    maps to input coordinate (j + 1/2) * n_in / n_out - 1/2; taps beyond the edges are clamped
    onto the edge samples."""
    m = np.zeros((n_out, n_in), dtype=np.float64)
    idx, weights = upsample_taps(n_in, n_out)
    rows = np.arange(n_out)
    for k in range(4):
        np.add.at(m, (rows, idx[:, k]), weights[:, k])
    return m


@functools.lru_cache(maxsize=64)  # render asks again for every band of rows; callers must not modify
def upsample_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """The nonzero entries of ``upsample_matrix`` as 4 taps per output sample: (indices int
    [n_out, 4], weights float64 [n_out, 4]); applying them costs O(n_out), not O(n_in * n_out)."""
    if n_in == n_out:
        idx = np.repeat(np.arange(n_out)[:, None], 4, 1)
        return idx, np.concatenate([np.ones((n_out, 1)), np.zeros((n_out, 3))], 1)
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    base = np.floor(src).astype(np.int64)
    frac = src - base
    k = np.arange(-1, 3)
    return np.clip(base[:, None] + k, 0, n_in - 1), _cubic(frac[:, None] - k)


def cubic_x2() -> np.ndarray:
    """float64 [4]: Keys' cubic taps of a x2 step's even output sample (-9, 67, 225, -27) / 256."""
    return _cubic(X2_OFFSETS)


def upsampling_filters(net: LatentNetwork) -> np.ndarray | None:
    """float64 [P, 4]: a version 6 network's learned x2 filters, row s - 1 that of the step from
    level s to s - 1: Keys' taps plus the stored residuals (float32 values widened); None for a
    network upsampled by Keys' cubic convolution straight to the image."""
    if net.upsampling is None:
        return None
    return cubic_x2()[None, :] + net.upsampling.dequantize().astype(np.float64)


def step_taps(n_in: int, n_out: int, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A x2 step from ``n_in`` samples to ``n_out`` (2 n_in or 2 n_in - 1) with filter ``h``
    [4]: (indices int [n_out, 4], weights [n_out, 4]).  Output j = 2i reads inputs i - 2 .. i + 1
    with h[0 .. 3], output 2i + 1 reads i - 1 .. i + 2 with h[3 .. 0]; indices clamped to the edges."""
    j = np.arange(n_out)
    odd = j % 2
    idx = np.clip((j // 2 - 2 + odd)[:, None] + np.arange(4), 0, n_in - 1)
    return idx, np.where(odd[:, None] == 1, h[::-1][None, :], h[None, :])


def learned_taps(n: int, level: int, filters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``level`` x2 steps from a grid axis of ceil(n / 2^level) samples to ``n``, composed:
    (indices int [n, K], weights float64 [n, K]), output j the sum over k of weights[j, k] times
    input indices[j, k] (K consecutive inputs from the first; weights beyond an output's span are
    0).  Composed in float64 from the image outward: each output starts as weight 1 on itself;
    step s (1 .. level) turns its weights over level s - 1 into weights over level s, visiting
    the level s - 1 samples in increasing index and each one's four taps in order."""
    return learned_taps_levels(n, [level], filters)[level]


def learned_taps_levels(n: int, levels: Sequence[int], filters: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``learned_taps`` of each of ``levels`` (each >= 1), in one pass: level l's composition is
    the first l steps of every deeper level's, so each step is computed once."""
    out = {}
    sizes = [-(-n // 2**s) for s in range(max(levels) + 1)]
    start = np.arange(n)
    weights = np.ones((n, 1))
    rows = np.arange(n)
    for s in range(1, max(levels) + 1):
        idx, w = step_taps(sizes[s], sizes[s - 1], filters[s - 1])
        mids = np.minimum(start[:, None] + np.arange(weights.shape[1]), sizes[s - 1] - 1)  # [n, K]
        new_start = idx[mids[:, 0], 0]
        span = int((idx[mids[:, -1], 3] - new_start).max()) + 1
        new = np.zeros((n, span))
        for k in range(weights.shape[1]):
            for t in range(4):
                col = idx[mids[:, k], t] - new_start
                new[rows, col] += weights[:, k] * w[mids[:, k], t]
        start, weights = new_start, new
        if s in levels:
            out[s] = (np.minimum(start[:, None] + np.arange(weights.shape[1]), sizes[s] - 1), weights)
    return out


def x2_steps(x: np.ndarray, n: int, filters: np.ndarray) -> np.ndarray:
    """``x`` [..., m] (a grid at level len(filters) along its last axis, m = ceil(n / 2^level))
    through its x2 steps to n samples, one step after another (``step_taps``' formula, each
    step's input padded with two copies of its edge samples, which is the clamp): the values of
    ``learned_taps``' composed weights up to float rounding, each tap's term read from a
    contiguous slice rather than gathered."""
    for s in range(len(filters), 0, -1):
        h, m = filters[s - 1], x.shape[-1]
        pad = np.concatenate([x[..., :1], x[..., :1], x, x[..., -1:], x[..., -1:]], -1)  # pad[..., i + 2] = x[clamp(i)]
        y = np.empty(x.shape[:-1] + (2 * m,))
        even, odd = y[..., 0::2], y[..., 1::2]  # 2i reads i - 2 .. i + 1 with h[0 .. 3]; 2i + 1 i - 1 .. i + 2 with h[3 .. 0]
        np.multiply(pad[..., 0:m], h[0], out=even)
        np.multiply(pad[..., 1:m + 1], h[3], out=odd)
        for t in range(1, 4):
            even += pad[..., t:t + m] * h[t]
            odd += pad[..., 1 + t:1 + t + m] * h[3 - t]
        x = y[..., :-(-n // 2 ** (s - 1))]
    return x


def upsample(grid: np.ndarray, height: int, width: int, rows: slice = slice(None),
             taps: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None] | None = None) -> np.ndarray:
    """The grid upsampled to height x width (only the output ``rows``, when given): by Keys'
    cubic convolution, or by ``taps`` (rows', columns'; ``learned_taps``).  An axis whose size
    does not change is taken as is (its taps are 1, 0, 0, 0: the same values)."""
    g = np.asarray(grid)
    if g.shape[0] == height:
        t = g[rows].astype(np.float64)
    else:
        ri, rw = upsample_taps(g.shape[0], height) if taps is None else taps[0]
        ri, rw = ri[rows], rw[rows]
        t = _taps(lambda k: g[ri[:, k]], rw[:, None, :])  # [rows, w]; only these rows converted
    if g.shape[1] == width:
        return t
    ci, cw = upsample_taps(g.shape[1], width) if taps is None else taps[1]
    return _taps(lambda k: t[:, ci[:, k]], cw[None, :, :])  # [rows, W]


def upsample_learned(grid: np.ndarray, height: int, width: int, rows: slice, row_taps: tuple[np.ndarray, np.ndarray],
                     filters: np.ndarray) -> np.ndarray:
    """A level ``len(filters)`` grid upsampled by learned x2 steps to height x width (output
    ``rows`` only): the rows by their composed taps (``row_taps``, ``learned_taps``), then the
    columns step by step (``x2_steps``, cheaper than gathering the composed taps).  An axis whose
    size does not change is taken as is."""
    t = upsample(grid, height, np.shape(grid)[1], rows, (row_taps, None))  # the rows only
    return t if t.shape[1] == width else x2_steps(t, width, filters)


def _taps(take, weights: np.ndarray) -> np.ndarray:
    """sum over the taps k (in order) of weights[..., k] * take(k), in float64."""
    out = take(0) * weights[..., 0]
    for k in range(1, weights.shape[-1]):
        term = take(k) * weights[..., k]
        out += term
    return out


def synthesize(features: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]],
               conv: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """features float [L, H, W] -> float [C, H, W]: the per-pixel layers, then the residual
    3 x 3 convolution (``conv`` = (weights [C, C * 9], bias [C]), zero padding)."""
    n, h, w = features.shape
    a = features.reshape(n, h * w)
    for i, (weight, bias) in enumerate(layers):
        a = weight @ a
        a += bias[:, None]
        if i < len(layers) - 1:
            np.maximum(a, 0.0, out=a)
    out = a.reshape(-1, h, w)
    if conv is not None:
        k, b = conv
        c = out.shape[0]
        k = np.asarray(k).reshape(c, c, 3, 3)
        padded = np.pad(out, ((0, 0), (1, 1), (1, 1)))
        acc = np.broadcast_to(np.asarray(b, np.float64)[:, None, None], out.shape).copy()
        for dy in range(3):
            for dx in range(3):
                acc += np.tensordot(k[:, :, dy, dx], padded[:, dy: dy + h, dx: dx + w], axes=1)
        out = out + acc
    return out


def render(grids: list[np.ndarray], layers, conv, height: int, width: int,
           levels: tuple[int, ...] | None = None, filters: np.ndarray | None = None) -> np.ndarray:
    """uint8 [H, W] (one channel) or [H, W, C] of the latent-grid image, computed in bands of
    rows (each with one row of halo for the convolution) so that memory stays bounded.
    ``filters`` (with each grid's ``levels``): learned x2 filters, ``upsampling_filters``."""
    ups = [functools.partial(upsample, g, height, width) for g in grids]
    if filters is not None:
        deep = sorted({lv for lv in levels if lv > 0})
        row_taps = learned_taps_levels(height, deep, filters) if deep else {}
        ups = [functools.partial(upsample_learned, g, height, width, row_taps=row_taps[lv], filters=filters[:lv])
               if lv > 0 else up for g, lv, up in zip(grids, levels, ups)]
    channels = layers[-1][0].shape[0]
    widest = max([len(grids), channels] + [w.shape[0] for w, _ in layers])
    band = max(1, TILE_FLOATS // 8 // (widest * width) - 2)  # 2**19 float64 (4 MiB) per buffer: cache-friendlier than larger bands
    out = np.empty((channels, height, width), dtype=np.uint8)
    for top in range(0, height, band):
        lo, hi = max(0, top - 1), min(height, top + band + 1)
        features = np.stack([up(rows=slice(lo, hi)) for up in ups])
        # The halo rows lo and hi - 1 lack a neighbour here (unless at the image's edge): dropped.
        block = synthesize(features, layers, conv)[:, top - lo: top - lo + min(band, height - top)]
        out[:, top: top + band] = np.clip(np.round(255.0 * block), 0, 255)
    return out[0] if channels == 1 else np.moveaxis(out, 0, -1)


def render_network(net: LatentNetwork) -> np.ndarray:
    """uint8 [H, W] (gray) or [H, W, C] at the stored size."""
    layers = [(ly.weight.dequantize().astype(np.float64), ly.bias.astype(np.float64)) for ly in net.synthesis]
    conv = None
    if net.conv is not None:
        conv = (net.conv.weight.dequantize().astype(np.float64), net.conv.bias.astype(np.float64))
    return render(net.grids, layers, conv, net.height, net.width, net.grid_levels, upsampling_filters(net))
