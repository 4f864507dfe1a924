"""The latents' decoder, compiled: the range decoder of format_spec.md section 6 and the
integer ARM of section 10, one latent at a time in wavefront order, in C (``_wavefront.c``,
built by ``pip install``; ``setup.py``).

Why compiled: a latent's model depends on its already decoded neighbours, so decoding is a
sequential loop over the latents.  Driven from numpy (one vectorised step per wavefront, the
symbols through constriction: ``arm._decode_wavefronts``, what a machine without the built
extension runs) it costs ~85 us per wavefront -- 0.55 s for a 768 x 512 image, and a minute
and more for a crafted 1 x 65535 file whose wavefronts hold one latent each.  The loop in C
costs what the latents cost (their ARM's multiply-adds, done once per grid for every latent
whose context is all zeros, and a binary search each), whatever the grid's shape, and loads in
a millisecond (a JIT compiler such as numba takes ~0.35 s to start in every process, longer
than a small file's whole decode).

Everything in it is integer arithmetic: the probability tables are built beforehand in numpy
(``arm.cdf_tables``) with the encoder's own IEEE operations, so the decoder reproduces the
encoder's models exactly.  The writer stays constriction's ``RangeEncoder``
(``arm.encode_grids``); the tests check that this decoder reads its streams back, and that it
agrees with the numpy decoder on random payloads.
"""

from __future__ import annotations

import numpy as np

from ._wavefront import decode_grids as _decode_grids  # ImportError where it was not built

OK, INVALID_STREAM, LATENT_RANGE = 0, 1, 2
PAD = 3  # every context offset reaches at most 3 rows up and 3 columns left or right
MAX_WIDTH = 32  # the ARM's widest layer (arm.MAX_ARM_WIDTH)


def decode_grids(words: np.ndarray, shapes: list[tuple[int, int]], reaches: list[int], alpha: int,
                 offsets: np.ndarray, weights: list[np.ndarray], biases: list[np.ndarray],
                 tables: list[np.ndarray], max_latent: int,
                 sources: np.ndarray | None = None) -> tuple[int, list[np.ndarray]]:
    """(status, grids): every grid decoded in turn from one stream of ``words`` (uint32, host
    order).  ``offsets`` int64 [K, 2]; the ARM's integer ``weights`` [out, in] and ``biases``
    [out] (times 2**12), whose K + J inputs are the K neighbours, then the co-located latents
    of the grids ``sources[l]`` (int [L, J]: earlier grids of grid l's shape, -1 for an input
    that reads 0; None: J = 0); ``tables[l]`` uint64 [72 * 16, 2R + 2] for a grid of reach
    R > 0.  Status OK, INVALID_STREAM or LATENT_RANGE (then the grids are incomplete)."""
    layers = len(weights)
    w_all = np.zeros((layers, MAX_WIDTH, MAX_WIDTH), dtype=np.int64)
    b_all = np.zeros((layers, MAX_WIDTH), dtype=np.int64)
    for i, (w, b) in enumerate(zip(weights, biases)):
        if w.shape[0] > MAX_WIDTH or w.shape[1] > MAX_WIDTH or b.shape != (w.shape[0],):
            raise ValueError("ARM layer shapes out of range")
        w_all[i, :w.shape[0], :w.shape[1]] = w
        b_all[i, :b.shape[0]] = b
    sources = np.zeros((len(shapes), 0), np.int64) if sources is None else np.asarray(sources, np.int64)
    if sources.ndim != 2 or sources.shape[0] != len(shapes):
        raise ValueError("one row of channel sources per grid")
    for l, row in enumerate(sources):
        if any(not -1 <= s < l or (s >= 0 and tuple(shapes[s]) != tuple(shapes[l])) for s in row):
            raise ValueError("a grid's channel source must be an earlier grid of its shape")
    dims = np.array([offsets.shape[0] + sources.shape[1]] + [w.shape[0] for w in weights], dtype=np.int64)
    if offsets.shape[1:] != (2,) or np.abs(offsets).max(initial=0) > PAD or dims[-1] != 2 or dims[0] > MAX_WIDTH:
        raise ValueError("context offsets or ARM outputs out of range")
    if weights[0].shape[1] != dims[0]:
        raise ValueError("the ARM's inputs are not the neighbours and channel sources")
    outs, cdfs = [], []
    for (h, w), reach, table in zip(shapes, reaches, tables):
        if reach and table.shape != (72 * 16, 2 * reach + 2):
            raise ValueError("probability table of the wrong shape")
        outs.append(np.zeros((h + PAD, w + 2 * PAD), dtype=np.int64))
        cdfs.append(np.ascontiguousarray(table, dtype=np.uint64))
    status = _decode_grids(np.ascontiguousarray(words, dtype=np.uint32),
                           np.array(shapes, dtype=np.int64).reshape(-1, 2), np.array(reaches, dtype=np.int64),
                           int(alpha), np.ascontiguousarray(offsets, dtype=np.int64), w_all, b_all, dims,
                           cdfs, int(max_latent), outs, np.ascontiguousarray(sources.reshape(-1)))
    return status, [o[PAD:, PAD:PAD + w] for o, (_, w) in zip(outs, shapes)]
