"""Training a latent-grid network to one image (torch).

The model (``model.LatentModel``; Cool-chic, Ladune et al. ICCV 2023): integer latent grids at
resolutions 1, 1/2, ... 1/2^(L-1) of the image, upsampled and mixed per pixel by a small ReLU
network plus a residual 3 x 3 convolution; an autoregressive model (ARM) reads ``context``
causal neighbours of each latent and gives the mean and scale of a Laplace over its value,
which is what the range coder spends (``format.arm``).

Training minimises ``MSE + lam * bpp`` (MSE of pixels in [0, 1]) with Adam in two stages:

1. **soft** (the first ``1 - hard_fraction`` of the steps, lr cosine-decayed from ``lr`` to 5 %):
   latents pass through C3's soft rounding plus uniform noise (Kim et al., CVPR 2024),
   temperature annealed 0.3 -> 0.1; the rate is the Laplace mass of the noisy values
   (docs/results/CHANGELOG.md#latent-1);
2. **hard** (the rest, lr ``hard_lr``): latents are rounded (straight-through gradient); the
   rate is that of the rounded latents.

After training, ``export.choose_bits`` picks each layer's bit width by the same trade-off
measured on real files, and ``export.export`` gives the file's description. ``fit_latent``
takes a ``control`` (rate control, ``ratecontrol``) that may move lam during the soft stage,
and ``refine_latent`` continues a trained model in the hard stage at another lam.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..progress import Progress
from .config import LatentConfig
from .model import LatentModel, soft_round

SOFT_T0, SOFT_T1 = 0.3, 0.1  # soft-rounding temperature, annealed geometrically over the soft stage
LR_FLOOR = 0.05  # the soft stage's cosine ends at lr * LR_FLOOR


@dataclass
class LatentFit:
    model: LatentModel
    grids: list[np.ndarray]  # the rounded latents, int64
    seconds: float
    lam: float  # the rate weight at the end of training (a controller may have moved it)


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
            progress("latent", s + 1, cfg.steps, -10 * math.log10(max(mse.item(), 1e-12)))
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
