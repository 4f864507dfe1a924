"""Random quantized networks for tests (and the golden-vector generator)."""

from __future__ import annotations

import numpy as np

from sirencodec.format import seeded
from sirencodec.format.siren_v3 import QuantizedNetwork, layer_shapes
from sirencodec.format.tensors import QuantizedLayer, QuantizedTensor


def random_network(rng: np.random.Generator, *, width=13, height=9, channels=1, hidden_width=8,
                   hidden_layers=2, bits=8, sparsity=0.3, bias_dtype="float32", distribution="uniform",
                   omega0=30.0, seeded_residuals=False) -> QuantizedNetwork:
    """A valid QuantizedNetwork with SIREN-like weight ranges.

    ``distribution``: "uniform" integers over the whole n-bit range, or "laplace" integers
    concentrated around the zero-point (as trained, entropy-friendly weights are).
    ``bias_dtype``: one storage for every layer, or a sequence with one per layer
    ("float32", "float16" or "quantized").  ``seeded_residuals`` (format version 3): the first
    layer's weights (unpruned) and the quantized biases code residuals from their seeded values,
    with small steps, as the encoder writes them."""
    layers = []
    shapes = layer_shapes(hidden_width, hidden_layers, channels)
    for i, (o, n_in) in enumerate(shapes):
        levels = 1 << bits
        zp = int(rng.integers(0, levels))
        if distribution == "laplace":
            q = np.clip(np.round(rng.laplace(zp, max(levels / 10, 0.6), (o, n_in))), 0, levels - 1)
        else:
            q = rng.integers(0, levels, (o, n_in))
        q = q.astype(np.int32)
        mask = np.ones((o, n_in), dtype=bool)
        n_prune = 0 if (seeded_residuals and i == 0) else int(round(sparsity * o * n_in))
        mask.reshape(-1)[rng.permutation(o * n_in)[:n_prune]] = False
        q[~mask] = zp
        bound = (1.0 / n_in) if i == 0 else np.sqrt(6.0 / n_in) / omega0
        scale = float(np.float32(2 * bound / levels))
        offset = None
        if seeded_residuals and i == 0:
            offset, scale = seeded.first_weights((o, n_in)), float(np.float32(scale / 16))
        dtype = bias_dtype if isinstance(bias_dtype, str) else bias_dtype[i]
        code = None
        if dtype == "quantized":
            # As the encoder writes them: the first layer's at 14 bits, the others' at 10.
            b_bits = 14 if i == 0 else 10
            b_zp = int(rng.integers(0, 1 << b_bits))
            b_offset = seeded.biases(i, o, n_in).reshape(1, -1) if seeded_residuals else None
            code = QuantizedTensor(rng.integers(0, 1 << b_bits, (1, o)).astype(np.int32), np.ones((1, o), bool),
                                   b_bits, float(np.float32(1.0 / (1 << b_bits))), b_zp, b_offset)
            bias = code.dequantize()[0]
        else:
            bias = rng.uniform(-0.5, 0.5, o).astype(dtype).astype(np.float32)
        layers.append(QuantizedLayer(QuantizedTensor(q, mask, bits, scale, zp, offset), bias, dtype, code))
    return QuantizedNetwork(width, height, channels, hidden_width, hidden_layers, omega0, omega0, layers)


def assert_same_network(a: QuantizedNetwork, b: QuantizedNetwork) -> None:
    """Bit-exact equality of everything a file stores."""
    for f in ("width", "height", "channels", "hidden_width", "hidden_layers", "omega0_first", "omega0_hidden"):
        assert getattr(a, f) == getattr(b, f), f
    assert len(a.layers) == len(b.layers)
    for la, lb in zip(a.layers, b.layers):
        ta, tb = la.weight, lb.weight
        assert np.array_equal(ta.mask, tb.mask)
        assert np.array_equal(ta.q[ta.mask], tb.q[tb.mask])
        assert (ta.bits, ta.zero_point) == (tb.bits, tb.zero_point)
        assert np.float32(ta.scale).tobytes() == np.float32(tb.scale).tobytes()
        assert la.bias_dtype == lb.bias_dtype
        if la.bias_code is not None or lb.bias_code is not None:
            ca, cb = la.bias_code, lb.bias_code
            assert np.array_equal(ca.q, cb.q) and (ca.bits, ca.zero_point) == (cb.bits, cb.zero_point)
            assert np.float32(ca.scale).tobytes() == np.float32(cb.scale).tobytes()
        assert np.asarray(la.bias, np.float32).tobytes() == np.asarray(lb.bias, np.float32).tobytes()
        assert (ta.offset is None) == (tb.offset is None)
        if la.bias_code is not None:
            assert (la.bias_code.offset is None) == (lb.bias_code.offset is None)
        assert np.array_equal(ta.dequantize(), tb.dequantize())


