"""Many SIRENs of one depth trained together: ``fit_network_batch``.

Each network is its own :class:`~sirencodec.siren.model.Siren` with its own width, image, seed,
pruning targets and schedule, bit widths, bit allocation, range refreshes, learning rates and
Adam state: every per-network decision is the one ``fit.fit_network`` makes alone. What is
shared is the pixel-sized work of a step: on a GPU the B networks' effective weights are
stacked -- a narrower network's as masked units of the widest, its weights padded with zeros
-- and one batched product per layer runs all of them over their pixels (``forward``), and one
backward pass serves them all (the losses are summed, so gradients stay separate). A padded
unit's pre-activation is exactly 0, its sine 0 and its outgoing weights 0, so it adds nothing
and receives no gradient. A network therefore ends where it ends alone, up to floating-point
order; a batch of one *is* ``fit_network``.

Divergence: alone, a stage whose loss turns NaN/Inf (or, fitting, collapses) goes back to a
checkpoint at half the rate. In a batch such a network leaves it and is trained again from
the start alone (``fit_network``, with those restarts); the others go on.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..imageio import channels as channels_of
from ..imageio import check_image
from ..progress import Progress
from .allocate import allocate_steps
from .config import PRUNE_LR_FACTOR, FitConfig, resolved
from .fit import (
    PSNR_EVERY,
    FitResult,
    _check_config,
    _training_tensors,
    agp_schedule,
    collapsed,
    fit_network,
    layer_bias_bits,
    layer_bias_dtypes,
    layer_bits,
    prune_targets,
    psnr_from_mse,
)
from .model import Siren
from .prune import AgpPruner
from .quant import export_network

# FitConfig fields every network of a batch shares: its depth, its stages' lengths (the
# networks step in lockstep) and its pixel batch. Widths may differ.
SHARED = ("hidden_layers", "omega0", "omega0_first", "fit_steps", "prune_steps", "qat_steps",
          "batch_pixels", "seeded_residuals")


def batch_key(config: FitConfig) -> tuple:
    """Configs with equal keys can train in one batch."""
    config = resolved(config)
    return tuple(getattr(config, name) for name in SHARED)


def forward(models: Sequence[Siren], coords: torch.Tensor) -> torch.Tensor:
    """[B, P, C] outputs of ``models`` (one depth) at their coordinates ``coords`` [B, P, 2]:
    ``Siren.forward``'s math. On a GPU each layer is one batched product over the stacked
    effective weights; on a CPU each network runs its own forward (a batch's activations, B
    times a network's, outgrow the caches: the fast preset's (32, 3) fit ran 2x slower per
    network batched than alone on 256 x 256), so there a batch trains exactly as its networks
    alone, step by step."""
    if coords.device.type != "cuda":
        return torch.stack([m(coords[k]) for k, m in enumerate(models)])
    return stacked_forward(models, coords)


def stacked_forward(models: Sequence[Siren], coords: torch.Tensor) -> torch.Tensor:
    """``forward`` as one batched product per layer over the stacked effective weights, each
    network's padded with zeros to the widest (masked units)."""
    first = models[0]
    h = coords
    last = first.num_layers - 1
    for i in range(first.num_layers):
        weights = [m.effective_weight(i) for m in models]
        out_max, in_max = max(w.shape[0] for w in weights), max(w.shape[1] for w in weights)
        w = torch.stack([F.pad(w, (0, in_max - w.shape[1], 0, out_max - w.shape[0]))
                         for w in weights]).transpose(1, 2)  # [B, in, out]
        b = torch.stack([F.pad(m.effective_bias(i), (0, out_max - weights[k].shape[0]))
                         for k, m in enumerate(models)])[:, None, :]  # [B, 1, out]
        if i < last:
            w0 = first.omega0_first if i == 0 else first.omega0_hidden
            h = torch.sin(torch.baddbmm(b, h, w, beta=w0, alpha=w0))
        else:
            h = torch.baddbmm(b, h, w)
    return h


