"""A trained latent model as a file's description: rounded latents, each layer's weights
quantized at a bit width chosen on real files (``choose_bits``).

The synthesis and convolution take float16 steps; the ARM's steps are powers of two so that
its integers are exact in the decoder's fixed point (``format.arm``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..format import arm as sarm
from ..format.latent_v4 import LatentNetwork
from ..format.tensors import QuantizedLayer, QuantizedTensor
from ..metrics import distortion
from .fit import LatentFit
from .synthesis import render_network

MIN_WEIGHT_BITS = 2  # choose_bits goes no lower ...
START_BITS = 12  # ... and starts every layer here (docs/results/CHANGELOG.md#latent-4)


def _quantize(t: np.ndarray, bits: int, power_of_two: bool) -> QuantizedTensor:
    """Symmetric uniform quantization of a 2-D float array with zero point 2**(bits - 1);
    ``power_of_two``: the step is 2**-k, k in 0..FRAC_BITS (the ARM's fixed point)."""
    t = np.asarray(t, dtype=np.float64)
    top = (1 << (bits - 1)) - 1
    peak = float(np.abs(t).max(initial=0.0))
    if power_of_two:
        k = sarm.FRAC_BITS if peak == 0 else int(np.clip(np.floor(np.log2(top / peak)), 0, sarm.FRAC_BITS))
        scale = 2.0**-k
    else:  # the smallest float16 step that keeps every value within the alphabet
        scale = float(np.float16(peak / top)) if peak > 0 else 1.0
        if scale < peak / top:
            scale = float(np.nextafter(np.float16(scale), np.float16(np.inf)))
    zero = 1 << (bits - 1)
    q = np.clip(np.round(t / scale) + zero, 0, (1 << bits) - 1).astype(np.int32)
    return QuantizedTensor(q, np.ones(q.shape, dtype=bool), bits, scale, zero)


def quantized_layer(weight: np.ndarray, bias: np.ndarray, bits: int, power_of_two: bool) -> QuantizedLayer:
    w = _quantize(weight, bits, power_of_two)
    code = _quantize(np.asarray(bias).reshape(1, -1), bits, power_of_two)
    return QuantizedLayer(w, code.dequantize()[0], "quantized", code)


def quantized_count(model) -> int:
    """How many quantized tensors ``export`` takes a bit width for: each layer (synthesis
    layers, the convolution, the ARM's layers), then the learned upsampling filters if any."""
    return len(model.layer_params()) + (model.up_residual is not None)


def export(fit: LatentFit, bits: int | Sequence[int] = 8) -> LatentNetwork:
    """The trained model as a file's description: rounded latents, quantized weights and
    biases (the ARM's on power-of-two steps), the learned upsampling filters' residuals.
    ``bits``: one width for everything, or one per quantized tensor in file order
    (``quantized_count``)."""
    m = fit.model
    h, w = m.size
    params = m.layer_params()
    n = quantized_count(m)
    widths = [bits] * n if isinstance(bits, int) else list(bits)
    if len(widths) != n:
        raise ValueError(f"{len(widths)} bit widths for {n} quantized tensors")

    def np_(p: torch.Tensor) -> np.ndarray:
        return p.detach().cpu().double().numpy()

    first_arm = len(params) - len(m.arm_weights)  # the ARM's layers take power-of-two steps
    layers = [quantized_layer(np_(weight), np_(bias), b, k >= first_arm)
              for k, ((weight, bias), b) in enumerate(zip(params, widths[:len(params)]))]
    n_syn = len(m.syn_weights)
    conv = layers[n_syn] if m.conv_weight is not None else None
    upsampling = None
    if m.up_residual is not None:
        upsampling = _quantize(np_(m.up_residual[0]), widths[len(params)], False)
    arm_layers = layers[n_syn + (conv is not None):]
    channel = m.channel_context
    if channel and (upsampling is None or (sarm.channel_sources(m.grid_levels, channel) < 0).all()):
        # No grid shares its level (its channel inputs are all zero), or no upsampling record
        # to extend: the ARM without those inputs predicts the same and fits an older version.
        first = arm_layers[0]
        t = first.weight
        kept = QuantizedTensor(t.q[:, :-channel].copy(), t.mask[:, :-channel].copy(), t.bits, t.scale, t.zero_point)
        arm_layers = [dataclasses.replace(first, weight=kept)] + arm_layers[1:]
        channel = 0
    return LatentNetwork(w, h, m.channels, [g.copy() for g in fit.grids], layers[:n_syn], conv,
                         arm_layers, tuple(m.grid_levels), upsampling, channel)


def choose_bits(fit: LatentFit, pixels: np.ndarray, lam: float, writer: Callable[[LatentNetwork], bytes],
                start: int = START_BITS, lowest: int = MIN_WEIGHT_BITS) -> tuple[list[int], LatentNetwork, bytes]:
    """Each layer's bit width by the training's own trade-off, measured on real files:
    layer after layer (file order), the width drops from ``start`` while the cost
    D(decoded uint8 / 255) + lam * bpp(``writer``'s bytes) falls, D the training's distortion. A coarser step saves
    weight bytes and costs distortion (synthesis, convolution, upsampling filters) or latent
    bytes (ARM).
    Returns (widths, network, its bytes)."""
    h, w = pixels.shape[:2]
    mses: dict[tuple[int, ...], float] = {}

    def cost(widths: list[int]) -> tuple[float, LatentNetwork, bytes]:
        net = export(fit, widths)
        data = writer(net)
        first_arm = len(net.synthesis) + (net.conv is not None)
        key = tuple(widths[:first_arm] + widths[first_arm + len(net.arm):])  # the ARM's widths move no pixel
        if key not in mses:
            mses[key] = distortion(pixels, render_network(net), fit.model.distortion) / 255.0**2
        return mses[key] + lam * 8 * len(data) / (h * w), net, data

    n = quantized_count(fit.model)
    widths = [start] * n
    best, net, data = cost(widths)
    for i in range(n):
        while widths[i] > lowest:
            trial = widths[:i] + [widths[i] - 1] + widths[i + 1:]
            j, trial_net, trial_data = cost(trial)
            if j >= best:
                break
            best, widths, net, data = j, trial, trial_net, trial_data
    return widths, net, data