def random_latent_network(rng: np.random.Generator, *, width=13, height=9, channels=1, levels=4,
                          synthesis=(5,), conv=True, context=8, arm=(4,), bits=7, latent_scale=1.5,
                          grid_levels=None, upsampling_bits=None, channel_context=0):
    """A valid LatentNetwork: Laplace latents, weights around the zero point, power-of-two ARM
    steps; the output layer is biased to mid-gray so the image is not clipped.  ``grid_levels``
    (each grid's level, a version 5 network) replaces ``levels`` grids at levels 0 .. levels-1.
    ``upsampling_bits``: learned x2 filters (a version 6 network), residuals of that many bits;
    with ``channel_context`` too, an ARM that also reads that many co-located latents (version 7)."""
    from sirencodec.format import latent_v4

    zero = 1 << (bits - 1)

    def layer(o, n_in, pow2, spread):
        q = np.clip(np.round(rng.laplace(zero, spread, (o, n_in))), 0, 2 * zero - 1).astype(np.int32)
        qb = np.clip(np.round(rng.laplace(zero, spread, (1, o))), 0, 2 * zero - 1).astype(np.int32)
        scale = 2.0 ** -int(rng.integers(6, 10)) if pow2 else float(np.float16(rng.uniform(0.002, 0.02)))
        w = QuantizedTensor(q, np.ones(q.shape, dtype=bool), bits, scale, zero)
        b = QuantizedTensor(qb, np.ones(qb.shape, dtype=bool), bits, scale, zero)
        return QuantizedLayer(w, b.dequantize()[0], "quantized", b)

    grids = [np.round(rng.laplace(0, latent_scale, s)).astype(np.int64)
             for s in latent_v4.grid_shapes(height, width, levels if grid_levels is None else grid_levels)]
    dims = [len(grids), *synthesis, channels]
    synth = [layer(o, i, False, zero / 4) for o, i in zip(dims[1:], dims[:-1])]
    last = synth[-1]  # shift the output's bias to about 0.5
    qb = last.bias_code.q.copy()
    qb[:] = np.clip(zero + round(0.5 / last.bias_code.scale), 0, 2 * zero - 1)
    code = QuantizedTensor(qb, last.bias_code.mask, bits, last.bias_code.scale, zero)
    synth[-1] = QuantizedLayer(last.weight, code.dequantize()[0], "quantized", code)
    conv_layer = layer(channels, 9 * channels, False, zero / 8) if conv else None
    adims = [context + channel_context, *arm, 2]
    arm_layers = [layer(o, i, True, zero / 16) for o, i in zip(adims[1:], adims[:-1])]
    stored = None if grid_levels is None else tuple(grid_levels)
    upsampling = None
    if upsampling_bits is not None:
        steps = max(range(levels)) if grid_levels is None else max(grid_levels)
        z = 1 << (upsampling_bits - 1)
        q = np.clip(np.round(rng.laplace(z, max(1.0, z / 8), (steps, latent_v4.UPSAMPLING_TAPS))), 0, 2 * z - 1)
        upsampling = QuantizedTensor(q.astype(np.int32), np.ones(q.shape, dtype=bool), upsampling_bits,
                                     float(np.float16(rng.uniform(0.001, 0.02))), z)
    return latent_v4.LatentNetwork(width, height, channels, grids, synth, conv_layer, arm_layers, stored, upsampling,
                                   channel_context)
