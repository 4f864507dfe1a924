"""The description of a file's stored tensors: integers, masks, steps and zero points.

Weights are range-linear quantized: ``w = scale * (q - zero_point)`` for kept entries, exactly
0 for pruned ones, evaluated in float32 (one rounding of an exact integer times a float32
scale, so encoder and decoder obtain bit-identical weights).  A tensor may instead code the
residual from seeded values that the decoder regenerates (``seeded``, format version 3):
``w = seed + scale * (q - zero_point)``.  Both network kinds are lists of such layers
(``siren_v3.QuantizedNetwork``, ``latent_v4.LatentNetwork``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import FormatError
from ..limits import MAX_BITS, MIN_BITS

BIAS_DTYPES = ("float32", "float16", "quantized")


@dataclass(frozen=True, eq=False)
class QuantizedTensor:
    """One weight matrix.  ``q``: int32 [out, in] in [0, 2**bits); ``mask``: bool [out, in],
    True where the weight is kept.  Pruned entries are not stored; their ``q`` is ignored
    (the writer normalises them to ``zero_point``).

    ``offset`` (format version 3): float32 [out, in], the tensor's seeded values
    (:mod:`sirencodec.format.seeded`); the integers then code the residual from them.  Such a
    tensor has no pruned entries."""

    q: np.ndarray
    mask: np.ndarray
    bits: int
    scale: float  # float32-representable, > 0
    zero_point: int
    offset: np.ndarray | None = None

    def dequantize(self) -> np.ndarray:
        """float32 [out, in]: [offset +] scale * (q - zero_point) where kept, 0 where pruned
        (each operation in float32, rounded once).  A huge step may overflow to +-inf: the file
        is still valid (format_spec.md section 4), so the overflow is not warned about."""
        with np.errstate(over="ignore", invalid="ignore"):
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


def check_tensor(i: int, what: str, t: QuantizedTensor, shape: tuple[int, int]) -> None:
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
