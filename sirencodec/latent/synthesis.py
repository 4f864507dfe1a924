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
* the L upsampled values of a pixel go through the per-pixel layers (ReLU between them, none
  after the last, which has one output per channel), then ``out + conv3x3(out)`` (zero padding);
* pixel = clip(round(255 * out), 0, 255).
"""

from __future__ import annotations

import functools

import numpy as np

from ..format.latent_v4 import LatentNetwork
from ..limits import TILE_FLOATS

CUBIC_A = -0.75


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


def upsample(grid: np.ndarray, height: int, width: int, rows: slice = slice(None)) -> np.ndarray:
    """The grid upsampled to height x width (only the output ``rows``, when given).  An axis
    whose size does not change is taken as is (its taps are 1, 0, 0, 0: the same values)."""
    g = np.asarray(grid)
    if g.shape[0] == height:
        t = g[rows].astype(np.float64)
    else:
        ri, rw = upsample_taps(g.shape[0], height)
        ri, rw = ri[rows], rw[rows]
        t = _taps(lambda k: g[ri[:, k]], rw[:, None, :])  # [rows, w]; only these rows converted
    if g.shape[1] == width:
        return t
    ci, cw = upsample_taps(g.shape[1], width)
    return _taps(lambda k: t[:, ci[:, k]], cw[None, :, :])  # [rows, W]


def _taps(take, weights: np.ndarray) -> np.ndarray:
    """sum over the four taps k (in order) of weights[..., k] * take(k), in float64."""
    out = take(0) * weights[..., 0]
    for k in range(1, 4):
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


def render(grids: list[np.ndarray], layers, conv, height: int, width: int) -> np.ndarray:
    """uint8 [H, W] (one channel) or [H, W, C] of the latent-grid image, computed in bands of
    rows (each with one row of halo for the convolution) so that memory stays bounded."""
    channels = layers[-1][0].shape[0]
    widest = max([len(grids), channels] + [w.shape[0] for w, _ in layers])
    band = max(1, TILE_FLOATS // 8 // (widest * width) - 2)  # 2**19 float64 (4 MiB) per buffer: cache-friendlier than larger bands
    out = np.empty((channels, height, width), dtype=np.uint8)
    for top in range(0, height, band):
        lo, hi = max(0, top - 1), min(height, top + band + 1)
        features = np.stack([upsample(g, height, width, slice(lo, hi)) for g in grids])
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
    return render(net.grids, layers, conv, net.height, net.width)
