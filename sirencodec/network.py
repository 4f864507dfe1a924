"""The quantized network description: what the encoder hands to the writer, and what the
reader hands to the decoder.  Plus the numpy evaluation of the network (the decoder's
math, `format_spec.md` section 3).

A network for an image with C channels, hidden width F and N hidden layers has N + 2
linear layers with weight shapes [F, 2], N x [F, F] and [C, F] ([out, in], row-major).

    h_1     = sin(omega0_first  * (W_0 p + b_0))          p = (x, y), see grid.py
    h_{i+1} = sin(omega0_hidden * (W_i h_i + b_i))        i = 1 .. N
    out     = W_{N+1} h_{N+1} + b_{N+1}                   one value per channel
    pixel   = clamp(floor((out + 1) * 127.5 + 0.5), 0, 255)

Weights are range-linear quantized: ``w = scale * (q - zero_point)`` for kept entries,
exactly 0 for pruned ones, evaluated in float32 (one rounding of an exact integer times
a float32 scale, so encoder and decoder obtain bit-identical weights).  Since format
version 3 the first layer's weights and the quantized biases may instead code the residual
from seeded values that the decoder regenerates (``seeded.py``): ``w = seed + scale * (q - Z)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import seeded
from .config import (
    MAX_BITS,
    MAX_DECODE_WORK,
    MAX_DIMENSION,
    MAX_HIDDEN_LAYERS,
    MAX_HIDDEN_WIDTH,
    MAX_PIXELS,
    MAX_WEIGHTS,
    MIN_BITS,
    TILE_FLOATS,
)
from .errors import FormatError
from .grid import rows_coordinates

BIAS_DTYPES = ("float32", "float16", "quantized")


@dataclass(frozen=True, eq=False)
class QuantizedTensor:
    """One weight matrix.  ``q``: int32 [out, in] in [0, 2**bits); ``mask``: bool [out, in],
    True where the weight is kept.  Pruned entries are not stored; their ``q`` is ignored
    (the writer normalises them to ``zero_point``).

    ``offset`` (format version 3): float32 [out, in], the tensor's seeded values
    (:mod:`sirencodec.seeded`); the integers then code the residual from them.  Such a
    tensor has no pruned entries."""

    q: np.ndarray
    mask: np.ndarray
    bits: int
    scale: float  # float32-representable, > 0
    zero_point: int
    offset: np.ndarray | None = None

    def dequantize(self) -> np.ndarray:
        """float32 [out, in]: [offset +] scale * (q - zero_point) where kept, 0 where pruned
        (each operation in float32, rounded once)."""
        w = (self.q.astype(np.int64) - self.zero_point).astype(np.float32) * np.float32(self.scale)
        if self.offset is not None:
            w = np.asarray(self.offset, np.float32) + w
        return np.where(self.mask, w, np.float32(0.0)).astype(np.float32)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.q.shape)  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class QuantizedLayer:
    weight: QuantizedTensor
    bias: np.ndarray  # float32 [out]: the values the network adds (exactly what the file stores)
    bias_dtype: str = "float32"  # how the file stores the bias: "float32", "float16" or "quantized"
    # "quantized" only: the integers [1, out] (all kept), bits, scale, zero point; ``bias``
    # must equal ``bias_code.dequantize()[0]``.  Format version 2.
    bias_code: QuantizedTensor | None = None


@dataclass(frozen=True, eq=False)
class QuantizedNetwork:
    """Everything a `.srn` file holds.  Build it, then ``bitstream.pack(net)`` -> bytes."""

    width: int  # image width W in pixels
    height: int  # image height H in pixels
    channels: int  # 1 = gray, 3 = RGB; also the network's output count
    hidden_width: int
    hidden_layers: int
    omega0_first: float  # float16-representable
    omega0_hidden: float  # float16-representable
    layers: list[QuantizedLayer] = field(default_factory=list)

    def layer_shapes(self) -> list[tuple[int, int]]:
        return layer_shapes(self.hidden_width, self.hidden_layers, self.channels)

    def validate(self) -> None:
        """Raise FormatError unless the description is internally consistent and in limits."""
        check_dimensions(self.width, self.height, self.channels)
        check_architecture(self.hidden_width, self.hidden_layers, self.channels)
        check_work(self.width, self.height, self.num_weights)
        for name, w0 in (("omega0_first", self.omega0_first), ("omega0_hidden", self.omega0_hidden)):
            if not (np.isfinite(w0) and w0 > 0) or float(np.float16(w0)) != float(w0):
                raise FormatError(f"{name} must be a positive finite float16 value, got {w0!r}")
        shapes = self.layer_shapes()
        if len(self.layers) != len(shapes):
            raise FormatError(f"network needs {len(shapes)} layers, got {len(self.layers)}")
        for i, (layer, shape) in enumerate(zip(self.layers, shapes)):
            t = layer.weight
            _check_tensor(i, "weight", t, shape)
            if t.offset is not None:
                if i != 0:
                    raise FormatError(f"layer {i}: only the first layer's weights can be seeded residuals")
                _check_offset(i, "weight", t, seeded.first_weights(shape))
            if layer.bias_dtype not in BIAS_DTYPES:
                raise FormatError(f"layer {i}: bias_dtype must be one of {BIAS_DTYPES}")
            b = np.asarray(layer.bias, dtype=np.float32)
            if b.shape != (shape[0],) or not np.all(np.isfinite(b)):
                raise FormatError(f"layer {i}: bias must be {shape[0]} finite floats")
            if layer.bias_dtype == "quantized":
                code = layer.bias_code
                if code is None:
                    raise FormatError(f"layer {i}: a quantized bias needs its integers (bias_code)")
                _check_tensor(i, "bias", code, (1, shape[0]))
                if not code.mask.all():
                    raise FormatError(f"layer {i}: a quantized bias has no pruned entries")
                if code.offset is not None:
                    _check_offset(i, "bias", code, seeded.biases(i, shape[0], shape[1]).reshape(1, -1))
                if not np.array_equal(code.dequantize()[0], b):
                    raise FormatError(f"layer {i}: bias differs from its dequantized integers")
            elif not np.array_equal(b.astype(layer.bias_dtype).astype(np.float32), b):
                raise FormatError(f"layer {i}: bias not exactly representable as {layer.bias_dtype}")

    @property
    def num_weights(self) -> int:
        return count_weights(self.hidden_width, self.hidden_layers, self.channels)

    def forward(self, coords: np.ndarray) -> np.ndarray:
        """Network output float32 [P, C] for coordinates float32 [P, 2]."""
        return forward(self._dense_layers(), self.omega0_first, self.omega0_hidden, coords)

    def _dense_layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(layer.weight.dequantize(), np.asarray(layer.bias, np.float32)) for layer in self.layers]

    def render(self, width: int | None = None, height: int | None = None) -> np.ndarray:
        """Decode to uint8 [H, W] (gray) or [H, W, 3] (RGB), at the stored or another size.

        Evaluated in tiles of whole rows so memory stays bounded for any output size."""
        width = self.width if width is None else width
        height = self.height if height is None else height
        check_dimensions(width, height, self.channels)
        check_work(width, height, self.num_weights)
        dense = self._dense_layers()
        out = np.empty((height, width, self.channels), dtype=np.uint8)
        rows_per_tile = max(1, TILE_FLOATS // (max(self.hidden_width, 1) * width))
        for r0 in range(0, height, rows_per_tile):
            r1 = min(height, r0 + rows_per_tile)
            y = forward(dense, self.omega0_first, self.omega0_hidden, rows_coordinates(height, width, r0, r1))
            out[r0:r1] = to_uint8(y).reshape(r1 - r0, width, self.channels)
        return out[:, :, 0] if self.channels == 1 else out


def _check_tensor(i: int, what: str, t: QuantizedTensor, shape: tuple[int, int]) -> None:
    """FormatError unless ``t`` has ``shape``, in-range integers and a usable scale."""
    if t.q.shape != shape or t.mask.shape != shape:
        raise FormatError(f"layer {i}: {what} shape {t.q.shape} != expected {shape}")
    if not MIN_BITS <= t.bits <= MAX_BITS:
        raise FormatError(f"layer {i}: {what} bits {t.bits} outside {MIN_BITS}..{MAX_BITS}")
    if not 0 <= t.zero_point < (1 << t.bits):
        raise FormatError(f"layer {i}: {what} zero_point {t.zero_point} outside 0..{(1 << t.bits) - 1}")
    kept = t.q[t.mask]
    if kept.size and (kept.min() < 0 or kept.max() >= (1 << t.bits)):
        raise FormatError(f"layer {i}: integer {what}s outside 0..{(1 << t.bits) - 1}")
    s = np.float32(t.scale)
    if not (np.isfinite(s) and s > 0) or float(s) != float(t.scale):
        raise FormatError(f"layer {i}: {what} scale must be a positive finite float32, got {t.scale!r}")


def _check_offset(i: int, what: str, t: QuantizedTensor, values: np.ndarray) -> None:
    """FormatError unless a residual tensor's offset is its seeded ``values`` and nothing is pruned."""
    if not t.mask.all():
        raise FormatError(f"layer {i}: a seeded-residual {what} has no pruned entries")
    if np.asarray(t.offset, np.float32).shape != values.shape or not np.array_equal(t.offset, values):
        raise FormatError(f"layer {i}: {what} offset differs from its seeded values")


