"""Training a latent-grid network to one image (torch): the encoder's half of ``latentnet``.

The model (Cool-chic, Ladune et al. ICCV 2023): integer latent grids at resolutions 1, 1/2,
... 1/2^(L-1) of the image, upsampled (``latentnet.upsample_matrix``) and mixed per pixel by a
small ReLU network plus a residual 3 x 3 convolution; an autoregressive model (ARM) reads
``context`` causal neighbours of each latent and gives the mean and scale of a Laplace over
its value, which is what the range coder spends (``sirencodec.arm``).

Training minimises ``MSE + lam * bpp`` (MSE of pixels in [0, 1]) with Adam in two stages:

1. **soft** (the first ``1 - hard_fraction`` of the steps, lr cosine-decayed from ``lr`` to 5 %):
   latents pass through C3's soft rounding plus uniform noise (Kim et al., CVPR 2024),
   temperature annealed 0.3 -> 0.1; the rate is the Laplace mass of the noisy values;
2. **hard** (the rest, lr ``hard_lr``): latents are rounded (straight-through gradient); the
   rate is that of the rounded latents.

Measured with ``benchmarks/latent_probe.py`` on the cameraman crop, 6,000 steps: the soft
stage moved the curve from +44.8 % to -24.0 % BD-rate against JPEG (docs/results/latent-soft).

After training, ``choose_bits`` picks each layer's bit width by the same trade-off measured
on real files, and ``export`` gives the file's description. ``fit_latent`` takes a
``control`` (rate control, ``latentrate``) that may move lam during the soft stage, and
``refine_latent`` continues a trained model in the hard stage at another lam.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from . import arm as sarm
from . import latentnet
from .latentnet import LatentNetwork
from .metrics import mse
from .network import QuantizedLayer, QuantizedTensor

SOFT_T0, SOFT_T1 = 0.3, 0.1  # soft-rounding temperature, annealed geometrically over the soft stage
LR_FLOOR = 0.05  # the soft stage's cosine ends at lr * LR_FLOOR
# The ARM's scales live in arm's table: b in [exp(LOG_SCALE_MIN), exp(LOG_SCALE_MIN + SCALE_TABLE / SCALE_STEPS)].
LOG_B_MIN = sarm.LOG_SCALE_MIN
LOG_B_MAX = sarm.LOG_SCALE_MIN + sarm.SCALE_TABLE / sarm.SCALE_STEPS
MIN_WEIGHT_BITS = 2  # choose_bits goes no lower
# ... and starts here. The ARM's few weights (8 -> 8 -> 8 -> 2) set every latent's code length:
# at 8 bits its quantization made cameraman's latents 19 % dearer than the float ARM it was
# trained as (docs/results/latent-v7); from 12 bits it chose 8, 11 and 10 for its three layers.
START_BITS = 12


@dataclass(frozen=True)
class LatentConfig:
    lam: float = 1e-3  # loss = MSE + lam * bpp
    steps: int = 12000
    hard_fraction: float = 0.1
    lr: float = 1e-2
    hard_lr: float = 1e-4
    levels: int = 7  # at most; fewer when the image is small (levels_for)
    hidden: tuple[int, ...] = (16,)
    conv: bool = True
    context: int = 8
    arm_hidden: tuple[int, ...] = (8, 8)
    seed: int = 0


def levels_for(height: int, width: int, levels: int) -> int:
    """As many grids as asked, but none beyond the first 1 x 1 one."""
    return max(1, min(levels, latentnet.max_levels(height, width)))


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
    contexts read by one ``index_select`` (``context_index``) and its layers run features-first.
    Cameraman 256 x 256, one thread: about 41 ms per step (docs/results/latent-v6)."""

    def __init__(self, height: int, width: int, cfg: LatentConfig, channels: int = 1):
        super().__init__()
        self.size = (height, width)
        self.channels = channels
        levels = levels_for(height, width, cfg.levels)
        shapes = latentnet.grid_shapes(height, width, levels)
        self.latents = nn.ParameterList([nn.Parameter(torch.zeros(s)) for s in shapes])
        for i, (h, w) in enumerate(shapes):
            self.register_buffer(f"up_rows{i}", torch.from_numpy(latentnet.upsample_matrix(h, height)).float())
            self.register_buffer(f"up_cols{i}", torch.from_numpy(latentnet.upsample_matrix(w, width)).float())
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


@dataclass
class LatentFit:
    model: LatentModel
    grids: list[np.ndarray]  # the rounded latents, int64
    seconds: float
    lam: float  # the rate weight at the end of training (a controller may have moved it)


Progress = Callable[[int, int, float, float], None]  # (step, total, train PSNR, rate proxy bpp)
Control = Callable[[LatentFit, float, int], float]  # (the model so far, rounded; lam; point 0..CONTROL_POINTS) -> the lam to go on with

CONTROL_START = 0.1  # a controller is first asked after this share of the soft stage ...
CONTROL_POINTS = 16  # ... and then this many times more, evenly, until the soft stage ends


def _planes(pixels: np.ndarray, device: str) -> torch.Tensor:
    planes = pixels[None] if pixels.ndim == 2 else np.moveaxis(pixels, -1, 0)  # [C, H, W]
    return torch.from_numpy(planes.astype(np.float32) / 255.0).to(device)


def _snapshot(model: LatentModel, seconds: float, lam: float) -> LatentFit:
    grids = [torch.round(y.detach()).cpu().numpy().astype(np.int64) for y in model.latents]
    return LatentFit(model=model, grids=grids, seconds=seconds, lam=lam)


