"""Training latent-grid networks (torch): one to an image, or a batch of B networks of one
image shape in each step (``fit_latent_batch``; ``fit_latent`` is a batch of one).

The model (``model.LatentModel``; Cool-chic, Ladune et al. ICCV 2023): integer latent grids at
resolutions 1, 1/2, ... 1/2^(L-1) of the image, upsampled and mixed per pixel by a small ReLU
network plus a residual 3 x 3 convolution; an autoregressive model (ARM) reads ``context``
causal neighbours of each latent and gives the mean and scale of a Laplace over its value,
which is what the range coder spends (``format.arm``).

Training minimises ``D + lam * bpp``, D the MSE of pixels in [0, 1] (or, with
``distortion="ycbcr"``, the 6:1:1-weighted MSE of their YCbCr planes), with Adam in two stages:

1. **soft** (the first ``1 - hard_fraction`` of the steps, lr cosine-decayed from ``lr`` to 5 %):
   latents pass through C3's soft rounding plus noise (Kim et al., CVPR 2024), temperature
   annealed 0.3 -> 0.1; the noise uniform in [-1/2, 1/2), or (``noise="gaussian"``) Gaussian
   with its standard deviation annealed 0.25 -> 0.1, or (``noise="kumaraswamy"``) Kumaraswamy
   on [-1/2, 1/2) with its mode at 0, its shape annealed 2 -> 1 (uniform); the rate is the
   Laplace mass of the noisy values (docs/results/CHANGELOG.md#latent-1);
2. **hard** (the rest, lr ``hard_lr``): latents are rounded (straight-through gradient); the
   rate is that of the rounded latents.

After training, ``export.choose_bits`` picks each layer's bit width by the same trade-off
measured on real files, and ``export.export`` gives the file's description. ``fit_latent``
takes a ``control`` (rate control, ``ratecontrol``) that may move lam during the soft stage,
and ``refine_latent`` continues a trained model in the hard stage at another lam.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..progress import Progress
from .config import LatentConfig
from .model import LatentModel, soft_round

SOFT_T0, SOFT_T1 = 0.3, 0.1  # soft-rounding temperature, annealed geometrically over the soft stage
NOISE_STD0, NOISE_STD1 = 0.25, 0.1  # noise="gaussian": its standard deviation, annealed linearly over the soft stage
KUMARASWAMY_A0, KUMARASWAMY_A1 = 2.0, 1.0  # noise="kumaraswamy": its shape a, annealed linearly over the soft stage
# each noise kind's parameter (start, end) over the soft stage; uniform noise has none
NOISE_PARAMS = {"gaussian": (NOISE_STD0, NOISE_STD1), "kumaraswamy": (KUMARASWAMY_A0, KUMARASWAMY_A1)}
LR_FLOOR = 0.05  # the soft stage's cosine ends at lr * LR_FLOOR
COMPILE = True  # on a CPU, compile the soft stage's loss (torch.compile) when it pays ...
COMPILE_MIN_WORK = 4000 * 256 * 256  # ... from this many soft steps x networks x pixels (CHANGELOG#latent-17)
CUDA_GRAPHS = True  # on a GPU, replay each stage's step as a CUDA graph (benchmarks/device_run.py: graphs against eager steps)


@dataclass
class LatentFit:
    model: LatentModel  # a batch of one
    grids: list[np.ndarray]  # the rounded latents, int64
    seconds: float
    lam: float  # the rate weight at the end of training (a controller may have moved it)
    engine: str = "eager"  # how the steps ran: "eager", "cuda-graphs", or why a capture fell back


Choose = Callable[[list[LatentFit], list[float]], Sequence[int]]  # (every network's snapshot, their lams) -> those that go on
Control = Callable[[LatentFit, float, int], float]  # (the model so far, rounded; lam; point 0..CONTROL_POINTS) -> the lam to go on with

CONTROL_START = 0.1  # a controller is first asked after this share of the soft stage ...
CONTROL_POINTS = 16  # ... and then this many times more, evenly, until the soft stage ends


def _planes(images: Sequence[np.ndarray], device: str) -> torch.Tensor:
    """[B, C, H, W] float32 pixels in [0, 1] on ``device`` (moved there once)."""
    planes = [p[None] if p.ndim == 2 else np.moveaxis(p, -1, 0) for p in images]
    return torch.from_numpy(np.stack(planes).astype(np.float32) / 255.0).to(device)


def _snapshot(model: LatentModel, b: int, seconds: float, lam: float) -> LatentFit:
    """Network ``b`` of ``model`` now, its latents rounded (the model itself when it is alone)."""
    one = model if model.batch == 1 else model.subset([b])
    grids = [torch.round(y.detach()[0]).cpu().numpy().astype(np.int64) for y in one.latents]
    return LatentFit(model=one, grids=grids, seconds=seconds, lam=lam)


class _Noise:
    """Each network's training noise, standard normal for ``kind`` "gaussian", else uniform in
    [0, 1) (which ``kumaraswamy_noise`` reshapes), from its own generator: on the CPU the
    stream ``torch.rand_like`` continues after the network's initialisation (its
    ``noise_states``), so that a network draws the same noise in any batch; on a GPU, a
    generator on the device seeded with the network's seed. One draw per network and step."""

    def __init__(self, model: LatentModel, seeds: Sequence[int], device: torch.device, kind: str = "uniform"):
        self.kind = kind
        self.gens = []
        for seed, state in zip(seeds, model.noise_states):
            if device.type == "cpu":
                gen = torch.Generator()
                gen.set_state(state)
            else:
                gen = torch.Generator(device=device).manual_seed(seed)
            self.gens.append(gen)
        self.sizes = [h * w for h, w in model.shapes]
        self.shapes = model.shapes
        self.device = device

    def subset(self, keep: Sequence[int]) -> _Noise:
        out = copy.copy(self)
        out.gens = [self.gens[k] for k in keep]
        return out

    def draw(self) -> list[torch.Tensor]:
        """One [B, h, w] tensor per grid."""
        draw = torch.randn if self.kind == "gaussian" else torch.rand
        flat = torch.stack([draw(sum(self.sizes), generator=g, device=self.device) for g in self.gens])
        return [part.reshape(-1, h, w) for part, (h, w) in zip(flat.split(self.sizes, 1), self.shapes)]


