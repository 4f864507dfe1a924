"""The latents' decoder, compiled: the range decoder of format_spec.md section 6 and the
integer ARM of section 10, one latent at a time in wavefront order, in a numba-compiled loop.

Why compiled: a latent's model depends on its already decoded neighbours, so decoding is a
sequential loop over the latents.  Driven from numpy (one vectorised step per wavefront, the
symbols through constriction) it costs ~85 us per wavefront -- 0.4 s for a 768 x 512 image, and
minutes for a crafted 1 x 65535 file whose wavefronts hold one latent each.  The loop below
costs what the latents cost (their ARM's multiply-adds and a binary search each), whatever
the grid's shape.  numba (a maintained JIT compiler for numpy code) keeps it in Python source
with no build step; ``cache=True`` stores the machine code next to this file after the first
call.

Everything here is integer arithmetic: the probability tables are built beforehand in numpy
(``arm.cdf_tables``) from the same IEEE float operations as the encoder's, so the decoder
reproduces the encoder's models exactly.  The writer stays constriction's ``RangeEncoder``
(``arm.encode_grids``); the tests check that this decoder reads its streams back.
"""

from __future__ import annotations

import numba
import numpy as np

# Status codes of ``decode_grid``.
OK, INVALID_STREAM, LATENT_RANGE = 0, 1, 2

_PAD = 3  # every context offset reaches at most 3 rows up and 3 columns left or right
_ONE = np.int64(1 << 12)  # arm.ONE (the fixed point's 1)


@numba.njit(cache=True, nogil=True)
def _next_word(words, state):
    """The next big-endian word of the stream, 0 past its end (state[3] is the read position)."""
    pos = state[3]
    state[3] = pos + np.uint64(1)
    if pos < np.uint64(words.size):
        return np.uint64(words[pos])
    return np.uint64(0)


@numba.njit(cache=True, nogil=True)
def start(words):
    """The decoder's state [point, lower, range, position] at the start of ``words`` (uint32)."""
    state = np.zeros(4, dtype=np.uint64)
    hi = _next_word(words, state)
    lo = _next_word(words, state)
    state[0] = (hi << np.uint64(32)) | lo
    state[1] = np.uint64(0)
    state[2] = np.uint64(0xFFFFFFFFFFFFFFFF)
    return state


@numba.njit(cache=True, nogil=True)
def decode_symbol(words, state, cdf):
    """One symbol of the table ``cdf`` (uint64 [K + 1], cdf[0] = 0, cdf[K] = 2**24); -1 if the
    stream is invalid at this point."""
    point, lower, rng = state[0], state[1], state[2]
    scale = rng >> np.uint64(24)
    quantile = (point - lower) // scale
    if quantile >= np.uint64(1 << 24):
        return -1
    lo, hi = 0, cdf.size - 1  # cdf[lo] <= quantile < cdf[hi]
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if cdf[mid] <= quantile:
            lo = mid
        else:
            hi = mid
    lower = lower + scale * cdf[lo]
    rng = scale * (cdf[lo + 1] - cdf[lo])
    if rng < np.uint64(1 << 32):
        lower = lower << np.uint64(32)
        rng = rng << np.uint64(32)
        point = (point << np.uint64(32)) | _next_word(words, state)
    state[0], state[1], state[2] = point, lower, rng
    return lo


@numba.njit(cache=True, nogil=True)
def decode_grid(words, state, h, w, alpha, offsets, weights, biases, dims, cdf, reach, max_latent, out):
    """Decode one h x w grid into ``out`` (int64 [h + 3, w + 6], zero, the grid at [3:, 3:-3]),
    continuing the stream ``state``.  ARM: ``weights`` int64 [layers, 32, 32], ``biases`` int64
    [layers, 32], ``dims`` the layer widths (context first, 2 last), all already times 2**12;
    ``cdf`` uint64 [72 * 16, 2 * reach + 2] (row * 16 + fraction), unused when reach is 0.
    Returns OK, INVALID_STREAM or LATENT_RANGE."""
    layers = dims.size - 1
    context = dims[0]
    a = np.zeros(32, dtype=np.int64)
    b = np.zeros(32, dtype=np.int64)
    for t in range(alpha * (h - 1) + w):
        r_lo = max(0, -(-(t - w + 1) // alpha))
        r_hi = min(h - 1, t // alpha)
        for r in range(r_lo, r_hi + 1):
            c = t - alpha * r
            for k in range(context):
                a[k] = out[_PAD + r + offsets[k, 0], _PAD + c + offsets[k, 1]] * _ONE
            for i in range(layers):
                n_in, n_out = dims[i], dims[i + 1]
                for j in range(n_out):
                    acc = np.int64(0)
                    for k in range(n_in):
                        acc += weights[i, j, k] * a[k]
                    v = (acc >> 12) + biases[i, j]
                    if i < layers - 1:
                        v = min(max(v, 0), 1 << 30)
                    b[j] = v
                for j in range(n_out):
                    a[j] = b[j]
            mean = min(max(a[0], -max_latent * _ONE), max_latent * _ONE)
            base = mean >> 12
            frac = ((mean - (base << 12)) * 16) >> 12
            log_scale = min(max(a[1], -(1 << 40)), 1 << 40)
            row = min(max(((log_scale + 4 * _ONE) * 8) >> 12, 0), 71)
            value = base
            if reach > 0:
                symbol = decode_symbol(words, state, cdf[row * 16 + frac])
                if symbol < 0:
                    return INVALID_STREAM
                value = base + symbol - reach
            if value > max_latent or value < -max_latent:
                return LATENT_RANGE
            out[_PAD + r, _PAD + c] = value
    return OK
