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
  after the last, which has one output per channel), then ``out + conv3x3(out)`` (zero padding);
* pixel = clip(round(255 * out), 0, 255).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from . import arm as sarm
from .config import MAX_DECODE_WORK, TILE_FLOATS
from .errors import FormatError
from .network import QuantizedLayer, QuantizedTensor, check_dimensions

CUBIC_A = -0.75
MAX_SYNTH_WIDTH = 64
MAX_SYNTH_LAYERS = 4


def grid_shapes(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    return [(-(-height // 2**level), -(-width // 2**level)) for level in range(levels)]


def max_levels(height: int, width: int) -> int:
    """Grids down to the first that is 1 x 1."""
    n, levels = max(height, width), 1
    while n > 1:
        n, levels = -(-n // 2), levels + 1
    return levels


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
    """The grid upsampled to height x width (only the output ``rows``, when given)."""
    g = np.asarray(grid)
    ri, rw = upsample_taps(g.shape[0], height)
    ci, cw = upsample_taps(g.shape[1], width)
    ri, rw = ri[rows], rw[rows]
    t = sum(rw[:, k, None] * g[ri[:, k]] for k in range(4))  # [rows, w] float64; only these rows converted
    return sum(cw[None, :, k] * t[:, ci[:, k]] for k in range(4))  # [rows, W]


def synthesize(features: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]],
               conv: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """features float [L, H, W] -> float [C, H, W]: the per-pixel layers, then the residual
    3 x 3 convolution (``conv`` = (weights [C, C * 9], bias [C]), zero padding)."""
    n, h, w = features.shape
    a = features.reshape(n, h * w)
    for i, (weight, bias) in enumerate(layers):
        a = weight @ a + bias[:, None]
        if i < len(layers) - 1:
            a = np.maximum(a, 0.0)
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
    band = max(1, TILE_FLOATS // (widest * width) - 2)
    out = np.empty((channels, height, width), dtype=np.uint8)
    for top in range(0, height, band):
        lo, hi = max(0, top - 1), min(height, top + band + 1)
        features = np.stack([upsample(g, height, width, slice(lo, hi)) for g in grids])
        # The halo rows lo and hi - 1 lack a neighbour here (unless at the image's edge): dropped.
        block = synthesize(features, layers, conv)[:, top - lo: top - lo + min(band, height - top)]
        out[:, top: top + band] = np.clip(np.round(255.0 * block), 0, 255)
    return out[0] if channels == 1 else np.moveaxis(out, 0, -1)


@dataclass(frozen=True, eq=False)
class LatentNetwork:
    """Everything a latent-grid `.srn` file holds (format version 4).

    ``synthesis``: per-pixel layers, weights [out, in] (the first reads one value per grid,
    the last gives ``channels`` values); ``conv``: the residual 3 x 3 convolution as weights
    [channels, channels * 9] (input channel, then kernel row, then kernel column) and a bias per
    channel, or None; ``arm``: the ARM's layers (the last gives 2 values: mean, ln scale) whose
    weight and bias steps are powers of two from 2**-FRAC_BITS to 1, so that their integers
    are exact in the integer ARM.  Every bias is quantized; nothing is seeded."""

    width: int
    height: int
    channels: int
    grids: list[np.ndarray] = field(default_factory=list)  # int64, shapes grid_shapes(height, width, L)
    synthesis: list[QuantizedLayer] = field(default_factory=list)
    conv: QuantizedLayer | None = None
    arm: list[QuantizedLayer] = field(default_factory=list)

    @property
    def context(self) -> int:
        return self.arm[0].weight.shape[1]

    def validate(self) -> None:
        """Raise FormatError unless the description is internally consistent and in limits."""
        levels = len(self.grids)
        self.validate_layers(levels)
        for g, shape in zip(self.grids, grid_shapes(self.height, self.width, levels)):
            if g.shape != shape:
                raise FormatError(f"latent grid of shape {g.shape}, expected {shape}")
            if g.size and np.abs(g).max() > sarm.MAX_LATENT:
                raise FormatError(f"latent beyond +-{sarm.MAX_LATENT}")

    def validate_layers(self, levels: int) -> None:
        """Everything but the grids' contents, for ``levels`` grids (a reader checks this
        before decoding or allocating any latent)."""
        check_dimensions(self.width, self.height, self.channels)
        if not 1 <= levels <= max_levels(self.height, self.width):
            raise FormatError(f"{levels} latent grids for a {self.width}x{self.height} image "
                              f"(1..{max_levels(self.height, self.width)})")
        _check_chain("synthesis", self.synthesis, levels, self.channels, MAX_SYNTH_LAYERS, MAX_SYNTH_WIDTH)
        if self.conv is not None:
            _check_chain("convolution", [self.conv], 9 * self.channels, self.channels, 1, self.channels)
        _check_chain("ARM", self.arm, None, 2, sarm.MAX_ARM_LAYERS, sarm.MAX_ARM_WIDTH)
        if not 1 <= self.context <= sarm.MAX_CONTEXT:
            raise FormatError(f"ARM context {self.context} outside 1..{sarm.MAX_CONTEXT}")
        layers = [("synthesis", ly) for ly in self.synthesis] + [("convolution", self.conv)] * (self.conv is not None)
        for what, layer in layers + [("ARM", ly) for ly in self.arm]:
            for t in (layer.weight, layer.bias_code):
                if what == "ARM" and not power_of_two_step(t.scale):
                    raise FormatError(f"ARM layer: step {t.scale!r} is not a power of two in 2^-{sarm.FRAC_BITS}..1")
                if what != "ARM" and float(np.float16(t.scale)) != t.scale:
                    raise FormatError(f"{what} layer: step {t.scale!r} is not a float16 value")
                if not t.mask.all() or t.zero_point != 1 << (t.bits - 1) or t.bits != layer.weight.bits:
                    raise FormatError(f"{what} layer: a latent file's parameters are unpruned, share the "
                                      "layer's bit width and sit around the zero point 2^(bits-1)")
        self.integer_arm().validate()
        per_pixel = 8 * levels + sum(ly.weight.q.size for ly in self.synthesis) + 9 * self.channels**2
        if self.width * self.height * per_pixel > MAX_DECODE_WORK:
            raise FormatError(f"a {self.width}x{self.height} image from this network exceeds the decoding work limit")

    def integer_arm(self) -> sarm.IntegerArm:
        """The ARM's parameters in fixed point (exact: their steps are powers of two)."""
        def fixed(t: QuantizedTensor) -> np.ndarray:
            shift = sarm.FRAC_BITS + int(np.frexp(t.scale)[1]) - 1
            return (t.q.astype(np.int64) - t.zero_point) << shift
        return sarm.IntegerArm(tuple(fixed(ly.weight) for ly in self.arm),
                               tuple(fixed(ly.bias_code)[0] for ly in self.arm))

    def render(self) -> np.ndarray:
        """uint8 [H, W] (gray) or [H, W, C] at the stored size."""
        layers = [(ly.weight.dequantize().astype(np.float64), ly.bias.astype(np.float64)) for ly in self.synthesis]
        conv = None
        if self.conv is not None:
            conv = (self.conv.weight.dequantize().astype(np.float64), self.conv.bias.astype(np.float64))
        return render(self.grids, layers, conv, self.height, self.width)


def power_of_two_step(scale: float) -> bool:
    """scale is 2**-k for k in 0..FRAC_BITS."""
    m, e = np.frexp(scale)
    return bool(m == 0.5 and -sarm.FRAC_BITS <= e - 1 <= 0)


def _check_chain(what: str, layers: list[QuantizedLayer], first_in: int | None, last_out: int,
                 max_layers: int, max_width: int) -> None:
    if not 1 <= len(layers) <= max_layers:
        raise FormatError(f"{what}: {len(layers)} layers (1..{max_layers})")
    prev = first_in
    for i, layer in enumerate(layers):
        out, inp = layer.weight.shape
        if prev is not None and inp != prev:
            raise FormatError(f"{what} layer {i}: {inp} inputs, expected {prev}")
        last = i == len(layers) - 1
        if (last and out != last_out) or (not last and not 1 <= out <= max_width):
            raise FormatError(f"{what} layer {i}: {out} outputs")
        if layer.bias_dtype != "quantized" or layer.bias_code is None or layer.weight.offset is not None:
            raise FormatError(f"{what} layer {i}: a latent file quantizes every bias and seeds nothing")
        b = np.asarray(layer.bias, np.float32)
        if b.shape != (out,) or not np.array_equal(layer.bias_code.dequantize()[0], b):
            raise FormatError(f"{what} layer {i}: bias differs from its integers")
        prev = out