def kumaraswamy_noise(u: torch.Tensor, a: float | torch.Tensor) -> torch.Tensor:
    """Uniform ``u`` in [0, 1) turned into Kumaraswamy(a, b) noise less 1/2, by the inverse of its
    CDF 1 - (1 - x^a)^b, with b = (2^a (a - 1) + 1) / a so that the mode is at 1/2 (the noise's
    at 0); a = 1 is uniform noise, a larger a more peaked (C3, Kim et al. CVPR 2024)."""
    b = (2**a * (a - 1) + 1) / a
    return (1 - (1 - u) ** (1 / b)) ** (1 / a) - 0.5


def _loss(model: LatentModel, target: torch.Tensor, lams: float | torch.Tensor,
          temp: float | torch.Tensor | None, draws: list[torch.Tensor] | None, kind: str = "uniform",
          noise_param: float | torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The sum over networks of D + lam * bpp, D the MSE or, with the model's ``mix``
    (``metrics.distortion_mix``), the summed mean squares of the mixed planes: soft rounding at
    ``temp`` plus the noise ``draws`` of ``kind`` (``_Noise.draw``; uniform in [0, 1), less 1/2;
    standard normal scaled by ``noise_param``; or uniform reshaped by ``kumaraswamy_noise`` of
    shape ``noise_param``), or rounded latents (straight-through) when ``temp`` is None.
    Returns (loss, each network's D, each network's rate proxy bpp)."""
    if temp is not None:
        if kind == "gaussian":
            noisy = [soft_round(y, temp) + noise_param * n for y, n in zip(model.latents, draws)]
        elif kind == "kumaraswamy":
            noisy = [soft_round(y, temp) + kumaraswamy_noise(u, noise_param) for y, u in zip(model.latents, draws)]
        else:
            noisy = [soft_round(y, temp) + u - 0.5 for y, u in zip(model.latents, draws)]
        image = model.synthesize([soft_round(v, temp) for v in noisy])
        bits = model.rate_bits(noisy, noisy)
    else:
        rounded = [y + (torch.round(y) - y).detach() for y in model.latents]
        image = model.synthesize(rounded)
        bits = model.rate_bits(rounded, rounded)
    if model.mix is not None:
        mse = torch.einsum("ij,bjhw->bihw", model.mix, image - target).square().mean(dim=(2, 3)).sum(1)
    elif model.batch == 1:  # a network alone: the loss as one scalar
        mse = torch.mean((image[0] - target[0]) ** 2)[None]
    else:
        mse = torch.mean((image - target) ** 2, dim=(1, 2, 3))
    bpp = bits / (model.size[0] * model.size[1])
    return (mse + lams * bpp).sum(), mse, bpp


def _step(model: LatentModel, opt: torch.optim.Optimizer, target: torch.Tensor, lams: float | torch.Tensor,
          lr: float | None, temp: float | torch.Tensor | None, noise: _Noise | None,
          noise_param: float | torch.Tensor | None = None, loss: Callable = _loss) -> tuple[torch.Tensor, torch.Tensor]:
    """One Adam step on ``_loss`` (computed by ``loss``: ``_loss`` itself or its compiled
    form), the soft stage's noise drawn from ``noise``; ``lr`` None: the optimizer's own (a
    device tensor, ``_DeviceSteps``). Returns each network's (D, rate proxy bpp), detached [B]
    tensors."""
    draws = noise.draw() if temp is not None else None
    total, mse, bpp = loss(model, target, lams, temp, draws, noise.kind if noise is not None else "uniform",
                           noise_param)
    if lr is not None:
        for g in opt.param_groups:
            g["lr"] = lr
    opt.zero_grad(set_to_none=True)
    total.backward()
    opt.step()
    return mse.detach(), bpp.detach()


class _HostSteps:
    """Training steps with their scalars (learning rate, temperature, lam) as Python numbers:
    the CPU's way, and for a network alone exactly the operations it has always trained with."""

    engine = "eager"

    def __init__(self, model: LatentModel, target: torch.Tensor, noise: _Noise, lr: float):
        self.model, self.target, self.noise = model, target, noise
        self.opt = torch.optim.Adam(model.parameters(), lr=lr)
        self.lams: float | torch.Tensor = 0.0

    def set_lams(self, lams: list[float]) -> None:
        self.lams = lams[0] if len(lams) == 1 else torch.tensor(lams, dtype=torch.float32, device=self.target.device)

    def step(self, lr: float, temp: float | None, noise_param: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return _step(self.model, self.opt, self.target, self.lams, lr, temp, self.noise if temp is not None else None,
                     noise_param)

    def narrow(self, keep: Sequence[int], lr: float, **options) -> _HostSteps:
        """These steps for networks ``keep`` of the batch only, each going on from where it is:
        its parameters, noise stream and Adam state."""
        index = torch.as_tensor(list(keep), device=self.target.device)
        out = type(self)(self.model.subset(keep), self.target.index_select(0, index), self.noise.subset(keep), lr,
                         **options)
        for old, new in zip(self.model.parameters(), out.model.parameters()):
            state = self.opt.state.get(old)
            if state:
                out.opt.state[new] = {k: v.index_select(0, index).clone() if v.dim() and v.shape[0] == self.model.batch
                                      else v.clone() for k, v in state.items()}
        return out


class _CompiledSteps(_HostSteps):
    """The CPU's steps with the soft stage's loss compiled by ``torch.compile`` (its forward
    and backward fused into a few generated loops instead of a few hundred small operations;
    the step's time: docs/results/CHANGELOG.md#latent-17). Its scalars (temperature, noise
    scale, lams) are tensors, so that one compiled graph serves every step. The hard stage, a
    few hundred steps, runs eagerly. A compilation that fails (no C++ compiler, say) falls back
    to eager steps, and ``engine`` says why."""

    engine = "compiled"

    def __init__(self, model: LatentModel, target: torch.Tensor, noise: _Noise, lr: float):
        super().__init__(model, target, noise, lr)
        self.temp = torch.tensor(1.0)
        self.noise_param = torch.tensor(1.0)
        self.lam_tensor = torch.zeros(model.batch)
        self.loss: Callable | None = torch.compile(_loss, dynamic=False)
        self.compiled = False  # whether a step has run compiled

    def set_lams(self, lams: list[float]) -> None:
        super().set_lams(lams)
        self.lam_tensor = torch.tensor(lams, dtype=torch.float32)

    def step(self, lr: float, temp: float | None, noise_param: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if temp is None or self.loss is None:
            return super().step(lr, temp, noise_param)
        self.temp.fill_(temp)
        if noise_param is not None:
            self.noise_param.fill_(noise_param)
        states = None if self.compiled else [g.get_state() for g in self.noise.gens]  # (the first step compiles)
        try:
            out = _step(self.model, self.opt, self.target, self.lam_tensor, lr, self.temp, self.noise,
                        self.noise_param if noise_param is not None else None, self.loss)
        except Exception as exc:  # noqa: BLE001 - a compilation that fails: the same step, eagerly, from here on
            if states is None:
                raise
            for g, state in zip(self.noise.gens, states):
                g.set_state(state)
            self.loss = None
            first_line = (str(exc).splitlines() or [""])[0]
            self.engine = f"eager (compilation failed: {type(exc).__name__}: {first_line})"
            return super().step(lr, temp, noise_param)
        self.compiled = True
        return out


class _DeviceSteps(_HostSteps):
    """Training steps on a GPU with their scalars in device tensors (Adam's ``capturable``
    form), so that nothing in a step waits on the host. With ``graphs``, each stage's step
    (soft, hard) is captured once as a CUDA graph after ``GRAPH_WARMUP`` eager steps and then
    replayed: one launch per step instead of several hundred kernels. A capture that fails
    falls back to eager steps, and ``engine`` says why."""

    GRAPH_WARMUP = 3

    def __init__(self, model: LatentModel, target: torch.Tensor, noise: _Noise, lr: float, graphs: bool):
        self.model, self.target, self.noise = model, target, noise
        dev = target.device
        self.lr = torch.tensor(lr, dtype=torch.float32, device=dev)
        capturable = dev.type == "cuda"  # (a CPU runs this class only in tests, without graphs)
        self.opt = torch.optim.Adam(model.parameters(), lr=self.lr, capturable=capturable,
                                    foreach=None if capturable else False)
        self.temp = torch.tensor(1.0, dtype=torch.float32, device=dev)
        self.noise_param = torch.tensor(1.0, dtype=torch.float32, device=dev)
        self.lams = torch.zeros(model.batch, dtype=torch.float32, device=dev)
        self.graphs = graphs
        self.engine = "cuda-graphs" if graphs else "eager"
        self.calls = {True: 0, False: 0}
        self.captured: dict[bool, tuple] = {}
        self.pool = torch.cuda.graph_pool_handle() if graphs else None

    def set_lams(self, lams: list[float]) -> None:
        self.lams.copy_(torch.tensor(lams, dtype=torch.float32))

    def _run(self, soft: bool) -> tuple[torch.Tensor, torch.Tensor]:
        return _step(self.model, self.opt, self.target, self.lams, None, self.temp if soft else None,
                     self.noise if soft else None, self.noise_param)

    def step(self, lr: float, temp: float | None, noise_param: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        soft = temp is not None
        self.lr.fill_(lr)
        if soft:
            self.temp.fill_(temp)
            if noise_param is not None:
                self.noise_param.fill_(noise_param)
        if not self.graphs:
            return self._run(soft)
        self.calls[soft] += 1
        if self.calls[soft] <= self.GRAPH_WARMUP:  # eager, on a side stream (PyTorch's recipe)
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                out = self._run(soft)
            torch.cuda.current_stream().wait_stream(side)
            return out
        if soft not in self.captured:
            try:
                graph = torch.cuda.CUDAGraph()
                for gen in self.noise.gens if soft else []:
                    graph.register_generator_state(gen)
                self.opt.zero_grad(set_to_none=True)
                with torch.cuda.graph(graph, pool=self.pool):
                    out = self._run(soft)
                self.captured[soft] = (graph, out)
            except Exception as exc:  # noqa: BLE001 - any capture failure: train on, eagerly
                self.graphs = False
                self.engine = f"eager (CUDA graph capture failed: {type(exc).__name__}: {exc})".splitlines()[0]
                return self._run(soft)
        graph, out = self.captured[soft]
        graph.replay()
        return out


def _check_batch(images: Sequence[np.ndarray], configs: Sequence[LatentConfig]) -> None:
    if not images or len(images) != len(configs):
        raise ValueError(f"a batch needs one config per image, got {len(images)} images and {len(configs)} configs")
    if len({im.shape for im in images}) > 1:
        raise ValueError(f"a batch trains images of one shape, got {sorted({im.shape for im in images})}")
    if len({dataclasses.replace(c, lam=0.0, seed=0) for c in configs}) > 1:
        raise ValueError("a batch's networks may differ only in lam and seed")


def fit_latent(pixels: np.ndarray, cfg: LatentConfig, device: str = "cpu",
               progress: Progress | None = None, progress_every: int = 200,
               control: Control | None = None, compiled: bool | None = None) -> LatentFit:
    """Train a latent model to ``pixels`` (uint8 [H, W] or [H, W, C]) and round its latents.
    ``control`` (rate control) may move lam during the soft stage (CONTROL_POINTS times);
    ``compiled`` as ``fit_latent_batch``'s."""
    return fit_latent_batch([pixels], [cfg], device, progress, progress_every, [control], compiled=compiled)[0]


def fit_latent_batch(images: Sequence[np.ndarray], configs: Sequence[LatentConfig], device: str = "cpu",
                     progress: Progress | None = None, progress_every: int = 200,
                     controls: Sequence[Control | None] | None = None,
                     graphs: bool | None = None, choose: Choose | None = None,
                     compiled: bool | None = None) -> list[LatentFit]:
    """Train one latent model per image (uint8, all of one shape) in one batch: ``configs[b]``
    for image b, differing only in ``lam`` and ``seed``. Each network writes the file it would
    write trained alone, up to floating-point order; a batch of one is that network alone.
    ``controls[b]`` (rate control) may move network b's lam during the soft stage
    (CONTROL_POINTS times). The step loop reads nothing back from the device except at
    control and progress points; ``progress`` gets the PSNR of the batch's mean MSE. On a GPU
    each stage's step is a CUDA graph (``graphs``; default ``CUDA_GRAPHS``); on a CPU the soft
    stage's loss is compiled (``compiled``; default: when the stage is long enough to pay for
    its compilation, ``COMPILE_MIN_WORK``). ``choose``, asked
    at the first control point with every network's snapshot and lam, names the networks that
    go on (rate control's parallel starts); only theirs are returned."""
    _check_batch(images, configs)
    start = time.perf_counter()
    cfg = configs[0]
    dev = torch.device(device)
    seeds = [c.seed for c in configs]
    target = _planes(images, device)
    b, c, h, w = target.shape
    model = LatentModel(h, w, cfg, c, seeds).to(device)
    noise = _Noise(model, seeds, dev, kind=cfg.noise)
    soft_steps = cfg.steps - round(cfg.hard_fraction * cfg.steps)
    noise_ends = NOISE_PARAMS.get(cfg.noise)
    if dev.type == "cuda":
        options = {"graphs": CUDA_GRAPHS if graphs is None else graphs}
        steps = _DeviceSteps(model, target, noise, cfg.lr, **options)
    else:
        options = {}
        if compiled is None:
            compiled = COMPILE and soft_steps * b * h * w >= COMPILE_MIN_WORK
        steps = (_CompiledSteps if compiled else _HostSteps)(model, target, noise, cfg.lr)
    first = round(CONTROL_START * soft_steps)
    every = max(1, (soft_steps - first) // CONTROL_POINTS)
    controls = [None] * b if controls is None else list(controls)
    lams = [c.lam for c in configs]
    steps.set_lams(lams)
    for s in range(cfg.steps):
        if first <= s < soft_steps and (s - first) % every == 0 and any(controls):
            seconds = time.perf_counter() - start
            for k, control in enumerate(controls):
                if control is not None:
                    lams[k] = control(_snapshot(model, k, seconds, lams[k]), lams[k], (s - first) // every)
            steps.set_lams(lams)
        if s == first and choose is not None and s < soft_steps:
            seconds = time.perf_counter() - start
            keep = list(choose([_snapshot(model, k, seconds, lams[k]) for k in range(b)], list(lams)))
            if not keep or sorted(set(keep)) != sorted(keep) or not all(0 <= k < b for k in keep):
                raise ValueError(f"choose must name some of the batch's {b} networks, got {keep}")
            if len(keep) < b:
                steps = steps.narrow(keep, cfg.lr, **options)
                steps.set_lams([lams[k] for k in keep])
                model, b = steps.model, len(keep)
                lams, controls = [lams[k] for k in keep], [controls[k] for k in keep]
        if s < soft_steps:
            frac = s / max(1, soft_steps - 1)
            temp = SOFT_T0 * (SOFT_T1 / SOFT_T0) ** frac
            lr = cfg.lr * (LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * s / soft_steps)))
            noise_param = None if noise_ends is None else noise_ends[0] + (noise_ends[1] - noise_ends[0]) * frac
            mse, _ = steps.step(lr, temp, noise_param)
        else:
            mse, _ = steps.step(cfg.hard_lr, None)
        if progress is not None and ((s + 1) % progress_every == 0 or s + 1 == cfg.steps):
            progress("latent", s + 1, cfg.steps, -10 * math.log10(max(mse.mean().item(), 1e-12)))
    seconds = time.perf_counter() - start
    model = model.cpu()
    fits = [_snapshot(model, k, seconds, lams[k]) for k in range(b)]
    for fitted in fits:
        fitted.engine = steps.engine
    return fits


def refine_latent(fit: LatentFit, pixels: np.ndarray, lam: float, steps: int, lr: float,
                  device: str = "cpu") -> LatentFit:
    """``steps`` more rounded-latent (hard-stage) steps from ``fit`` at rate weight ``lam``
    (a fresh Adam at ``lr``), on a copy: rate control's correction after training."""
    start = time.perf_counter()
    model = copy.deepcopy(fit.model).to(device)
    target = _planes([pixels], device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        _step(model, opt, target, lam, lr, None, None)
    return _snapshot(model.cpu(), 0, fit.seconds + time.perf_counter() - start, lam)
