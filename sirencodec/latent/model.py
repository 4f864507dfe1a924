"""The latent-grid network as trainable torch modules: latent grids, synthesis, ARM.

The same image as ``sirencodec.latent.synthesis`` computes from a file (up to float rounding),
and the same code length the range coder spends under the integer ARM (``format.arm``), in a
differentiable form: the ARM gives each latent the mean and scale of a Laplace, and the rate is
the Laplace mass of the latent's value.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..format import arm as sarm
from ..format.latent_v4 import grid_shapes
from ..metrics import YCBCR, distortion_mix
from .config import CHROMA_SHARE, LatentConfig, chroma_grids, grid_levels
from .synthesis import cubic_x2, step_taps, upsample_matrix

# The ARM's scales live in arm's table: b in [exp(LOG_SCALE_MIN), exp(LOG_SCALE_MIN + SCALE_TABLE / SCALE_STEPS)].
LOG_B_MIN = sarm.LOG_SCALE_MIN
LOG_B_MAX = sarm.LOG_SCALE_MIN + sarm.SCALE_TABLE / sarm.SCALE_STEPS


def soft_round(y: torch.Tensor, temp: float | torch.Tensor) -> torch.Tensor:
    """C3's soft rounding: a smooth staircase that tends to round() as ``temp`` -> 0 (a Python
    number, or a 0-d tensor on ``y``'s device)."""
    m = torch.floor(y) + 0.5
    norm = math.tanh(0.5 / temp) if isinstance(temp, (int, float)) else torch.tanh(0.5 / temp)
    return m + 0.5 * torch.tanh((y - m) / temp) / norm


def context_index(shapes: Sequence[tuple[int, int]], context: int, sources: np.ndarray | None = None) -> torch.Tensor:
    """int32 [(context + J) * N]: where each latent's ``context`` causal neighbours
    (``arm.OFFSETS``) lie in the grids of ``shapes``, each zero-padded by 3 above, left and
    right, flattened and laid end to end, then its co-located latents in the grids ``sources[i]``
    (int [L, J], ``arm.channel_sources``; -1 reads a padding zero); row k of the
    [context + J, N] view holds every latent's k-th input.
    (int32: half the memory of int64 at the same speed; the padded grids of the largest image,
    8192 x 8192, hold under 2**27 values.)"""
    sources = np.zeros((len(shapes), 0), np.int64) if sources is None else sources
    starts = np.cumsum([0] + [(h + 3) * (w + 6) for h, w in shapes])
    parts = []
    for i, (h, w) in enumerate(shapes):
        rows, cols = torch.arange(3, h + 3)[:, None], torch.arange(3, w + 3)[None, :]
        spatial = [((rows + dy) * (w + 6) + cols + dx).reshape(-1) + int(starts[i]) for dy, dx in sarm.OFFSETS[:context]]
        channel = [(rows * (w + 6) + cols).reshape(-1) + int(starts[j]) if j >= 0 else torch.full((h * w,), int(starts[i]))
                   for j in sources[i]]
        parts.append(torch.stack(spatial + channel))
    return torch.cat(parts, 1).reshape(-1).to(torch.int32)


def step_basis(n_in: int, n_out: int) -> torch.Tensor:
    """float32 [4, n_out, n_in]: a x2 step's matrix (``synthesis.step_taps``) is the sum over t
    of filter tap t times slice t (clamped taps at the edges add up)."""
    idx, which = step_taps(n_in, n_out, np.arange(4))
    basis = np.zeros((4, n_out, n_in), dtype=np.float32)
    rows = np.repeat(np.arange(n_out)[:, None], 4, 1)
    np.add.at(basis, (which, rows, idx), 1.0)
    return torch.from_numpy(basis)


