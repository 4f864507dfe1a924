"""The latent-grid network as trainable torch modules: latent grids, synthesis, ARM.

The same image as ``sirencodec.latent.synthesis`` computes from a file (up to float rounding),
and the same code length the range coder spends under the integer ARM (``format.arm``), in a
differentiable form: the ARM gives each latent the mean and scale of a Laplace, and the rate is
the Laplace mass of the latent's value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..format import arm as sarm
from ..format.latent_v4 import grid_shapes
from .config import LatentConfig, levels_for
from .synthesis import upsample_matrix

# The ARM's scales live in arm's table: b in [exp(LOG_SCALE_MIN), exp(LOG_SCALE_MIN + SCALE_TABLE / SCALE_STEPS)].
LOG_B_MIN = sarm.LOG_SCALE_MIN
LOG_B_MAX = sarm.LOG_SCALE_MIN + sarm.SCALE_TABLE / sarm.SCALE_STEPS


def soft_round(y: torch.Tensor, temp: float) -> torch.Tensor:
    """C3's soft rounding: a smooth staircase that tends to round() as ``temp`` -> 0."""
    m = torch.floor(y) + 0.5
    return m + 0.5 * torch.tanh((y - m) / temp) / math.tanh(0.5 / temp)


def context_index(shapes: Sequence[tuple[int, int]], context: int) -> torch.Tensor:
    """int32 [context * N]: where each latent's ``context`` causal neighbours (``arm.OFFSETS``)
    lie in the grids of ``shapes``, each zero-padded by 3 above, left and right, flattened and
    laid end to end; row k of the [context, N] view holds every latent's k-th neighbour.
    (int32: half the memory of int64 at the same speed; the padded grids of the largest image,
    8192 x 8192, hold under 2**27 values.)"""
    parts, offset = [], 0
    for h, w in shapes:
        rows, cols = torch.arange(3, h + 3)[:, None], torch.arange(3, w + 3)[None, :]
        parts.append(torch.stack([((rows + dy) * (w + 6) + cols + dx).reshape(-1)
                                  for dy, dx in sarm.OFFSETS[:context]]) + offset)
        offset += (h + 3) * (w + 6)
    return torch.cat(parts, 1).reshape(-1).to(torch.int32)


class LatentModel(nn.Module):
    """The latent grids, the synthesis (per-pixel layers + residual 3 x 3 convolution) and the
    ARM, as trainable torch modules. ``synthesize`` and ``rate_bits`` are written for speed on
    a CPU: the convolution as nine shifted sums (about 3x faster than ``Conv2d``'s backward at
    one channel); the ARM evaluated once over every grid's latents (fewer, larger ops), its
    contexts read by one ``index_select`` (``context_index``) and its layers run features-first
    (docs/results/CHANGELOG.md#latent-3; ``benchmarks/bench_train.py`` measures a step)."""

    def __init__(self, height: int, width: int, cfg: LatentConfig, channels: int = 1):
        super().__init__()
        self.size = (height, width)
        self.channels = channels
        levels = levels_for(height, width, cfg.levels)
        shapes = grid_shapes(height, width, levels)
        self.latents = nn.ParameterList([nn.Parameter(torch.zeros(s)) for s in shapes])
        for i, (h, w) in enumerate(shapes):
            self.register_buffer(f"up_rows{i}", torch.from_numpy(upsample_matrix(h, height)).float())
            self.register_buffer(f"up_cols{i}", torch.from_numpy(upsample_matrix(w, width)).float())
        dims = [levels, *cfg.hidden, channels]
        self.synthesis = nn.ModuleList([nn.Linear(i, o) for i, o in zip(dims, dims[1:])])
        self.conv = nn.Conv2d(channels, channels, 3, padding=1) if cfg.conv else None  # its parameters only
        if self.conv is not None:
            nn.init.zeros_(self.conv.weight)
            nn.init.zeros_(self.conv.bias)
        self.context = cfg.context
        self.register_buffer("context_index", context_index(shapes, cfg.context), persistent=False)
        adims = [cfg.context, *cfg.arm_hidden, 2]
        self.arm = nn.ModuleList([nn.Linear(i, o) for i, o in zip(adims, adims[1:])])

    def synthesize(self, ys: list[torch.Tensor]) -> torch.Tensor:
        """[C, H, W] image (pixels in [0, 1]) from latents ``ys`` (one tensor per grid)."""
        height, width = self.size
        feats = []
        for i, y in enumerate(ys):
            if y.shape == self.size:
                feats.append(y)
            else:
                feats.append(getattr(self, f"up_rows{i}") @ y @ getattr(self, f"up_cols{i}").T)
        a = torch.stack(feats).reshape(len(feats), -1)  # [L, H * W]
        for i, layer in enumerate(self.synthesis):
            a = torch.addmm(layer.bias[:, None], layer.weight, a)
            if i < len(self.synthesis) - 1:
                a = torch.relu(a)
        out = a.reshape(-1, height, width)
        if self.conv is not None:
            k = self.conv.weight
            padded = torch.nn.functional.pad(out, (1, 1, 1, 1))
            acc = self.conv.bias[:, None, None]
            for dy in range(3):
                for dx in range(3):
                    window = padded[:, dy: dy + height, dx: dx + width]
                    if self.channels == 1:
                        acc = acc + k[0, 0, dy, dx] * window
                    else:
                        acc = acc + torch.einsum("oc,chw->ohw", k[:, :, dy, dx], window)
            out = out + acc
        return out

    def laplace_params(self, ys: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and scale of every latent of grids ``ys`` (flattened, grid after grid) from its
        causal neighbours."""
        # One index_select from the zero-padded grids, laid end to end (its backward is one
        # index_add; 8 slices per grid took 1.7x as long). Features first, [context, N]: on a
        # CPU, addmm with the long dimension last runs the ARM 2.4x faster than [N, context].
        flat = torch.cat([torch.nn.functional.pad(y, (3, 3, 3, 0)).reshape(-1) for y in ys])
        a = flat.index_select(0, self.context_index).reshape(self.context, -1)
        for i, layer in enumerate(self.arm):
            a = torch.addmm(layer.bias[:, None], layer.weight, a)
            if i < len(self.arm) - 1:
                a = torch.relu(a)
        return a[0], torch.exp(a[1].clamp(LOG_B_MIN, LOG_B_MAX))

    def rate_bits(self, coded: list[torch.Tensor], contexts: list[torch.Tensor]) -> torch.Tensor:
        """Laplace code length of ``coded`` (integers or noisy values) given ``contexts``."""
        mu, b = self.laplace_params(contexts)
        d = torch.cat([y.reshape(-1) for y in coded]) - mu

        def cdf(t):
            return 0.5 + 0.5 * torch.sign(t) * (1 - torch.exp(-t.abs() / b))
        p = (cdf(d + 0.5) - cdf(d - 0.5)).clamp_min(sarm.PROB_FLOOR)
        return -torch.log2(p).sum()