def forward(dense, omega0_first: float, omega0_hidden: float, coords: np.ndarray) -> np.ndarray:
    """The SIREN in float32 numpy.  ``dense``: [(W [out,in], b [out])...]; coords [P, 2]."""
    h = coords.astype(np.float32, copy=False)
    last = len(dense) - 1
    # A crafted file may overflow float32; the result is then defined by to_uint8 (inf
    # clamps, NaN becomes 0), so the warnings carry no information.
    with np.errstate(over="ignore", invalid="ignore"):
        for i, (w, b) in enumerate(dense):
            z = h @ w.T  # [P, out]
            z += b
            if i < last:
                z *= np.float32(omega0_first if i == 0 else omega0_hidden)
                np.sin(z, out=z)
            h = z
    return h


def to_uint8(y: np.ndarray) -> np.ndarray:
    """Network output -> pixel values: clamp(floor((y + 1) * 127.5 + 0.5), 0, 255)."""
    with np.errstate(over="ignore", invalid="ignore"):
        v = np.floor((y.astype(np.float32) + np.float32(1.0)) * np.float32(127.5) + np.float32(0.5))
    return np.clip(np.nan_to_num(v, nan=0.0), 0, 255).astype(np.uint8)


def from_uint8(pixels: np.ndarray) -> np.ndarray:
    """Pixel values -> training targets in [-1, 1] (the inverse of ``to_uint8``'s scaling)."""
    return pixels.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def layer_shapes(hidden_width: int, hidden_layers: int, channels: int) -> list[tuple[int, int]]:
    """[out, in] of every weight matrix, first layer to output layer."""
    return [(hidden_width, 2)] + [(hidden_width, hidden_width)] * hidden_layers + [(channels, hidden_width)]


