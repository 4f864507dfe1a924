"""Entropy coding of sparsity masks and integer weights (latent grids: ``arm``); with ``arm``,
the only modules that talk to constriction.

All masks and weights of a file go into **one** range-coded stream (constriction's
``RangeEncoder``, 32-bit words, 24-bit model precision), layer by layer: first the layer's
sparsity mask (if it has both kept and pruned entries), then its kept integers in
row-major order.  Every probability model is rebuilt from integers and exactly stored
float32 parameters using only IEEE multiplications and divisions (no ``exp``/``log``,
whose last bit may differ between machines), so encoder and decoder agree bit-exactly.

Weight models (``format_spec.md`` section 5), over the alphabet ``lo..hi`` of the layer:

* ``UNIFORM``  (0): every value equally likely.
* ``LAPLACE``  (1): two-sided geometric, p(k) ∝ theta^|k - center|.
* ``GAUSSIAN`` (2): discrete Gaussian, p(k) ∝ a^((k - center)^2).

The encoder tries all and keeps the cheapest per layer.  The mask model is a Bernoulli
with p(pruned) = pruned / total, both integers from the header.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import constriction
import numpy as np

from ..errors import FormatError

UNIFORM, LAPLACE, GAUSSIAN = 0, 1, 2
MODEL_NAMES = {UNIFORM: "uniform", LAPLACE: "laplace", GAUSSIAN: "gaussian"}

Categorical = constriction.stream.model.Categorical


@dataclass(frozen=True)
class WeightModel:
    """Probability model of one layer's kept integers.  ``param`` is theta (LAPLACE) or
    a (GAUSSIAN), a float32 value in (0, 1); it and ``center`` are unused for UNIFORM."""

    kind: int
    lo: int
    hi: int
    center: int = 0
    param: float = 0.5

    @property
    def parametric(self) -> bool:
        return self.kind != UNIFORM and self.hi > self.lo

    def validate(self, bits: int) -> None:
        if self.kind not in MODEL_NAMES:
            raise FormatError(f"unknown weight model {self.kind}")
        if not 0 <= self.lo <= self.hi < (1 << bits):
            raise FormatError(f"weight range {self.lo}..{self.hi} invalid for {bits} bits")
        if self.parametric:
            if not self.lo <= self.center <= self.hi:
                raise FormatError(f"model centre {self.center} outside {self.lo}..{self.hi}")
            if not (0.0 < self.param < 1.0):
                raise FormatError(f"model parameter {self.param!r} outside (0, 1)")

    def probabilities(self) -> np.ndarray:
        """Unnormalised float64 probabilities of lo..hi (deterministic on any IEEE machine)."""
        n = self.hi - self.lo + 1
        if not self.parametric:
            return np.ones(n, dtype=np.float64)
        d = np.abs(np.arange(self.lo, self.hi + 1, dtype=np.int64) - self.center)
        reach = int(d.max()) + 1
        base = float(np.float32(self.param))
        if self.kind == LAPLACE:
            # powers[j] = theta^j by sequential multiplication (np.multiply.accumulate).
            powers = np.multiply.accumulate(np.concatenate(([1.0], np.full(reach - 1, base))))
        else:
            # powers[j] = a^(j^2) = prod_{i<j} a^(2i+1);  a^(2i+1) = a * (a^2)^i.
            odd = base * np.multiply.accumulate(np.concatenate(([1.0], np.full(reach - 2, base * base))))
            powers = np.multiply.accumulate(np.concatenate(([1.0], odd)))[:reach]
        return powers[d]

    def categorical(self):
        return Categorical(self.probabilities(), perfect=False)


def bias_model(bits: int) -> WeightModel:
    """The fixed model of quantized bias integers: uniform over 0..2**bits - 1."""
    return WeightModel(UNIFORM, 0, (1 << bits) - 1)


def mask_categorical(pruned: int, total: int):
    """Bernoulli model of a mask: symbol 1 = kept, 0 = pruned."""
    return Categorical(np.array([pruned / total, (total - pruned) / total]), perfect=False)


# --- choosing a model (encoder side) -------------------------------------------------


def cross_entropy_bits(model: WeightModel, values: np.ndarray) -> float:
    """Ideal code length in bits of ``values`` (ints in lo..hi) under ``model``."""
    p = model.probabilities()
    p = p / p.sum()
    counts = np.bincount(values - model.lo, minlength=len(p))
    used = counts > 0
    with np.errstate(divide="ignore"):
        logp = np.log2(np.maximum(p[used], 2.0**-24))
    return float(-(counts[used] * logp).sum())


def choose_model(values: np.ndarray) -> WeightModel:
    """The cheapest of the candidate models for ``values`` (int array, may be empty)."""
    values = np.asarray(values, dtype=np.int64)
    if values.size == 0:
        return WeightModel(UNIFORM, 0, 0)
    lo, hi = int(values.min()), int(values.max())
    candidates = [WeightModel(UNIFORM, lo, hi)]
    if hi > lo:
        med = int(np.clip(np.round(np.median(values)), lo, hi))
        mean = int(np.clip(np.round(values.mean()), lo, hi))
        for center in sorted({med, mean}):
            candidates += _parametric_candidates(values, lo, hi, center, _unit_float32)
    return min(candidates, key=lambda m: cross_entropy_bits(m, values))


def choose_centered_model(values: np.ndarray, bits: int) -> WeightModel:
    """The cheapest model of ``values`` over the whole alphabet 0..2**bits - 1, centred on
    2**(bits - 1), with a float16 parameter (format version 4's compact layer records store
    only the kind and that parameter)."""
    values = np.asarray(values, dtype=np.int64)
    hi, center = (1 << bits) - 1, 1 << (bits - 1)
    candidates = [WeightModel(UNIFORM, 0, hi)]
    if values.size:
        candidates += _parametric_candidates(values, 0, hi, center, unit_float16)
    return min(candidates, key=lambda m: cross_entropy_bits(m, values))


def _parametric_candidates(values: np.ndarray, lo: int, hi: int, center: int, rounded) -> list[WeightModel]:
    """Laplace and Gaussian models around ``center`` at five spreads near the values' own;
    ``rounded`` stores the parameter (float32 or float16, strictly inside (0, 1))."""
    d = values - center
    m = float(np.abs(d).mean())
    var = float((d * d).mean())
    out = []
    for f in (0.7, 0.85, 1.0, 1.2, 1.45):
        # Laplace: E|d| = 2 theta / (1 - theta^2)  =>  theta = (sqrt(1 + m^2) - 1) / m.
        mm = max(m * f, 1e-3)
        theta = (math.sqrt(1.0 + mm * mm) - 1.0) / mm
        out.append(WeightModel(LAPLACE, lo, hi, center, rounded(theta)))
        a = math.exp(-1.0 / (2.0 * max(var * f * f, 0.02)))
        out.append(WeightModel(GAUSSIAN, lo, hi, center, rounded(a)))
    return out


def unit_float16(x: float) -> float:
    """x as a float16 in [2**-14, 1 - 2**-11] (normal, strictly inside (0, 1))."""
    return float(np.float16(min(max(x, 2.0**-14), 1.0 - 2.0**-11)))


def _unit_float32(x: float) -> float:
    """x as a float32 strictly inside (0, 1)."""
    v = float(np.float32(min(max(x, 1e-30), 1.0 - 2.0**-24)))
    return v if 0.0 < v < 1.0 else float(np.float32(0.5))


# --- the stream ---------------------------------------------------------------------


@dataclass(frozen=True)
class LayerSymbols:
    """What one layer contributes to the stream."""

    mask: np.ndarray  # bool [out, in]
    values: np.ndarray  # int [kept]: integers of the kept entries, row-major
    model: WeightModel


def encode_stream(layers: list[LayerSymbols]) -> bytes:
    """Range-code all layers into the payload bytes."""
    enc = constriction.stream.queue.RangeEncoder()
    for layer in layers:
        total = layer.mask.size
        kept = int(layer.mask.sum())
        if 0 < kept < total:
            enc.encode(layer.mask.reshape(-1).astype(np.int32), mask_categorical(total - kept, total))
        if kept and layer.model.hi > layer.model.lo:
            vals = (np.asarray(layer.values, dtype=np.int64) - layer.model.lo).astype(np.int32)
            enc.encode(vals, layer.model.categorical())
    return _trim(words_to_bytes(enc.get_compressed()), layers)


def ideal_bits(mask: np.ndarray, values: np.ndarray, model: WeightModel) -> tuple[float, float]:
    """Ideal information content (mask bits, weight bits) of one layer in the stream: what
    ``srninfo`` uses to attribute the single payload's bytes to masks and weights."""
    total, kept = mask.size, int(mask.sum())
    mask_bits = total * _binary_entropy(kept / total) if 0 < kept < total else 0.0
    weight_bits = cross_entropy_bits(model, np.asarray(values, np.int64)) if kept and model.hi > model.lo else 0.0
    return mask_bits, weight_bits


