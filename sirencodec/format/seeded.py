"""Seeded values (format version 3): tensors a decoder regenerates, so a file codes only
the trained residual from them.

A SIREN's first-layer weights and its biases barely move from their random initialisation
during training (the trained first layer correlates 0.998 with its start, the biases
0.92-1.0), so the encoder starts those tensors from values that any decoder can regenerate,
and the file stores ``w = seed + scale * (q - zero_point)``: the residual's integers span a
few hundred levels, not the thousands the weights themselves would (``format_spec.md``
sections 4-5; docs/results/CHANGELOG.md#siren-4).

The values are a fixed function of (layer index, tensor) and nothing else, computed with
integer arithmetic and one float32 multiplication, so every machine gets the same bits:

    z_k   = splitmix64(stream, k)                 k = 0, 1, ... in row-major order
    u_k   = z_k >> 41                             23 bits
    v_k   = f32((2 u_k + 1 - 2**23) / 2**23)      exact: an odd integer over 2**23, in (-1, 1)
    value = v_k * f32(bound)                      one float32 rounding

with ``stream = 2 * layer`` for weights and ``2 * layer + 1`` for biases, and
``splitmix64(s, k)`` = the (k+1)-th output of Steele et al.'s SplitMix64 seeded with s:
x = s + (k + 1) * 0x9E3779B97F4A7C15, then x ^= x >> 30; x *= 0xBF58476D1CE4E5B9;
x ^= x >> 27; x *= 0x94D049BB133111EB; x ^= x >> 31 (all mod 2**64).

The bounds are the SIREN initialisation's (Sitzmann et al. 2020): weights of the first
layer U(-1/fan_in, 1/fan_in); biases U(+-1/sqrt(fan_in)) (nn.Linear's default).
"""

from __future__ import annotations

import math

import numpy as np

GAMMA = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
UNIT_BITS = 23


def splitmix64(stream: int, count: int) -> np.ndarray:
    """uint64 [count]: outputs 1..count of SplitMix64 seeded with ``stream``."""
    with np.errstate(over="ignore"):
        x = np.uint64(stream) + (np.arange(1, count + 1, dtype=np.uint64) * GAMMA)
        x ^= x >> np.uint64(30)
        x *= MIX1
        x ^= x >> np.uint64(27)
        x *= MIX2
        x ^= x >> np.uint64(31)
    return x


def uniform(stream: int, shape: tuple[int, ...], bound: float) -> np.ndarray:
    """float32 ``shape``: the seeded values of ``stream``, uniform in (-bound, bound)."""
    count = int(np.prod(shape, dtype=np.int64))
    u = (splitmix64(stream, count) >> np.uint64(64 - UNIT_BITS)).astype(np.int64)
    v = ((2 * u + 1 - (1 << UNIT_BITS)).astype(np.float32) / np.float32(1 << UNIT_BITS))  # exact
    return (v * np.float32(bound)).astype(np.float32).reshape(shape)


def weight_bound(fan_in: int) -> float:
    """Bound of the seeded first-layer weights: float32(1 / fan_in)."""
    return float(np.float32(1.0 / fan_in))


def bias_bound(fan_in: int) -> float:
    """Bound of a seeded bias: float32(1 / sqrt(fan_in)) (IEEE sqrt and division, rounded once)."""
    return float(np.float32(1.0 / math.sqrt(fan_in)))


def first_weights(shape: tuple[int, int]) -> np.ndarray:
    """float32 [out, in]: layer 0's seeded weights."""
    return uniform(0, shape, weight_bound(shape[1]))


def biases(layer: int, out: int, fan_in: int) -> np.ndarray:
    """float32 [out]: layer ``layer``'s seeded biases."""
    return uniform(2 * layer + 1, (out,), bias_bound(fan_in))