def count_weights(hidden_width: int, hidden_layers: int, channels: int) -> int:
    """Total weight entries of all layers."""
    return sum(o * i for o, i in layer_shapes(hidden_width, hidden_layers, channels))


def check_dimensions(width: int, height: int, channels: int) -> None:
    if channels not in (1, 3):
        raise FormatError(f"channel count must be 1 or 3, got {channels}")
    if not (1 <= width <= MAX_DIMENSION and 1 <= height <= MAX_DIMENSION):
        raise FormatError(f"image size {width}x{height} outside 1..{MAX_DIMENSION}")
    if width * height > MAX_PIXELS:
        raise FormatError(f"image size {width}x{height} exceeds the pixel cap of {MAX_PIXELS}")


def check_work(width: int, height: int, weights: int) -> None:
    if width * height * weights > MAX_DECODE_WORK:
        raise FormatError(f"decoding {width}x{height} pixels with {weights} weights exceeds the decoder's "
                          f"work limit of {MAX_DECODE_WORK} multiply-adds")


def check_architecture(hidden_width: int, hidden_layers: int, channels: int) -> None:
    if not 1 <= hidden_width <= MAX_HIDDEN_WIDTH:
        raise FormatError(f"hidden width {hidden_width} outside 1..{MAX_HIDDEN_WIDTH}")
    if not 0 <= hidden_layers <= MAX_HIDDEN_LAYERS:
        raise FormatError(f"hidden layer count {hidden_layers} outside 0..{MAX_HIDDEN_LAYERS}")
    n = count_weights(hidden_width, hidden_layers, channels)
    if n > MAX_WEIGHTS:
        raise FormatError(f"network has {n} weights, above the cap of {MAX_WEIGHTS}")