@dataclasses.dataclass
class _Network:
    """One network of a batch and what trains it."""

    image: np.ndarray
    config: FitConfig
    model: Siren
    target: torch.Tensor  # [H*W, C]
    gen: torch.Generator  # its pixel batches
    psnr: dict[str, float] = dataclasses.field(default_factory=dict)
    lr: dict[str, float] = dataclasses.field(default_factory=dict)
    diverged: str | None = None  # the stage where it left the batch


def fit_network_batch(images: Sequence[np.ndarray], configs: Sequence[FitConfig], device: torch.device | str,
                      progress: Progress | None = None) -> list[FitResult]:
    """Fit, prune and quantize one SIREN per image (uint8, one shape) with ``configs[k]`` (equal
    in ``SHARED``; widths may differ), trained together; each result as ``fit.fit_network``
    gives it alone."""
    if len(images) != len(configs) or not images:
        raise ValueError(f"a batch needs one config per image, got {len(images)} images and {len(configs)} configs")
    if len(images) == 1:
        return [fit_network(images[0], configs[0], device, progress)]
    pixels = [check_image(im) for im in images]
    if len({p.shape for p in pixels}) > 1:
        raise ValueError(f"a batch trains images of one shape, got {sorted({p.shape for p in pixels})}")
    configs = [resolved(c) for c in configs]
    if len({batch_key(c) for c in configs}) > 1:
        raise ValueError(f"a batch's networks must share {', '.join(SHARED)}")
    channels = channels_of(pixels[0])
    for config in configs:
        _check_config(config, channels)
    height, width = pixels[0].shape[:2]
    device = torch.device(device)
    nets = []
    for image, config in zip(pixels, configs):
        coords, target = _training_tensors(image, channels, device)
        omega0_first = config.omega0 if config.omega0_first is None else config.omega0_first
        model = Siren(config.hidden_width, config.hidden_layers, channels, omega0_first, config.omega0,
                      generator=torch.Generator().manual_seed(config.seed),
                      seeded_residuals=config.seeded_residuals).to(device)
        nets.append(_Network(image, config, model, target, torch.Generator(device=device).manual_seed(config.seed)))
    trainer = _BatchTrainer(nets, coords, progress)
    first = configs[0]

    trainer.run("fit", first.fit_steps, lambda n: n.config.lr)
    pruners = {}
    for net in nets:
        t0, n, dt = agp_schedule(net.config)
        pruners[id(net)] = AgpPruner(prune_targets(net.config, net.model.shapes), t0, n, dt)
    trainer.run("prune", first.prune_steps,
                lambda n: n.config.lr * PRUNE_LR_FACTOR if n.config.prune_lr is None else n.config.prune_lr,
                lambda n: (lambda t: pruners[id(n)].step(n.model, t)))
    for net in trainer.active():
        if not pruners[id(net)].done(net.model):
            raise RuntimeError("AGP schedule ended before reaching its targets")  # _check_config prevents this
        layers, config = net.model.num_layers, net.config
        net.model.enable_quantization(layer_bits(config, layers), layer_bias_dtypes(config, layers),
                                      layer_bias_bits(config, layers))
        if config.allocate_bits:
            allocate_steps(net.model, coords, net.target, config.seed, config.quant_noise)
    trainer.run("qat", first.qat_steps, lambda n: n.config.qat_lr, _range_refresh)

    results = []
    share = {stage: seconds / len(nets) for stage, seconds in trainer.seconds.items()}
    for net in nets:
        if net.diverged is not None:
            results.append(fit_network(net.image, net.config, device))
            continue
        network = export_network(net.model, width, height)
        network.validate()
        results.append(FitResult(network=network, stage_seconds=dict(share), restarts=0, stage_lr=net.lr,
                                 stage_psnr=net.psnr, model=net.model, config=net.config))
    return results


def _range_refresh(net: _Network) -> Callable[[int], None]:
    model, every = net.model, net.config.range_update_every

    def refresh(t: int) -> None:
        if t > 0 and t % every == 0:
            model.update_ranges()

    return refresh


