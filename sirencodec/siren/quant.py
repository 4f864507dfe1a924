"""Range-linear quantization of weight tensors (Jacob et al. 2018), for training and export.

A tensor with kept entries in [a, b] (the range widened to contain 0, so that 0 -- every
pruned weight -- is exact) gets

    S = float32((b - a) / (2**bits - 1))          Z = clamp(round(-a / S), 0, 2**bits - 1)
    q = clamp(round(w / S) + Z, 0, 2**bits - 1)     w_hat = float32(q - Z) * float32(S)

``w_hat`` is computed exactly as :meth:`sirencodec.format.tensors.QuantizedTensor.dequantize`
does (an exact small integer times a float32 scale, one rounding), so the integers written
to the file reproduce the weights of the training forward pass bit for bit.  During
quantization-aware training the rounding is skipped in the backward pass (straight-through
estimator): the float weights keep learning, the forward pass sees ``w_hat``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from ..format.siren_v3 import QuantizedNetwork
from ..format.tensors import QuantizedLayer, QuantizedTensor
from ..limits import MAX_BITS, MIN_BITS

if TYPE_CHECKING:  # only for annotations: model imports this module
    from .model import Siren


def quant_range(weight: torch.Tensor, mask: torch.Tensor, bits: int) -> tuple[float, int]:
    """Scale and zero point for the kept entries of ``weight`` [out, in] (``mask`` bool, same shape).

    Returns (S, Z) with S a positive float32-representable float and Z in [0, 2**bits)."""
    levels = (1 << bits) - 1
    a, b = _range_with_zero(weight, mask)
    if not np.isfinite(b - a):
        # Diverged weights: any valid placeholder; the NaN still reaches the loss, and the
        # trainer restarts the stage.
        return float(np.float32(1.0 / levels)), 0
    scale = float(np.float32((b - a) / levels))
    if not scale > 0.0:  # all kept weights zero (or a range that underflows): any scale works
        scale = float(np.float32(1.0 / levels))
    zero_point = int(np.clip(np.round(-a / scale), 0, levels))
    return scale, zero_point


def _range_with_zero(weight: torch.Tensor, mask: torch.Tensor) -> tuple[float, float]:
    """[a, b] of the kept entries, widened to include 0 so that pruned weights (and Z) are exact."""
    kept = weight.detach()[mask]
    if not kept.numel():
        return 0.0, 0.0
    return min(float(kept.min()), 0.0), max(float(kept.max()), 0.0)


def step_range(weight: torch.Tensor, mask: torch.Tensor, step: float, max_bits: int = MAX_BITS) -> tuple[float, int, int]:
    """Scale, zero point and bit width for the kept entries of ``weight`` at a given step.

    The step is the scale (as float32); the bit width is the smallest (at least MIN_BITS,
    at most ``max_bits``) whose levels cover the range widened to contain 0.  Returns
    (S, Z, bits)."""
    scale = float(np.float32(step))
    a, b = _range_with_zero(weight, mask)
    if not (np.isfinite(b - a) and scale > 0.0):
        return float(np.float32(1.0 / ((1 << max_bits) - 1))), 0, max_bits  # diverged: placeholder
    lo, hi = int(np.round(a / scale)), int(np.round(b / scale))
    bits = max(MIN_BITS, int(hi - lo).bit_length())  # hi - lo + 1 levels
    if bits > max_bits:  # range too wide for the step: fall back to min/max at max_bits
        scale, zero_point = quant_range(weight, mask, max_bits)
        return scale, zero_point, max_bits
    return scale, -lo, bits


def quantize(weight: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, bits: int) -> torch.Tensor:
    """Integer codes of ``weight`` [out, in] as a float32 tensor of exact integers in [0, 2**bits).

    ``scale`` and ``zero_point`` are 0-dim float32 tensors on the weight's device (a tensor,
    not a Python float, so the arithmetic is float32 on every backend)."""
    return torch.clamp(torch.round(weight / scale) + zero_point, 0.0, float((1 << bits) - 1))


def dequantize(q: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor) -> torch.Tensor:
    """float32(q - Z) * float32(S): |q - Z| < 2**16 so the subtraction is exact, one rounding."""
    return (q - zero_point) * scale


class _FakeQuantize(torch.autograd.Function):
    """w -> dequantize(quantize(w)) forward, identity backward (straight-through estimator)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, weight: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, bits: int
    ) -> torch.Tensor:
        return dequantize(quantize(weight, scale, zero_point, bits), scale, zero_point)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return grad, None, None, None


def fake_quantize(
    weight: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, bits: int
) -> torch.Tensor:
    """Quantize-dequantize ``weight`` [out, in] with a straight-through gradient; float32 [out, in]."""
    return _FakeQuantize.apply(weight, scale, zero_point, bits)


class _RoundFloat16(torch.autograd.Function):
    """Round to the nearest float16 value in the forward pass, identity backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor):  # type: ignore[override]
        return x.to(torch.float16).to(torch.float32)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return grad


def round_float16(x: torch.Tensor) -> torch.Tensor:
    """``x`` float32 rounded to float16-representable values, straight-through gradient."""
    return _RoundFloat16.apply(x)


def _numpy(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().numpy().astype(np.float32)


def export_network(model: "Siren", width: int, height: int) -> QuantizedNetwork:
    """The fake-quantized state of ``model`` as a :class:`QuantizedNetwork` for a W x H image.

    Every layer must be quantized (``model.quantized``).  The integers, masks, scales, zero
    points and biases are those of ``model.effective_weight``/``effective_bias``, so the
    dequantized weights equal the model's forward-pass weights exactly."""
    if not model.quantized:
        raise ValueError("model is not quantized: call model.enable_quantization first")
    layers = []
    with torch.no_grad():
        for i in range(model.num_layers):
            mask = model.mask(i)
            scale, zero_point = model.quant_params(i)
            q = quantize(model.coded_weight(i), scale, zero_point, model.bits[i])
            q = torch.where(mask, q, zero_point)  # pruned entries are exactly Z already; normalise
            tensor = QuantizedTensor(
                q=q.cpu().numpy().astype(np.int32),
                mask=mask.cpu().numpy().astype(bool),
                bits=model.bits[i],
                scale=float(scale.cpu()),
                zero_point=int(zero_point.cpu()),
                offset=_numpy(model.weight_offset(i)),
            )
            bias = model.effective_bias(i).detach().cpu().numpy().astype(np.float32)
            code = None
            if model.bias_dtypes[i] == "quantized":
                b_scale, b_zero = model.b_scale[i], model.b_zero[i]
                bq = quantize(model.coded_bias(i).detach(), b_scale, b_zero, model.bias_bits[i])
                offset = model.bias_offset(i)
                code = QuantizedTensor(
                    q=bq.cpu().numpy().astype(np.int32).reshape(1, -1),
                    mask=np.ones((1, bq.numel()), dtype=bool),
                    bits=model.bias_bits[i],
                    scale=float(b_scale.cpu()),
                    zero_point=int(b_zero.cpu()),
                    offset=None if offset is None else _numpy(offset).reshape(1, -1),
                )
            layers.append(QuantizedLayer(weight=tensor, bias=bias, bias_dtype=model.bias_dtypes[i], bias_code=code))
    return QuantizedNetwork(
        width=width,
        height=height,
        channels=model.channels,
        hidden_width=model.hidden_width,
        hidden_layers=model.hidden_layers,
        omega0_first=model.omega0_first,
        omega0_hidden=model.omega0_hidden,
        layers=layers,
    )
