"""The training pipeline: overfit a SIREN to one image, prune it (AGP), quantize it (QAT).

    fit    plain float training
    prune  AGP: masks follow the cubic schedule to exact per-tensor targets, then recovery
    qat    every layer fake-quantized (range-linear, straight-through gradients)

Each stage runs Adam with its own cosine-decayed learning rate (see ``FitConfig``).  A
stage whose loss turns NaN/Inf (or, fitting, collapses) goes back to its last checkpoint
(every ``CHECKPOINT_EVERY`` steps) and goes on from there at half the rate.
The result is a :class:`sirencodec.format.siren_v3.QuantizedNetwork` whose dequantized weights are
bit-identical to those of the final forward pass.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import FormatError, InputError
from ..format.siren_v3 import QuantizedNetwork, check_architecture, layer_shapes
from ..imageio import channels as channels_of
from ..imageio import check_image
from ..limits import MAX_BITS, MIN_BITS
from ..progress import Progress
from . import grid
from .allocate import allocate_steps
from .config import AGP_DEFAULT_STEPS, AGP_PRUNE_FRACTION, PRUNE_LR_FACTOR, FitConfig, resolved
from .model import Siren
from .network import from_uint8
from .prune import AgpPruner, layer_targets
from .quant import export_network

STAGES = ("fit", "prune", "qat")
PSNR_EVERY = 10  # steps between loss read-backs (each one is a device sync)
COLLAPSE_DB = 8.0  # a fit whose batch PSNR falls this far below its best has diverged ...
# ... unless it stays above this: a near-exact fit of a tiny image (a 48 x 4 network on 32 x 32
# pixels reaches 58 dB) swings by more than COLLAPSE_DB without diverging
# (docs/results/CHANGELOG.md#siren-8).
COLLAPSE_FLOOR_DB = 40.0


def collapsed(psnr: float, best: float) -> bool:
    """Whether a fit's batch PSNR ``psnr`` after a best of ``best`` means it diverged."""
    return psnr < best - COLLAPSE_DB and psnr < COLLAPSE_FLOOR_DB
# Steps between a stage's checkpoints: on divergence it goes back to the last one (a multiple
# of PSNR_EVERY, where the loss is read back; a checkpoint is a copy of some 20 k floats).
CHECKPOINT_EVERY = 500
CHECKPOINT_FIT_DB = 1.0  # a fit's checkpoint is taken only within this of its best batch PSNR


@dataclass
class FitResult:
    """What :func:`fit_network` returns."""

    network: QuantizedNetwork
    stage_seconds: dict[str, float]  # wall time per stage, restarts included
    restarts: int  # returns to a checkpoint after divergence, all stages
    stage_lr: dict[str, float]  # base learning rate each stage finally completed with
    stage_psnr: dict[str, float]  # full-image PSNR (dB, float output) after each stage
    model: Siren  # the trained module, in its final (quantized) state
    config: FitConfig  # the configuration trained with, its learning rate resolved


def fit_network(
    image: np.ndarray, config: FitConfig, device: torch.device, progress: Progress | None = None
) -> FitResult:
    """Fit, prune and quantize a SIREN to ``image`` (uint8 [H, W] or [H, W, 3]) on ``device``.

    ``progress(stage, step, total, psnr)`` is called after every step; ``psnr`` (dB, on the
    training batch) is given every ``PSNR_EVERY`` steps and on the last, else None."""
    pixels = check_image(image)
    channels = channels_of(pixels)
    config = resolved(config)
    _check_config(config, channels)
    height, width = pixels.shape[:2]
    device = torch.device(device)

    coords, target = _training_tensors(pixels, channels, device)
    omega0_first = config.omega0 if config.omega0_first is None else config.omega0_first
    # Initialise on the CPU from a seeded generator: the same seed gives the same start on any device.
    init_gen = torch.Generator().manual_seed(config.seed)
    model = Siren(
        config.hidden_width, config.hidden_layers, channels, omega0_first, config.omega0, generator=init_gen,
        seeded_residuals=config.seeded_residuals,
    ).to(device)
    batch_gen = torch.Generator(device=device).manual_seed(config.seed)
    trainer = _Trainer(model, coords, target, config, batch_gen, progress)

    trainer.run("fit", config.fit_steps, config.lr)

    prune_lr = config.lr * PRUNE_LR_FACTOR if config.prune_lr is None else config.prune_lr
    t0, n, dt = agp_schedule(config)
    pruner = AgpPruner(prune_targets(config, model.shapes), t0, n, dt)
    trainer.run("prune", config.prune_steps, prune_lr, before_step=lambda t: pruner.step(model, t))
    if not pruner.done(model):
        raise RuntimeError("AGP schedule ended before reaching its targets")  # _check_config prevents this

    num_layers = model.num_layers
    model.enable_quantization(
        layer_bits(config, num_layers), layer_bias_dtypes(config, num_layers), layer_bias_bits(config, num_layers)
    )
    if config.allocate_bits:
        allocate_steps(model, coords, target, config.seed, config.quant_noise)
    trainer.run("qat", config.qat_steps, config.qat_lr, before_step=_qat_hooks(trainer, config))

    network = export_network(model, width, height)
    network.validate()
    return FitResult(
        network=network,
        stage_seconds=trainer.seconds,
        restarts=trainer.restarts,
        stage_lr=trainer.final_lr,
        stage_psnr=trainer.psnr,
        model=model,
        config=config,
    )