class _BatchTrainer:
    """Runs stages on the networks still in the batch: pixel batches, one Adam per network
    with its own cosine rate, divergence checks, timing."""

    def __init__(self, nets: list[_Network], coords: torch.Tensor, progress: Progress | None):
        self.nets = nets
        self.coords = coords  # [H*W, 2], one grid for all
        self.progress = progress
        self.full_batch = coords.shape[0] <= nets[0].config.batch_pixels
        self.seconds: dict[str, float] = {}

    def active(self) -> list[_Network]:
        return [n for n in self.nets if n.diverged is None]

    def batch(self, nets: list[_Network]) -> tuple[torch.Tensor, torch.Tensor]:
        """([B, P, 2], [B, P, C]): the whole image, or each network's own random pixels
        (drawn from its generator as ``fit._Trainer.batch`` draws them)."""
        if self.full_batch:
            return self.coords.expand(len(nets), -1, -1), torch.stack([n.target for n in nets])
        n_pixels, size = self.coords.shape[0], nets[0].config.batch_pixels
        idx = [torch.randint(n_pixels, (size,), generator=n.gen, device=self.coords.device) for n in nets]
        return torch.stack([self.coords[i] for i in idx]), torch.stack([n.target[i] for n, i in zip(nets, idx)])

    def run(self, stage: str, steps: int, base_lr: Callable[[_Network], float],
            before: Callable[[_Network], Callable[[int], object]] | None = None) -> None:
        start = time.perf_counter()
        nets = self.active()
        opts = [torch.optim.Adam(list(n.model.parameters()), lr=base_lr(n)) for n in nets]
        hooks = [before(n) if before is not None else None for n in nets]
        best = [-math.inf] * len(nets)
        for t in range(steps):
            for net, opt, hook in zip(nets, opts, hooks):
                if hook is not None:
                    hook(t)
                lr, lr_min = base_lr(net), base_lr(net) * net.config.lr_min_factor
                for group in opt.param_groups:
                    group["lr"] = lr_min + (lr - lr_min) * 0.5 * (1.0 + math.cos(math.pi * t / steps))
            coords, target = self.batch(nets)
            mse = torch.mean((forward([n.model for n in nets], coords) - target) ** 2, dim=(1, 2))
            for opt in opts:
                opt.zero_grad(set_to_none=True)
            mse.sum().backward()
            for net, opt in zip(nets, opts):
                opt.step()
                net.model.apply_masks_()
            psnr = None
            if (t + 1) % PSNR_EVERY == 0 or t + 1 == steps:
                values = mse.detach().cpu().tolist()
                keep = []
                for k, (net, value) in enumerate(zip(nets, values)):
                    if math.isfinite(value):
                        best[k] = max(best[k], psnr_from_mse(value))
                    if not math.isfinite(value) or (stage == "fit" and collapsed(psnr_from_mse(value), best[k])):
                        net.diverged = stage
                    else:
                        keep.append(k)
                if len(keep) < len(nets):
                    nets, opts, hooks, best = ([x[k] for k in keep] for x in (nets, opts, hooks, best))
                    if not nets:
                        break
                psnr = psnr_from_mse(float(np.mean([values[k] for k in keep])))
            if self.progress is not None:
                self.progress(stage, t + 1, steps, psnr)
        for net in nets:
            if not all(bool(torch.isfinite(p).all()) for p in net.model.parameters()):
                net.diverged = stage
                continue
            net.lr[stage] = base_lr(net)
            net.psnr[stage] = _evaluate(net, self.coords)
        self.seconds[stage] = time.perf_counter() - start


@torch.no_grad()
def _evaluate(net: _Network, coords: torch.Tensor) -> float:
    """Full-image PSNR (dB) of one network (``fit._Trainer.evaluate``)."""
    total = 0.0
    chunk = net.config.batch_pixels
    for s in range(0, coords.shape[0], chunk):
        diff = net.model(coords[s: s + chunk]) - net.target[s: s + chunk]
        total += float(torch.sum(diff.double() ** 2))
    mse = total / net.target.numel()
    return psnr_from_mse(mse) if math.isfinite(mse) else float("nan")
