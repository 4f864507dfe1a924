"""The image a SIREN file defines (format_spec.md section 3), evaluated in float32 numpy:
the decoder's math.  The network description is ``sirencodec.format.siren_v3.QuantizedNetwork``.

    h_1     = sin(omega0_first  * (W_0 p + b_0))          p = (x, y), see grid.py
    h_{i+1} = sin(omega0_hidden * (W_i h_i + b_i))        i = 1 .. N
    out     = W_{N+1} h_{N+1} + b_{N+1}                   one value per channel
    pixel   = clamp(floor((out + 1) * 127.5 + 0.5), 0, 255)
"""

from __future__ import annotations

import numpy as np

from ..format.siren_v3 import QuantizedNetwork, check_work
from ..limits import TILE_FLOATS, check_dimensions
from .grid import rows_coordinates


def dense_layers(net: QuantizedNetwork) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(W float32 [out, in], b float32 [out])] of every layer, dequantized."""
    return [(layer.weight.dequantize(), np.asarray(layer.bias, np.float32)) for layer in net.layers]


def render(net: QuantizedNetwork, width: int | None = None, height: int | None = None) -> np.ndarray:
    """Decode to uint8 [H, W] (gray) or [H, W, 3] (RGB), at the stored or another size.

    Evaluated in tiles of whole rows so memory stays bounded for any output size."""
    width = net.width if width is None else width
    height = net.height if height is None else height
    check_dimensions(width, height, net.channels)
    check_work(width, height, net.hidden_width, net.hidden_layers, net.channels,
               resized=(width, height) != (net.width, net.height))
    dense = dense_layers(net)
    out = np.empty((height, width, net.channels), dtype=np.uint8)
    rows_per_tile = max(1, TILE_FLOATS // (max(net.hidden_width, 1) * width))
    for r0 in range(0, height, rows_per_tile):
        r1 = min(height, r0 + rows_per_tile)
        y = forward(dense, net.omega0_first, net.omega0_hidden, rows_coordinates(height, width, r0, r1))
        out[r0:r1] = to_uint8(y).reshape(r1 - r0, width, net.channels)
    return out[:, :, 0] if net.channels == 1 else out


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