def plane_masks(chroma: Sequence[bool], dims: Sequence[int]) -> list[torch.Tensor]:
    """``ycbcr-split``'s [out, in] 0/1 mask of each synthesis layer (``dims``: grids, hidden
    widths, 3): hidden units split into luma and chroma ones (the last ``max(1, width //
    CHROMA_SHARE)``), each fed only by its plane's grids or units, Y by luma units, Cb and Cr
    by chroma ones. No masks when no grid feeds chroma."""
    if not any(chroma):
        return []
    sides = [torch.tensor(chroma)]
    for width in dims[1:-1]:
        sides.append(torch.arange(width) >= width - max(1, width // CHROMA_SHARE))
    sides.append(torch.tensor([False, True, True]))
    return [(o[:, None] == i[None, :]).float() for i, o in itertools.pairwise(sides)]


class LatentModel(nn.Module):
    """``batch`` latent-grid networks of one shape, as trainable torch modules: latent grids,
    synthesis (per-pixel layers + residual 3 x 3 convolution) and ARM, every parameter with a
    leading batch dimension, so that one step trains them all (each network has its own image,
    rate weight, seed and, through Adam's elementwise update, optimizer state; the losses are
    summed, so their gradients stay separate).

    ``synthesize`` and ``rate_bits`` are written for speed on a CPU: the convolution as nine
    shifted sums (about 3x faster than ``Conv2d``'s backward at one channel); the ARM evaluated
    once over every grid's latents (fewer, larger ops), its contexts read by one
    ``index_select`` (``context_index``) and its layers run features-first
    (docs/results/CHANGELOG.md#latent-3; ``benchmarks/bench_train.py`` measures a step).  A
    batch of one runs the same operations on the single network's 2-D views, so it trains
    exactly as a network alone."""

    def __init__(self, height: int, width: int, cfg: LatentConfig, channels: int = 1,
                 seeds: Sequence[int] | None = None):
        super().__init__()
        self.size = (height, width)
        self.channels = channels
        seeds = [cfg.seed] if seeds is None else list(seeds)
        self.batch = len(seeds)
        self.grid_levels = grid_levels(height, width, cfg)
        self.shapes = grid_shapes(height, width, self.grid_levels)
        self.latents = nn.ParameterList([nn.Parameter(torch.zeros(self.batch, *s)) for s in self.shapes])
        self.steps = max(self.grid_levels) if cfg.upsampling == "learned" else 0  # learned x2 filters
        if self.steps:  # step s's basis per axis; the filters start as Keys' cubic ones
            self.register_buffer("cubic_x2", torch.from_numpy(cubic_x2()).float())
            for s in range(1, self.steps + 1):
                (h0, w0), (h1, w1) = grid_shapes(height, width, [s - 1, s])
                self.register_buffer(f"step_rows{s}", step_basis(h1, h0))
                self.register_buffer(f"step_cols{s}", step_basis(w1, w0))
        else:
            for level in sorted(set(self.grid_levels)):  # one upsampling per level, shared by its grids
                h, w = grid_shapes(height, width, [level])[0]
                self.register_buffer(f"up_rows{level}", torch.from_numpy(upsample_matrix(h, height)).float())
                self.register_buffer(f"up_cols{level}", torch.from_numpy(upsample_matrix(w, width)).float())
        syn_dims = [len(self.shapes), *cfg.hidden, channels]
        arm_dims = [cfg.context + cfg.channel_context, *cfg.arm_hidden, 2]
        # Each network's initial weights are nn.Linear's (and nn.Conv2d's draws, though the
        # convolution starts at zero), drawn in file order after torch.manual_seed(its seed);
        # the generator's state after them is where the network's training noise starts.
        inits, self.noise_states = [], []
        for seed in seeds:
            torch.manual_seed(seed)
            syn = [nn.Linear(i, o) for i, o in zip(syn_dims, syn_dims[1:])]
            if cfg.conv:
                nn.Conv2d(channels, channels, 3)
            inits.append(syn + [nn.Linear(i, o) for i, o in zip(arm_dims, arm_dims[1:])])
            self.noise_states.append(torch.get_rng_state())

        def stacked(k: int) -> tuple[nn.Parameter, nn.Parameter]:
            return (nn.Parameter(torch.stack([layers[k].weight.detach() for layers in inits])),
                    nn.Parameter(torch.stack([layers[k].bias.detach() for layers in inits])))

        n_syn = len(syn_dims) - 1
        self.syn_weights, self.syn_biases = (nn.ParameterList(p) for p in zip(*(stacked(k) for k in range(n_syn))))
        self.arm_weights, self.arm_biases = (nn.ParameterList(p) for p in zip(
            *(stacked(k) for k in range(n_syn, n_syn + len(arm_dims) - 1))))
        if cfg.conv:
            self.conv_weight = nn.Parameter(torch.zeros(self.batch, channels, channels, 3, 3))
            self.conv_bias = nn.Parameter(torch.zeros(self.batch, channels))
        else:
            self.conv_weight = self.conv_bias = None
        # The learned filters' residuals from Keys' taps: [B, steps, 4], row s - 1 step s's.
        self.up_residual = nn.Parameter(torch.zeros(self.batch, self.steps, 4)) if self.steps else None
        self.arm_inputs = cfg.context + cfg.channel_context  # spatial neighbours, then channel inputs
        self.channel_context = cfg.channel_context
        self.distortion = cfg.distortion  # (export.choose_bits measures files by it)
        mix = distortion_mix(cfg.distortion, channels)  # training's, on the planes: None for the plain MSE
        self.register_buffer("mix", None if mix is None else torch.from_numpy(mix).float())
        self.ycbcr = cfg.colour != "rgb" and channels == 3
        if self.ycbcr:  # the synthesis computes Y, Cb, Cr; the image is to_rgb @ them
            self.register_buffer("to_rgb", torch.from_numpy(np.linalg.inv(YCBCR)).float())
            self.register_buffer("from_rgb", torch.from_numpy(YCBCR).float())
            masks = plane_masks(chroma_grids(self.grid_levels, cfg, channels), syn_dims)
            for k, mask in enumerate(masks):
                self.register_buffer(f"syn_mask{k}", mask)
            if masks and cfg.conv:  # the convolution, too, mixes luma with luma and chroma with chroma
                chroma = torch.tensor([False, True, True])
                self.register_buffer("conv_mask", (chroma[:, None] == chroma[None, :]).float()[:, :, None, None])
        sources = sarm.channel_sources(self.grid_levels, cfg.channel_context)
        self.register_buffer("context_index", context_index(self.shapes, cfg.context, sources), persistent=False)

    def layer_params(self, b: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Network ``b``'s layers in file order (synthesis, convolution, ARM) as (weight
        [out, in], bias [out]); the convolution's weight is [C, C * 9]."""
        weights = self._masked([w[b] for w in self.syn_weights])
        layers = list(zip(weights, [bias[b] for bias in self.syn_biases]))
        conv = None if self.conv_weight is None else (self._masked_conv(self.conv_weight[b]), self.conv_bias[b])
        if self.ycbcr:  # the conversion folded in: RGB = T (o + conv(o)) = T o + conv'(T o)
            t, m = self.to_rgb, self.from_rgb
            layers[-1] = (t @ layers[-1][0], t @ layers[-1][1])
            if conv is not None:
                conv = (torch.einsum("oa,acyx,ci->oiyx", t, conv[0], m), t @ conv[1])
        if conv is not None:
            layers.append((conv[0].reshape(self.channels, -1), conv[1]))
        return layers + [(w[b], bias[b]) for w, bias in zip(self.arm_weights, self.arm_biases)]

    def _masked(self, weights: list[torch.Tensor]) -> list[torch.Tensor]:
        """The synthesis weights with ``ycbcr-split``'s luma/chroma separation applied."""
        if not hasattr(self, "syn_mask0"):
            return weights
        return [w * getattr(self, f"syn_mask{k}") for k, w in enumerate(weights)]

    def _masked_conv(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * self.conv_mask if hasattr(self, "conv_mask") else weight

    def subset(self, keep: Sequence[int]) -> LatentModel:
        """Networks ``keep`` (indices into the batch) as a batch of their own, holding copies of
        their parameters (the upsampling and context buffers are shared)."""
        out = LatentModel.__new__(LatentModel)
        nn.Module.__init__(out)
        out.size, out.channels, out.shapes = self.size, self.channels, self.shapes
        out.arm_inputs, out.channel_context = self.arm_inputs, self.channel_context
        out.grid_levels, out.distortion, out.ycbcr = self.grid_levels, self.distortion, self.ycbcr
        out.steps = self.steps
        out.batch, out.noise_states = len(keep), [self.noise_states[b] for b in keep]
        out.register_buffer("mix", None)  # (replaced below when the networks have one)
        for name, buffer in self.named_buffers():
            out.register_buffer(name, buffer, persistent=name != "context_index")
        index = torch.as_tensor(list(keep), device=self.latents[0].device)

        def copied(p: torch.Tensor) -> nn.Parameter:
            return nn.Parameter(p.detach().index_select(0, index).clone())

        for name in ("latents", "syn_weights", "syn_biases", "arm_weights", "arm_biases"):
            setattr(out, name, nn.ParameterList([copied(p) for p in getattr(self, name)]))
        out.conv_weight = None if self.conv_weight is None else copied(self.conv_weight)
        out.conv_bias = None if self.conv_bias is None else copied(self.conv_bias)
        out.up_residual = None if self.up_residual is None else copied(self.up_residual)
        return out

    def _params(self, params: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """A batch of one computes on its network's own 2-D tensors (the operations of a
        network trained alone); a batch, on the stacked ones."""
        return [p[0] for p in params] if self.batch == 1 else list(params)

    def upsampling(self) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        """Each grid level's upsampling as (rows' matrix [(B,) H, h], columns' matrix transposed
        [(B,) w, W]): Keys' cubic ones, or the product of the learned x2 steps (step 1's first)."""
        levels = sorted(set(self.grid_levels))
        if not self.steps:
            return {lv: (getattr(self, f"up_rows{lv}"), getattr(self, f"up_cols{lv}").T) for lv in levels}
        filters, = self._params([self.cubic_x2 + self.up_residual])  # [(B,) steps, 4]
        out, rows, cols = {}, None, None
        for s in range(1, self.steps + 1):
            step = []
            for axis in ("rows", "cols"):
                basis = getattr(self, f"step_{axis}{s}")
                step.append(torch.einsum("...t,tij->...ij", filters[..., s - 1, :], basis))
            rows = step[0] if rows is None else rows @ step[0]
            cols = step[1] if cols is None else cols @ step[1]
            out[s] = (rows, cols.transpose(-1, -2))
        return {lv: out[lv] for lv in levels if lv > 0}

    def synthesize(self, ys: list[torch.Tensor]) -> torch.Tensor:
        """[B, C, H, W] images (pixels in [0, 1]) from latents ``ys`` (one [B, h, w] tensor per grid)."""
        height, width = self.size
        one = self.batch == 1
        feats = []
        ups = self.upsampling()
        for level, y in zip(self.grid_levels, self._params(ys)):
            if y.shape[-2:] == self.size:
                feats.append(y)
            else:
                rows, cols_t = ups[level]
                if self.steps:  # an axis the grid already spans is taken as is (Keys' matrix is the identity there)
                    rows = None if y.shape[-2] == height else rows
                    cols_t = None if y.shape[-1] == width else cols_t
                up = y if rows is None else rows @ y
                feats.append(up if cols_t is None else up @ cols_t)
        a = torch.stack(feats, -3).reshape(*feats[0].shape[:-2], len(feats), -1)  # [(B,) L, H * W]
        weights, biases = self._masked(self._params(self.syn_weights)), self._params(self.syn_biases)
        for i, (w, bias) in enumerate(zip(weights, biases)):
            a = torch.addmm(bias[:, None], w, a) if one else torch.baddbmm(bias[:, :, None], w, a)
            if i < len(weights) - 1:
                a = torch.relu(a)
        out = a.reshape(*a.shape[:-2], -1, height, width)  # [(B,) C, H, W]
        if self.conv_weight is not None:
            k, = self._params([self._masked_conv(self.conv_weight)])
            bias, = self._params([self.conv_bias])
            padded = torch.nn.functional.pad(out, (1, 1, 1, 1))
            acc = bias[..., None, None]
            for dy in range(3):
                for dx in range(3):
                    window = padded[..., dy: dy + height, dx: dx + width]
                    if self.channels == 1:
                        tap = k[0, 0, dy, dx] if one else k[:, 0, 0, dy, dx][:, None, None, None]
                        acc = acc + tap * window
                    elif one:
                        acc = acc + torch.einsum("oc,chw->ohw", k[:, :, dy, dx], window)
                    else:
                        acc = acc + torch.einsum("boc,bchw->bohw", k[:, :, :, dy, dx], window)
            out = out + acc
        if self.ycbcr:
            out = torch.einsum("oc,...chw->...ohw", self.to_rgb, out)
        return out[None] if one else out

    def laplace_params(self, ys: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and scale ([B, N]) of every latent of grids ``ys`` (flattened, grid after grid)
        from its causal neighbours."""
        # One index_select from the zero-padded grids, laid end to end (its backward is one
        # index_add; 8 slices per grid took 1.7x as long). Features first, [context, N]: on a
        # CPU, addmm with the long dimension last runs the ARM 2.4x faster than [N, context].
        # A batch reads its networks' grids laid end to end in one flat tensor, through one
        # index per network (an index_add along a batch's second dimension is 5x slower).
        one = self.batch == 1
        ys = self._params(ys)
        flat = torch.cat([torch.nn.functional.pad(y, (3, 3, 3, 0)).flatten(-2) for y in ys], -1)
        if one:
            a = flat.index_select(0, self.context_index).reshape(self.arm_inputs, -1)
        else:
            a = flat.reshape(-1).index_select(0, self._batch_index(flat.shape[1])).reshape(self.batch, self.arm_inputs, -1)
        weights, biases = self._params(self.arm_weights), self._params(self.arm_biases)
        for i, (w, bias) in enumerate(zip(weights, biases)):
            a = torch.addmm(bias[:, None], w, a) if one else torch.baddbmm(bias[:, :, None], w, a)
            if i < len(weights) - 1:
                a = torch.relu(a)
        if one:
            a = a[None]
        return a[:, 0], torch.exp(a[:, 1].clamp(LOG_B_MIN, LOG_B_MAX))

    def _batch_index(self, padded: int) -> torch.Tensor:
        """``context_index`` for each network of the batch, offset by ``padded`` (one network's
        padded grids) per network: [B * context * N], int32 where it fits (made once)."""
        if getattr(self, "_batch_index_cache", None) is None or self._batch_index_cache.device != self.context_index.device:
            offsets = torch.arange(self.batch, device=self.context_index.device, dtype=torch.int64)[:, None] * padded
            index = (self.context_index.to(torch.int64)[None] + offsets).reshape(-1)
            self._batch_index_cache = index.to(torch.int32) if self.batch * padded < 2**31 else index
        return self._batch_index_cache

    def rate_bits(self, coded: list[torch.Tensor], contexts: list[torch.Tensor]) -> torch.Tensor:
        """[B] Laplace code lengths of ``coded`` (integers or noisy values) given ``contexts``."""
        mu, b = self.laplace_params(contexts)
        d = torch.cat([y.flatten(1) for y in coded], 1) - mu

        def cdf(t):
            return 0.5 + 0.5 * torch.sign(t) * (1 - torch.exp(-t.abs() / b))
        p = (cdf(d + 0.5) - cdf(d - 0.5)).clamp_min(sarm.PROB_FLOOR)
        return -torch.log2(p).sum()[None] if self.batch == 1 else -torch.log2(p).sum(1)