def _qat_hooks(trainer: "_Trainer", config: FitConfig) -> Callable[[int], None]:
    """The range refresh to call before each step of a quantization-aware stage (ranges
    must be fresh at step 0)."""
    model, every = trainer.model, config.range_update_every

    def refresh(t: int) -> None:
        if t > 0 and t % every == 0:
            model.update_ranges()

    return refresh


def prune_targets(config: FitConfig, shapes: Sequence[tuple[int, int]]) -> list[int]:
    """Pruned entries per weight tensor for ``config`` (:func:`sirencodec.siren.prune.layer_targets`;
    the first layer stays whole when its weights are seeded residuals)."""
    return layer_targets(shapes, config.prune, config.layer_prune, keep_first=config.seeded_residuals)


def agp_schedule(config: FitConfig) -> tuple[int, int, int]:
    """(t0, n, dt) of the AGP schedule in prune-stage steps; defaults prune during the first
    ``AGP_PRUNE_FRACTION`` of the stage, in ``AGP_DEFAULT_STEPS`` steps, and recover after."""
    span = max(1, int(AGP_PRUNE_FRACTION * config.prune_steps))
    t0 = 0 if config.agp_t0 is None else config.agp_t0
    n = min(AGP_DEFAULT_STEPS, span) if config.agp_n is None else config.agp_n
    dt = max(1, span // max(n, 1)) if config.agp_dt is None else config.agp_dt
    return t0, n, dt


def layer_bits(config: FitConfig, num_layers: int) -> list[int]:
    """Bit width per weight tensor, first to output layer."""
    bits = [config.bits] * num_layers
    if config.first_bits is not None:
        bits[0] = config.first_bits
    if config.last_bits is not None:
        bits[-1] = config.last_bits
    return bits


def layer_bias_bits(config: FitConfig, num_layers: int) -> list[int | None]:
    """Bit width of each layer's quantized bias; None where the bias is stored as floats."""
    bits: list[int | None] = [config.bias_bits] * num_layers
    bits[0] = config.first_bias_bits
    bits[-1] = None  # the output layer's C biases: floats are cheaper than quantization parameters
    return bits


def layer_bias_dtypes(config: FitConfig, num_layers: int) -> list[str]:
    """Storage of each layer's bias: "quantized", or a float dtype."""
    dtypes = [config.bias_dtype] * num_layers
    if config.first_bias_dtype is not None:
        dtypes[0] = config.first_bias_dtype
    return ["quantized" if b is not None else d for d, b in zip(dtypes, layer_bias_bits(config, num_layers))]


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all pixels and channels (a module-level hook tests can patch)."""
    return torch.mean((pred - target) ** 2)


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB of targets in [-1, 1] (peak-to-peak 2, i.e. 255 on the pixel scale)."""
    return 10.0 * math.log10(4.0 / mse) if mse > 0 else float("inf")


class _Trainer:
    """Runs stages on one model: batching, Adam, cosine rate, divergence restarts, timing."""

    def __init__(
        self,
        model: Siren,
        coords: torch.Tensor,
        target: torch.Tensor,
        config: FitConfig,
        batch_gen: torch.Generator,
        progress: Progress | None,
    ) -> None:
        self.model = model
        self.coords = coords  # [H*W, 2]
        self.target = target  # [H*W, C]
        self.config = config
        self.batch_gen = batch_gen
        self.progress = progress
        self.full_batch = coords.shape[0] <= config.batch_pixels
        self.restarts = 0
        self.seconds: dict[str, float] = {}
        self.final_lr: dict[str, float] = {}
        self.psnr: dict[str, float] = {}

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """([B, 2], [B, C]): the whole image, or B = batch_pixels random pixels."""
        if self.full_batch:
            return self.coords, self.target
        n, size = self.coords.shape[0], self.config.batch_pixels
        idx = torch.randint(n, (size,), generator=self.batch_gen, device=self.coords.device)
        return self.coords[idx], self.target[idx]

    def run(
        self, stage: str, steps: int, lr: float, before_step: Callable[[int], object] | None = None
    ) -> None:
        """Train ``steps`` steps from base rate ``lr``.

        On divergence (NaN/Inf, or in the fit stage a collapse) the stage goes back to its
        last healthy checkpoint (taken every ``CHECKPOINT_EVERY`` steps; the stage's start
        before the first) and goes on from there at half the rate, at most ``max_restarts``
        times: a late collapse costs at most ``CHECKPOINT_EVERY`` steps, not the stage."""
        start = time.perf_counter()
        model = self.model
        optimizer = torch.optim.Adam(list(model.parameters()), lr=lr)
        state = _Checkpoint.take(0, model, optimizer, self.batch_gen, best=-math.inf)
        restarts = 0
        while True:
            failed = self._train(stage, steps, lr, optimizer, state, before_step)
            if failed is None:
                break
            if restarts == self.config.max_restarts:
                raise InputError(
                    f"training diverged in the {stage} stage {self.config.max_restarts + 1} times "
                    f"(last learning rate {lr:g}); lower the learning rate"
                )
            restarts += 1
            self.restarts += 1
            lr *= 0.5
            state = failed
            state.restore(model, optimizer, self.batch_gen)
        self.final_lr[stage] = lr
        self.psnr[stage] = self.evaluate()
        self.seconds[stage] = time.perf_counter() - start

    def _train(
        self,
        stage: str,
        steps: int,
        lr: float,
        optimizer: torch.optim.Optimizer,
        start: "_Checkpoint",
        before_step: Callable[[int], object] | None,
    ) -> "_Checkpoint | None":
        """Train from checkpoint ``start`` to the stage's end.  Returns None on success, or
        the last healthy checkpoint if the loss or the weights became NaN/Inf (or collapsed)."""
        model = self.model
        params = list(model.parameters())
        lr_min = lr * self.config.lr_min_factor
        healthy, best = start, start.best
        for t in range(start.step, steps):
            if before_step is not None:
                before_step(t)
            for group in optimizer.param_groups:
                group["lr"] = lr_min + (lr - lr_min) * 0.5 * (1.0 + math.cos(math.pi * t / steps))
            coords, target = self.batch()
            loss = mse_loss(model(coords), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            model.apply_masks_()
            psnr = None
            if (t + 1) % PSNR_EVERY == 0 or t + 1 == steps:
                value = float(loss.detach())
                if not math.isfinite(value):
                    return healthy
                psnr = psnr_from_mse(value)
                # A sine network can also blow up without overflowing: a large step throws
                # it into a bad region it never recovers from (seen at lr 2e-3 with small
                # batches).  A collapse far below the best PSNR of the stage counts as divergence.
                # Only in the fit stage: pruning and quantization lower the PSNR by design.
                best = max(best, psnr)
                if stage == "fit" and collapsed(psnr, best):
                    return healthy
                if (t + 1) % CHECKPOINT_EVERY == 0 and t + 1 < steps and (stage != "fit" or psnr >= best - CHECKPOINT_FIT_DB):
                    healthy = _Checkpoint.take(t + 1, model, optimizer, self.batch_gen, best)
            if self.progress is not None:
                self.progress(stage, t + 1, steps, psnr)
        # NaN can also hide in weights whose effect the last checked loss did not see yet.
        return None if all(bool(torch.isfinite(p).all()) for p in params) else healthy

    @torch.no_grad()
    def evaluate(self) -> float:
        """Full-image PSNR (dB) of the current model; also the final forward pass of a fit."""
        total = 0.0
        chunk = self.config.batch_pixels
        for s in range(0, self.coords.shape[0], chunk):
            diff = self.model(self.coords[s : s + chunk]) - self.target[s : s + chunk]
            total += float(torch.sum(diff.double() ** 2))
        mse = total / self.target.numel()
        if not math.isfinite(mse):
            return float("nan")
        return psnr_from_mse(mse)


@dataclass
class _Checkpoint:
    """A stage's state at a step: the model (its tensors, and the bit widths that fixed
    steps give), the optimizer, the batch generator, the best batch PSNR so far."""

    step: int
    model: dict[str, torch.Tensor]
    bits: tuple[list[int], list[int | None]]
    optimizer: dict
    batches: torch.Tensor
    best: float

    @staticmethod
    def take(step: int, model: Siren, optimizer: torch.optim.Optimizer, gen: torch.Generator,
             best: float) -> "_Checkpoint":
        return _Checkpoint(step, {k: v.detach().clone() for k, v in model.state_dict().items()},
                           (list(model.bits), list(model.bias_bits)), copy.deepcopy(optimizer.state_dict()),
                           gen.get_state(), best)

    def restore(self, model: Siren, optimizer: torch.optim.Optimizer, gen: torch.Generator) -> None:
        model.load_state_dict(self.model)
        model.bits, model.bias_bits = list(self.bits[0]), list(self.bits[1])
        optimizer.load_state_dict(copy.deepcopy(self.optimizer))
        gen.set_state(self.batches)


def _training_tensors(pixels: np.ndarray, channels: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(coordinates [H*W, 2], targets in [-1, 1] [H*W, C]) of an image, on ``device``."""
    height, width = pixels.shape[:2]
    coords = torch.from_numpy(grid.coordinates(height, width)).to(device)
    target = torch.from_numpy(from_uint8(pixels).reshape(height * width, channels)).to(device)
    return coords, target


def _check_config(config: FitConfig, channels: int) -> None:
    """InputError naming the first unusable option."""
    try:
        check_architecture(config.hidden_width, config.hidden_layers, channels)
    except FormatError as exc:
        raise InputError(str(exc)) from None
    for name in ("omega0", "omega0_first"):
        w0 = getattr(config, name)
        if w0 is not None and (not (math.isfinite(w0) and w0 > 0) or float(np.float16(w0)) != float(w0)):
            raise InputError(f"{name} must be a positive float16-representable value, got {w0!r}")
    for name in ("fit_steps", "prune_steps", "qat_steps", "max_restarts"):
        if getattr(config, name) < 0:
            raise InputError(f"{name} must be >= 0, got {getattr(config, name)}")
    for name in ("lr", "prune_lr", "qat_lr", "quant_noise"):
        v = getattr(config, name)
        if v is not None and not (math.isfinite(v) and v > 0):
            raise InputError(f"{name} must be a positive number, got {v!r}")
    if not 0.0 <= config.lr_min_factor <= 1.0:
        raise InputError(f"lr_min_factor must be in [0, 1], got {config.lr_min_factor}")
    num_layers = config.hidden_layers + 2
    for b in layer_bits(config, num_layers):
        if not MIN_BITS <= b <= MAX_BITS:
            raise InputError(f"bit widths must be in {MIN_BITS}..{MAX_BITS}, got {b}")
    for d in (config.bias_dtype, config.first_bias_dtype):
        if d is not None and d not in ("float32", "float16"):
            raise InputError(f"bias dtype must be float32 or float16, got {d!r}")
    for b in (config.bias_bits, config.first_bias_bits):
        if b is not None and not MIN_BITS <= b <= MAX_BITS:
            raise InputError(f"bias bit widths must be in {MIN_BITS}..{MAX_BITS}, got {b}")
    if config.range_update_every < 1:
        raise InputError(f"range_update_every must be >= 1, got {config.range_update_every}")
    if config.batch_pixels < 1:
        raise InputError(f"batch_pixels must be >= 1, got {config.batch_pixels}")
    # layer_targets raises InputError for a bad rate or profile.
    shapes = layer_shapes(config.hidden_width, config.hidden_layers, channels)
    prune_targets(config, shapes)
    if config.prune > 0:
        t0, n, dt = agp_schedule(config)
        if t0 < 0 or n < 0 or dt < 1:
            raise InputError(f"AGP schedule needs t0 >= 0, n >= 0, dt >= 1, got {t0}, {n}, {dt}")
        if t0 + n * dt > config.prune_steps - 1:
            raise InputError(
                f"AGP schedule ends at step {t0 + n * dt} but the prune stage has only "
                f"{config.prune_steps} steps"
            )
