"""Bit allocation: each layer's quantization step set from its measured sensitivity, so that
a given distortion is coded in the fewest bits (the SIREN's weights before QAT).

Weights quantized with step S_i add about ``sum a_i S_i**2`` to the MSE, ``a_i`` the layer's
sensitivity measured by :class:`SensitivityProbe`, and code in about ``sum N_i (h_i - log2 S_i)``
bits; :func:`balanced_steps` gives the steps that minimise the bits at a distortion budget,
:func:`allocate_steps` applies them to a quantized model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .model import Siren

ALLOC_DRAWS = 4  # noise draws per layer when measuring its sensitivity
ALLOC_PIXELS = 1 << 16  # pixels the sensitivity is measured on (an evenly spaced subset)
ALLOC_RATIO = 4.0  # a layer's step moves at most this factor from the uniform allocation's


@torch.no_grad()
def allocate_steps(
    model: Siren, coords: torch.Tensor, target: torch.Tensor, seed: int, noise_share: float | None = None
) -> list[float]:
    """Set each layer's quantization step from its measured sensitivity; fixes ``model``'s steps.

    The quantized ``model`` starts from the uniform allocation: every layer's step is its
    min/max range over ``2**bits - 1``.  Each layer's sensitivity is measured with
    :class:`SensitivityProbe`, and the steps are moved to :func:`balanced_steps` (at most
    ``ALLOC_RATIO`` from where they were) for a distortion budget: that of the uniform
    allocation, or with ``noise_share`` that share of the float (pruned) network's MSE.  The
    bit widths then follow from the ranges (``Siren.set_steps``).  Returns the steps."""
    n = model.num_layers
    probe = SensitivityProbe(model, coords, target, seed)
    old = [float(model.q_scale[i]) for i in range(n)]
    kept = [int(model.mask(i).sum()) for i in range(n)]
    sens = [probe.sensitivity(i, model.mask(i)) for i in range(n)]
    budget = None if noise_share is None else noise_share * probe.float_mse()
    balanced = balanced_steps(kept, sens, old, budget)
    steps = [min(max(b, s / ALLOC_RATIO), s * ALLOC_RATIO) for b, s in zip(balanced, old)]
    model.set_steps(steps)
    return steps


class SensitivityProbe:
    """How much quantization noise in part of a layer raises the image MSE.

    Measured on an evenly spaced subset of ``ALLOC_PIXELS`` pixels of the quantized
    ``model`` as it is now, with ``ALLOC_DRAWS`` seeded draws of uniform noise of one
    quantization step (variance S**2 / 12, what quantizing adds), each with its negation so
    that the first-order change of the MSE cancels and only the noise's own cost remains."""

    @torch.no_grad()
    def __init__(self, model: Siren, coords: torch.Tensor, target: torch.Tensor, seed: int) -> None:
        every = max(1, coords.shape[0] // ALLOC_PIXELS)
        self.model, self.xs, self.ys = model, coords[::every], target[::every]
        n = model.num_layers
        self.weights = [model.effective_weight(i) for i in range(n)]
        self.biases = [model.effective_bias(i) for i in range(n)]
        self.base = self._mse(self.weights)
        self.gen = torch.Generator().manual_seed(seed + 2)

    def _mse(self, weights: list[torch.Tensor]) -> float:
        return float(torch.mean((self.model.forward_with(weights, self.biases, self.xs) - self.ys) ** 2))

    @torch.no_grad()
    def float_mse(self) -> float:
        """The MSE with the weights unquantized (pruned entries zero) on the same pixels."""
        return self._mse([self.model.masked_weight(i) for i in range(self.model.num_layers)])

    @torch.no_grad()
    def sensitivity(self, i: int, where: torch.Tensor) -> float:
        """MSE increase per unit S**2 (S: layer ``i``'s step) of noise on its entries in
        ``where`` (bool, the layer's shape; only kept entries count)."""
        step = float(self.model.q_scale[i])
        w = self.weights[i]
        rise = 0.0
        for _ in range(ALLOC_DRAWS):
            noise = (torch.rand(w.shape, generator=self.gen) - 0.5).to(w.device) * step * (self.model.mask(i) & where)
            for sign in (1.0, -1.0):  # antithetic pair: the first-order change cancels exactly
                trial = list(self.weights)
                trial[i] = w + sign * noise
                rise += 0.5 * (self._mse(trial) - self.base)
        return max(rise / ALLOC_DRAWS, 1e-30) / step**2


def balanced_steps(
    kept: Sequence[int], sens: Sequence[float], steps: Sequence[float], budget: float | None = None
) -> list[float]:
    """The steps that code ``kept`` weights in the fewest bits at distortion ``budget``
    (None: the distortion of ``steps``).

    Weights quantized with step S_i add D = sum a_i S_i**2 to the MSE (``sens`` = a_i) and
    code in about sum N_i (h_i - log2 S_i) bits; at fixed D the rate is lowest where
    S_i**2 is proportional to N_i / a_i (the parts that matter least per weight get the
    coarsest steps)."""
    if budget is None:
        budget = sum(a * s * s for a, s in zip(sens, steps))
    raw = [math.sqrt(max(k, 1) / a) for k, a in zip(kept, sens)]
    norm = math.sqrt(budget / sum(a * r * r for a, r in zip(sens, raw)))
    return [r * norm for r in raw]