def _step(model: LatentModel, opt: torch.optim.Optimizer, target: torch.Tensor, lam: float, lr: float,
          temp: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """One Adam step on MSE + lam * bpp: soft rounding at ``temp``, or rounded latents
    (straight-through) when ``temp`` is None. Returns (MSE, rate proxy bpp), detached scalars."""
    if temp is not None:
        noisy = [soft_round(y, temp) + torch.rand_like(y) - 0.5 for y in model.latents]
        image = model.synthesize([soft_round(v, temp) for v in noisy])
        bits = model.rate_bits(noisy, noisy)
    else:
        rounded = [y + (torch.round(y) - y).detach() for y in model.latents]
        image = model.synthesize(rounded)
        bits = model.rate_bits(rounded, rounded)
    for g in opt.param_groups:
        g["lr"] = lr
    mse = torch.mean((image - target) ** 2)
    bpp = bits / (model.size[0] * model.size[1])
    loss = mse + lam * bpp
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return mse.detach(), bpp.detach()


def fit_latent(pixels: np.ndarray, cfg: LatentConfig, device: str = "cpu",
               progress: Progress | None = None, progress_every: int = 200,
               control: Control | None = None) -> LatentFit:
    """Train a latent model to ``pixels`` (uint8 [H, W] or [H, W, C]) and round its latents.
    ``control`` (rate control) may move lam during the soft stage (CONTROL_POINTS times)."""
    start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    target = _planes(pixels, device)
    c, h, w = target.shape
    model = LatentModel(h, w, cfg, c).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    soft_steps = cfg.steps - round(cfg.hard_fraction * cfg.steps)
    first = round(CONTROL_START * soft_steps)
    every = max(1, (soft_steps - first) // CONTROL_POINTS)
    lam = cfg.lam
    for s in range(cfg.steps):
        if control is not None and first <= s < soft_steps and (s - first) % every == 0:
            lam = control(_snapshot(model, time.perf_counter() - start, lam), lam, (s - first) // every)
        if s < soft_steps:
            frac = s / max(1, soft_steps - 1)
            temp = SOFT_T0 * (SOFT_T1 / SOFT_T0) ** frac
            lr = cfg.lr * (LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * s / soft_steps)))
            mse, bpp = _step(model, opt, target, lam, lr, temp)
        else:
            mse, bpp = _step(model, opt, target, lam, cfg.hard_lr, None)
        if progress is not None and ((s + 1) % progress_every == 0 or s + 1 == cfg.steps):
            progress(s + 1, cfg.steps, -10 * math.log10(max(mse.item(), 1e-12)), bpp.item())
    return _snapshot(model.cpu(), time.perf_counter() - start, lam)


def refine_latent(fit: LatentFit, pixels: np.ndarray, lam: float, steps: int, lr: float,
                  device: str = "cpu") -> LatentFit:
    """``steps`` more rounded-latent (hard-stage) steps from ``fit`` at rate weight ``lam``
    (a fresh Adam at ``lr``), on a copy: rate control's correction after training."""
    start = time.perf_counter()
    model = copy.deepcopy(fit.model).to(device)
    target = _planes(pixels, device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        _step(model, opt, target, lam, lr, None)
    return _snapshot(model.cpu(), fit.seconds + time.perf_counter() - start, lam)


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


def export(fit: LatentFit, bits: int | Sequence[int] = 8) -> LatentNetwork:
    """The trained model as a file's description: rounded latents, quantized weights and
    biases (the ARM's on power-of-two steps). ``bits``: one width for every layer, or one per
    layer in file order (synthesis layers, the convolution, the ARM's layers)."""
    m = fit.model
    h, w = m.size
    modules = list(m.synthesis) + ([m.conv] if m.conv is not None else []) + list(m.arm)
    widths = [bits] * len(modules) if isinstance(bits, int) else list(bits)
    if len(widths) != len(modules):
        raise ValueError(f"{len(widths)} bit widths for {len(modules)} layers")

    def np_(p: torch.Tensor) -> np.ndarray:
        return p.detach().cpu().double().numpy()

    first_arm = len(modules) - len(m.arm)  # the ARM's layers take power-of-two steps
    layers = []
    for k, (module, b) in enumerate(zip(modules, widths)):
        weight = np_(module.weight)
        layers.append(quantized_layer(weight.reshape(weight.shape[0], -1), np_(module.bias), b, k >= first_arm))
    n_syn = len(m.synthesis)
    conv = layers[n_syn] if m.conv is not None else None
    return LatentNetwork(w, h, m.channels, [g.copy() for g in fit.grids], layers[:n_syn], conv,
                         layers[n_syn + (conv is not None):])


def choose_bits(fit: LatentFit, pixels: np.ndarray, lam: float, writer: Callable[[LatentNetwork], bytes],
                start: int = START_BITS, lowest: int = MIN_WEIGHT_BITS) -> tuple[list[int], LatentNetwork, bytes]:
    """Each layer's bit width by the training's own trade-off, measured on real files:
    layer after layer (file order), the width drops from ``start`` while the cost
    MSE(decoded uint8 / 255) + lam * bpp(``writer``'s bytes) falls. A coarser step saves
    weight bytes and costs distortion (synthesis, convolution) or latent bytes (ARM).
    Returns (widths, network, its bytes)."""
    h, w = pixels.shape[:2]
    mses: dict[tuple[int, ...], float] = {}

    def cost(widths: list[int]) -> tuple[float, LatentNetwork, bytes]:
        net = export(fit, widths)
        data = writer(net)
        key = tuple(widths[:len(net.synthesis) + (net.conv is not None)])  # the ARM's widths move no pixel
        if key not in mses:
            mses[key] = mse(pixels, net.render()) / 255.0**2
        return mses[key] + lam * 8 * len(data) / (h * w), net, data

    n = len(list(fit.model.synthesis)) + (fit.model.conv is not None) + len(list(fit.model.arm))
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
