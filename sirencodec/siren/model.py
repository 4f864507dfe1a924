"""The SIREN as a torch module, for training.

Same math as :func:`sirencodec.siren.network.forward` (the decoder):

    h_1     = sin(omega0_first  * (W_0 p + b_0))
    h_{i+1} = sin(omega0_hidden * (W_i h_i + b_i))
    out     = W_{N+1} h_{N+1} + b_{N+1}

with every ``W_i`` replaced by its *effective* weight: the float parameter times its
pruning mask, then (once quantization is enabled) fake-quantized with the layer's scale
and zero point.  Biases are fake-rounded to float16 or fake-quantized when the file stores them so.
With seeded residuals (format version 3) the first layer's weights and the quantized biases
are fake-quantized as residuals from their seeded values: ``seed + fq(w - seed)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..format import seeded
from ..format.siren_v3 import layer_shapes
from ..format.tensors import BIAS_DTYPES
from .config import DEFAULT_OMEGA0
from .quant import fake_quantize, quant_range, round_float16, step_range


class Siren(nn.Module):
    """SIREN with per-layer pruning masks and optional fake quantization.

    Parameters ``weights[i]`` [out, in] and ``biases[i]`` [out] for the layers of
    :func:`sirencodec.format.siren_v3.layer_shapes`.  Buffers: ``mask_i`` bool [out, in] (True =
    kept), ``q_scale`` / ``q_zero`` float32 [L] (current quantization parameters)."""

    def __init__(
        self,
        hidden_width: int,
        hidden_layers: int,
        channels: int,
        omega0_first: float = DEFAULT_OMEGA0,
        omega0_hidden: float = DEFAULT_OMEGA0,
        generator: torch.Generator | None = None,
        seeded_residuals: bool = False,
    ) -> None:
        super().__init__()
        self.hidden_width = hidden_width
        self.hidden_layers = hidden_layers
        self.channels = channels
        self.omega0_first = float(omega0_first)
        self.omega0_hidden = float(omega0_hidden)
        self.shapes = layer_shapes(hidden_width, hidden_layers, channels)
        self.num_layers = len(self.shapes)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for i, (fan_out, fan_in) in enumerate(self.shapes):
            # SIREN init (Sitzmann et al. 2020): first layer U(-1/fan_in, 1/fan_in), later layers
            # U(+-sqrt(6/fan_in)/omega0_hidden) keep pre-activations ~N(0,1) through the sines.
            # Biases: nn.Linear's default U(+-1/sqrt(fan_in)), as in the paper's reference code.
            bound = 1.0 / fan_in if i == 0 else math.sqrt(6.0 / fan_in) / self.omega0_hidden
            w = torch.empty(fan_out, fan_in).uniform_(-bound, bound, generator=generator)
            b_bound = 1.0 / math.sqrt(fan_in)
            b = torch.empty(fan_out).uniform_(-b_bound, b_bound, generator=generator)
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(b))
            self.register_buffer(f"mask_{i}", torch.ones(fan_out, fan_in, dtype=torch.bool))
        # Seeded residuals (format version 3): the first layer's weights and every bias
        # start from ``seeded``'s values, which a decoder regenerates; the first layer's weights
        # and the quantized biases are then quantized as residuals from them.  The other
        # parameters start as they would without.
        self.seeded_residuals = bool(seeded_residuals)
        if self.seeded_residuals:  # the seeded values, kept as buffers (they follow .to(device))
            self.register_buffer("seed_w0", torch.from_numpy(seeded.first_weights(self.shapes[0])))
            for i, (fan_out, fan_in) in enumerate(self.shapes):
                self.register_buffer(f"seed_b{i}", torch.from_numpy(seeded.biases(i, fan_out, fan_in)))
            with torch.no_grad():
                self.weights[0].copy_(self.seed_w0)
                for i in range(self.num_layers):
                    self.biases[i].copy_(getattr(self, f"seed_b{i}"))
        self.register_buffer("q_scale", torch.ones(self.num_layers))
        self.register_buffer("q_zero", torch.zeros(self.num_layers))
        self.register_buffer("b_scale", torch.ones(self.num_layers))  # quantized biases only
        self.register_buffer("b_zero", torch.zeros(self.num_layers))
        self.quantized = False
        self.bits: list[int] = []
        self.bias_dtypes: list[str] = ["float32"] * self.num_layers
        self.bias_bits: list[int | None] = [None] * self.num_layers
        # Per-layer step of a quantized bias coded as a seeded residual (the bit width then
        # follows the residual's range, as ``steps`` do for weights); None: min/max range.
        self.bias_steps: list[float | None] = [None] * self.num_layers
        # Per-layer quantization step (scale) fixed by the encoder's bit allocation; None:
        # the scale follows the min/max range at ``bits`` (see ``update_ranges``).
        self.steps: list[float | None] = [None] * self.num_layers

    # --- masks ---------------------------------------------------------------------------
    def mask(self, i: int) -> torch.Tensor:
        """bool [out, in] of layer ``i``, True where the weight is kept."""
        return getattr(self, f"mask_{i}")

    def set_mask(self, i: int, mask: torch.Tensor) -> None:
        """Replace layer ``i``'s mask and zero the pruned parameters."""
        self.mask(i).copy_(mask)
        with torch.no_grad():
            self.weights[i].mul_(self.mask(i))

    @torch.no_grad()
    def apply_masks_(self) -> None:
        """Re-zero pruned parameters (Adam's momentum would otherwise move them)."""
        for i in range(self.num_layers):
            self.weights[i].mul_(self.mask(i))

    # --- quantization --------------------------------------------------------------------
    def enable_quantization(
        self,
        bits: Sequence[int],
        bias_dtypes: Sequence[str] | None = None,
        bias_bits: Sequence[int | None] | None = None,
    ) -> None:
        """Fake-quantize layer ``i``'s weight to ``bits[i]`` bits from now on, and its bias as
        ``bias_dtypes[i]`` says ("quantized": to ``bias_bits[i]`` bits); ranges set from the values."""
        if len(bits) != self.num_layers:
            raise ValueError(f"need {self.num_layers} bit widths, got {len(bits)}")
        dtypes = list(bias_dtypes) if bias_dtypes is not None else ["float32"] * self.num_layers
        if len(dtypes) != self.num_layers or any(d not in BIAS_DTYPES for d in dtypes):
            raise ValueError(f"need {self.num_layers} bias dtypes from {BIAS_DTYPES}, got {dtypes}")
        b_bits = list(bias_bits) if bias_bits is not None else [None] * self.num_layers
        if len(b_bits) != self.num_layers or any((d == "quantized") != (b is not None) for d, b in zip(dtypes, b_bits)):
            raise ValueError("bias bit widths must be given exactly for the quantized biases")
        self.bits = [int(b) for b in bits]
        self.bias_dtypes = dtypes
        self.bias_bits = b_bits
        self.quantized = True
        # A residual bias keeps the step its bit width gives over the seeded range; its
        # (smaller) range then sets its bit width.
        self.bias_steps = [2.0 * seeded.bias_bound(self.shapes[i][1]) / ((1 << b) - 1)
                           if self.bias_offset(i) is not None else None for i, b in enumerate(b_bits)]
        self.steps = [None] * self.num_layers
        self.update_ranges()

    def set_steps(self, steps: Sequence[float | None]) -> None:
        """Fix each layer's quantization step (None: back to min/max at its bit width)."""
        if not self.quantized or len(steps) != self.num_layers:
            raise ValueError(f"need a quantized model and {self.num_layers} steps")
        self.steps = [None if s is None else float(s) for s in steps]
        self.update_ranges()

    # --- seeded residuals ------------------------------------------------------------------
    def weight_offset(self, i: int) -> torch.Tensor | None:
        """float32 [out, in]: the seeded values layer ``i``'s weights are coded relative to, or None."""
        return self.seed_w0 if self.seeded_residuals and i == 0 else None

    def bias_offset(self, i: int) -> torch.Tensor | None:
        """float32 [out]: the seeded values layer ``i``'s bias is coded relative to, or None
        (only quantized biases are)."""
        if not (self.seeded_residuals and self.quantized and self.bias_dtypes[i] == "quantized"):
            return None
        return getattr(self, f"seed_b{i}")

    def coded_weight(self, i: int) -> torch.Tensor:
        """What layer ``i``'s integers quantize: the masked weights, less their seeded offset."""
        w, off = self.masked_weight(i), self.weight_offset(i)
        return w if off is None else w - off

    def coded_bias(self, i: int) -> torch.Tensor:
        """What layer ``i``'s bias integers quantize: the bias, less its seeded offset."""
        b, off = self.biases[i], self.bias_offset(i)
        return b if off is None else b - off

    @torch.no_grad()
    def update_ranges(self) -> None:
        """Recompute every layer's (scale, zero point) from its current kept weights (and
        those of its bias, if quantized): of their residuals where they are seeded."""
        for i in range(self.num_layers):
            w = self.coded_weight(i)
            if self.steps[i] is None:
                scale, zero_point = quant_range(w, self.mask(i), self.bits[i])
            else:  # a fixed step: the bit width follows the range instead
                scale, zero_point, self.bits[i] = step_range(w, self.mask(i), self.steps[i])
            self.q_scale[i] = scale  # float32 buffer: scale is float32-representable, stored exactly
            self.q_zero[i] = zero_point
            if self.bias_bits[i] is not None:
                b = self.coded_bias(i)
                everywhere = torch.ones_like(b, dtype=torch.bool)
                if self.bias_steps[i] is None:
                    scale, zero_point = quant_range(b, everywhere, self.bias_bits[i])
                else:
                    scale, zero_point, self.bias_bits[i] = step_range(b, everywhere, self.bias_steps[i])
                self.b_scale[i] = scale
                self.b_zero[i] = zero_point

    def quant_params(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, zero point) of layer ``i`` as 0-dim float32 tensors."""
        return self.q_scale[i], self.q_zero[i]

    # --- effective parameters ------------------------------------------------------------
    def masked_weight(self, i: int) -> torch.Tensor:
        """float32 [out, in]: the parameter with pruned entries zeroed (no gradient there)."""
        return self.weights[i] * self.mask(i)

    def effective_weight(self, i: int) -> torch.Tensor:
        """float32 [out, in]: the weight the forward pass uses (masked, then fake-quantized)."""
        if not self.quantized:
            return self.masked_weight(i)
        scale, zero_point = self.quant_params(i)
        return _add_offset(fake_quantize(self.coded_weight(i), scale, zero_point, self.bits[i]),
                           self.weight_offset(i))

    def effective_bias(self, i: int) -> torch.Tensor:
        """float32 [out]: the bias the forward pass uses (rounded as the file stores it)."""
        b = self.biases[i]
        if self.quantized and self.bias_dtypes[i] == "float16":
            b = round_float16(b)
        elif self.quantized and self.bias_dtypes[i] == "quantized":
            b = _add_offset(fake_quantize(self.coded_bias(i), self.b_scale[i], self.b_zero[i], self.bias_bits[i]),
                            self.bias_offset(i))
        return b

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        """Network output float32 [P, C] for coordinates float32 [P, 2]."""
        n = self.num_layers
        return self.forward_with([self.effective_weight(i) for i in range(n)],
                                 [self.effective_bias(i) for i in range(n)], coords)

    def forward_with(self, weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor],
                     coords: torch.Tensor) -> torch.Tensor:
        """The network's math with the given per-layer weights and biases (no masking or
        quantization applied here): what ``forward`` runs, and what the bit allocation uses
        to try perturbed weights."""
        h = coords
        last = self.num_layers - 1
        for i in range(self.num_layers):
            w, b = weights[i], biases[i]
            if i < last:
                # omega0 * (h W^T + b) with the scaling folded into addmm (alpha, beta): the
                # same math, one elementwise pass over [P, out] fewer forward and backward.
                w0 = self.omega0_first if i == 0 else self.omega0_hidden
                h = torch.sin(torch.addmm(b, h, w.t(), beta=w0, alpha=w0))  # [P, out]
            else:
                h = torch.addmm(b, h, w.t())  # [P, C]
        return h


def _add_offset(x: torch.Tensor, offset: torch.Tensor | None) -> torch.Tensor:
    """``offset + x`` (a dequantized seeded residual), or ``x`` where nothing is seeded."""
    return x if offset is None else offset + x
