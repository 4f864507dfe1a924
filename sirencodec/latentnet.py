"""The math of a latent-grid image (numpy only): upsample integer latent grids to the pixel
grid, then a small per-pixel ReLU network and a residual 3 x 3 convolution give the pixels.

This is the decoder's half of the latent-grid model that ``benchmarks/latent_probe.py``
measures (Cool-chic, Ladune et al. ICCV 2023; soft-rounding training after C3, Kim et al.
CVPR 2024).  The encoder's torch model builds its upsampling from the same matrices
(``upsample_matrix``), so both sides compute the same image up to float rounding.

Image definition, for an H x W image and L grids:

* grid l (0 = finest) is ceil(H / 2^l) x ceil(W / 2^l) integers;
* each grid is upsampled to H x W separably, ``U_rows @ grid @ U_cols.T``, with
  ``upsample_matrix`` (Keys' cubic convolution, a = -0.75, pixel centres aligned, edges
  clamped: what ``torch.nn.functional.interpolate(mode="bicubic", align_corners=False)`` does);
* the L upsampled values of a pixel go through the per-pixel layers (ReLU between them, none
  after the last, which has one output), then ``out + conv3x3(out)`` (zero padding);
* pixel = clip(round(255 * out), 0, 255).
"""

from __future__ import annotations

import numpy as np

CUBIC_A = -0.75


def grid_shapes(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    return [(-(-height // 2**level), -(-width // 2**level)) for level in range(levels)]


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
    if n_in == n_out:
        np.fill_diagonal(m, 1.0)
        return m
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    base = np.floor(src).astype(np.int64)
    frac = src - base
    rows = np.arange(n_out)
    for k in (-1, 0, 1, 2):
        np.add.at(m, (rows, np.clip(base + k, 0, n_in - 1)), _cubic(frac - k))
    return m


def upsample(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    g = np.asarray(grid, dtype=np.float64)
    return upsample_matrix(g.shape[0], height) @ g @ upsample_matrix(g.shape[1], width).T


def synthesize(features: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]],
               conv: tuple[np.ndarray, float] | None) -> np.ndarray:
    """features float [L, H, W] -> float [H, W]: the per-pixel layers, then the residual
    3 x 3 convolution (``conv`` = (weights [3, 3], bias))."""
    n, h, w = features.shape
    a = features.reshape(n, h * w)
    for i, (weight, bias) in enumerate(layers):
        a = weight @ a + bias[:, None]
        if i < len(layers) - 1:
            a = np.maximum(a, 0.0)
    out = a.reshape(h, w)
    if conv is not None:
        k, b = conv
        padded = np.pad(out, 1)
        acc = np.full((h, w), float(b))
        for dy in range(3):
            for dx in range(3):
                acc += k[dy, dx] * padded[dy: dy + h, dx: dx + w]
        out = out + acc
    return out


def render(grids: list[np.ndarray], layers, conv, height: int, width: int) -> np.ndarray:
    """uint8 [H, W] of the latent-grid image."""
    features = np.stack([upsample(g, height, width) for g in grids])
    out = synthesize(features, layers, conv)
    return np.clip(np.round(255.0 * out), 0, 255).astype(np.uint8)