def decode_stream(payload: bytes, shapes: list[tuple[int, int]], pruned: list[int],
                  models: list[WeightModel]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Inverse of ``encode_stream``: per layer (mask bool [out,in], values int32 [kept])."""
    try:
        return _decode_stream(payload, shapes, pruned, models)
    except FormatError:
        raise
    except Exception as exc:  # constriction reports undecodable data with AssertionError/ValueError
        raise FormatError(f"entropy-coded payload is invalid ({type(exc).__name__})") from None


def _decode_stream(payload, shapes, pruned, models):
    dec = constriction.stream.queue.RangeDecoder(bytes_to_words(payload))
    out = []
    for (o, i), n_pruned, model in zip(shapes, pruned, models):
        total = o * i
        kept = total - n_pruned
        if 0 < kept < total:
            mask = dec.decode(mask_categorical(n_pruned, total), total).astype(bool)
            if int(mask.sum()) != kept:
                raise FormatError("sparsity mask disagrees with the header's pruned count (corrupt stream)")
        else:
            mask = np.full(total, kept > 0, dtype=bool)
        if kept and model.hi > model.lo:
            values = dec.decode(model.categorical(), kept).astype(np.int32) + model.lo
        else:
            values = np.full(kept, model.lo, dtype=np.int32)
        out.append((mask.reshape(o, i), values))
    return out


def _binary_entropy(p: float) -> float:
    return 0.0 if p <= 0.0 or p >= 1.0 else -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


def words_to_bytes(words: np.ndarray) -> bytes:
    # Big-endian words: the byte string runs from most to least significant, so the
    # trailing bytes of the final word are the least significant ones (see _trim).
    return np.asarray(words, dtype=">u4").tobytes()


def bytes_to_words(payload: bytes) -> np.ndarray:
    padded = payload + b"\0" * (-len(payload) % 4)
    return np.frombuffer(padded, dtype=">u4").astype(np.uint32)


def _trim(payload: bytes, layers: list[LayerSymbols]) -> bytes:
    """Drop trailing bytes as long as the zero-padded stream still decodes identically.

    The decoder pads the payload with zero bytes to whole words; the encoder keeps only
    as many bytes as are needed for that to reproduce every symbol (checked, not assumed).
    """
    shapes = [ly.mask.shape for ly in layers]
    pruned = [int(ly.mask.size - ly.mask.sum()) for ly in layers]
    models = [ly.model for ly in layers]

    def same(candidate: bytes) -> bool:
        try:
            decoded = decode_stream(candidate, shapes, pruned, models)
        except FormatError:
            return False
        return all(np.array_equal(m, ly.mask) and np.array_equal(v, ly.values)
                   for (m, v), ly in zip(decoded, layers))

    best = payload
    for cut in range(1, 9):
        if cut > len(payload) or not same(payload[: len(payload) - cut]):
            break
        best = payload[: len(payload) - cut]
    return best
