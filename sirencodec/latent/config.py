"""The latent-grid encoder's settings: ``LatentConfig``, the ``--effort`` levels, and the check
of a config against the format's limits (no torch import)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..format import arm as sarm
from ..format.latent_v4 import MAX_GRIDS, MAX_SYNTH_LAYERS, MAX_SYNTH_WIDTH, max_levels
from ..metrics import DISTORTIONS


@dataclass(frozen=True)
class LatentConfig:
    lam: float = 1e-3  # loss = MSE + lam * bpp
    steps: int = 12000  # compiled; sized to the encode time --effort started from: docs/results/CHANGELOG.md#latent-20
    hard_fraction: float = 0.038  # the last 456 steps on rounded latents (docs/results/levers/README.md)
    lr: float = 1e-2
    hard_lr: float = 1e-4
    levels: int = 7  # at most; fewer when the image is small (levels_for)
    latent_channels: tuple[int, ...] = ()  # grids per level, level 0 first; unlisted levels get 1
    hidden: tuple[int, ...] = (24,)  # synthesis widths (docs/results/levers/README.md)
    conv: bool = True
    context: int = 16  # causal neighbours the ARM reads (docs/results/levers/README.md)
    arm_hidden: tuple[int, ...] = (8, 8)
    channel_context: int = 0  # the ARM also reads the co-located latents of this many grids before a grid at its level
    seed: int = 0
    distortion: str = "rgb"  # what training minimises (metrics.DISTORTIONS): RGB MSE, or YCbCr 6:1:1
    colour: str = "rgb"  # the synthesis' output planes on a colour image (COLOURS)
    upsampling: str = "learned"  # how grids reach the image's size (UPSAMPLINGS)
    noise: str = "uniform"  # the soft stage's quantization noise (NOISES)


QUICK_STEPS = 2000
"""The latent network's training steps in ``make demo`` and srnbench's quick sweep: about a sixth
of the default's, a minute or two of a CPU for a 256 x 256 crop."""


UPSAMPLINGS = ("bicubic", "learned")
"""``bicubic``: each grid straight to the image by Keys' cubic convolution (format versions 4
and 5); ``learned`` (the default network's): by successive x2 steps, each level's symmetric
8-tap filter trained with the network from Keys' taps and stored as residuals from them
(version 6; its BD-rate: docs/results/levers/README.md)."""


NOISES = ("uniform", "gaussian", "kumaraswamy")
"""The noise added to the soft-rounded latents in the soft stage of training: ``uniform`` in
[-1/2, 1/2) (C3, Kim et al. CVPR 2024); ``gaussian`` zero-mean with its standard deviation
annealed linearly from 0.25 to 0.1 over the soft stage (Cool-chic's ``c3x_intra`` preset);
``kumaraswamy`` on [-1/2, 1/2) with its mode at 0, its shape annealed linearly from 2 (peaked)
to 1 (uniform) over the soft stage (C3's noise, Cool-chic's ``c3x`` preset). Their BD-rates:
docs/results/levers/README.md. Training only: the file's format is the same."""


COLOURS = ("rgb", "ycbcr", "ycbcr-split")
"""What a colour image's synthesis computes before the file's output layer: ``rgb`` the three
channels; ``ycbcr`` JFIF's Y, Cb, Cr (chroma centred on 0) from the same latents, turned into
RGB by folding the conversion into the output layer and the convolution at export (the file is
an ordinary RGB one); ``ycbcr-split`` the same with luma and chroma on separate latents: the
first grid of each level feeds Y, the other grids of a level feed Cb and Cr, through separate
hidden units (a quarter of each hidden layer, at least one, for chroma). Gray images have one
plane and ignore it. Each one's BD-rate on Kodak crops: docs/results/levers/README.md."""
CHROMA_SHARE = 4  # ycbcr-split: one hidden unit in this many computes chroma


def chroma_grids(levels: tuple[int, ...], cfg: LatentConfig, channels: int) -> tuple[bool, ...]:
    """For ``ycbcr-split`` on a colour image, whether each grid (levels as ``grid_levels``
    gives them) feeds chroma: all but the first grid of each level; InputError if no level has
    a second grid. All False otherwise."""
    if cfg.colour != "ycbcr-split" or channels != 3:
        return (False,) * len(levels)
    chroma = tuple(k > 0 and levels[k - 1] == level for k, level in enumerate(levels))
    if not any(chroma):
        raise InputError(f"colour ycbcr-split needs a level with two grids or more (latent_channels such as "
                         f"1/2/2), got grid levels {list(levels)}")
    if any(width < 2 for width in cfg.hidden):
        raise InputError(f"colour ycbcr-split needs hidden layers at least 2 wide, got {cfg.hidden}")
    return chroma


def levels_for(height: int, width: int, levels: int) -> int:
    """As many grids as asked, but none beyond the first 1 x 1 one."""
    return max(1, min(levels, max_levels(height, width)))


def grid_levels(height: int, width: int, cfg: LatentConfig) -> tuple[int, ...]:
    """Each latent grid's level, level 0 first: ``cfg.latent_channels[l]`` grids (1 where it
    lists none) at each of the image's ``levels_for`` levels."""
    n = levels_for(height, width, cfg.levels)
    per_level = list(cfg.latent_channels[:n]) + [1] * max(0, n - len(cfg.latent_channels))
    levels = tuple(level for level, count in enumerate(per_level) for _ in range(count))
    if not levels:
        raise InputError(f"latent_channels {cfg.latent_channels} leave no latent grid for a {width}x{height} image")
    return levels


_MAX = LatentConfig(steps=24000, hard_fraction=0.02)  # the default network, twice the training
EFFORTS: dict[str, LatentConfig] = {
    "fast": LatentConfig(steps=4000, hard_fraction=0.1, upsampling="bicubic", context=8, hidden=(16,)),
    "default": LatentConfig(),
    "max": _MAX,
    "best": _MAX,
}
"""srnenc's ``--effort`` levels: the network and training each encodes with. ``fast`` trains
a narrower network (synthesis 16, ARM of 8 neighbours) a third as long, with Keys' filters and
a 400-step rounded-latent stage (the level as measured; learned filters in so short a training
are not); ``max`` trains the default network twice as long, its rounded-latent stage held to
480 steps (longer ones lose rate), so that it decodes as fast as the default; ``best`` trains
``max``'s network once per variant of ``CHOICES`` and keeps each image's best file
(``choice``). Encode time, BD-rate and decode cost of each level:
docs/results/levers/README.md."""
DEFAULT_EFFORT = "default"

CHOICES: dict[str, tuple[Mapping[str, Any], ...]] = {
    "best": ({}, {"colour": "ycbcr"}, {"latent_channels": (1, 2, 2, 2, 2, 2, 2)}),
}
"""The networks an effort level chooses among, per image: its config with each variant's fields
replaced (fields the caller sets stay the caller's). ``best``: RGB synthesis, YCbCr synthesis,
and two latent grids at each level but the finest; each choice's BD-rate on Kodak crops:
docs/results/levers/README.md."""

TUNABLE = ("steps", "hard_fraction", "lr", "hard_lr", "levels", "latent_channels", "hidden", "conv", "context",
           "arm_hidden", "channel_context", "seed", "distortion", "colour", "upsampling", "noise")
"""The fields a caller may set besides the rate weight (``encoder.plan``'s ``latent_options``)."""


def effort_config(effort: str | None = None, options: Mapping[str, Any] | None = None) -> LatentConfig:
    """The config of ``effort`` (default ``DEFAULT_EFFORT``) with ``options`` (fields of
    ``TUNABLE``) replacing its own, checked by ``check_config``; InputError otherwise."""
    effort = DEFAULT_EFFORT if effort is None else effort
    if effort not in EFFORTS:
        raise InputError(f"unknown effort {effort!r}; choose from {', '.join(EFFORTS)}")
    options = dict(options or {})
    unknown = sorted(set(options) - set(TUNABLE))
    if unknown:
        raise InputError(f"unknown latent option {unknown[0]!r}; valid: {', '.join(TUNABLE)}")
    for key in ("hidden", "arm_hidden", "latent_channels"):
        if key in options:
            options[key] = _widths(key, options[key])
    return check_config(dataclasses.replace(EFFORTS[effort], **options))


def _widths(key: str, value: Any) -> tuple[int, ...]:
    """``(16, 16)``, ``[16, 16]``, ``"16/16"`` or ``"16,16"`` -> (16, 16); ``24`` -> (24,); ``""`` or
    ``()`` -> ()."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    try:
        parts = value.replace(",", "/").split("/") if isinstance(value, str) else list(value)
        return tuple(int(v) for v in parts if str(v).strip() != "")
    except (TypeError, ValueError):
        raise InputError(f"{key} must be hidden widths such as 16/16, got {value!r}") from None


def check_config(cfg: LatentConfig) -> LatentConfig:
    """``cfg`` if a version 4 file can hold its network and its training is well-defined;
    InputError naming the first field that breaks the format's ranges (format_spec.md
    section 10) otherwise."""
    problems = []
    if not 1 <= cfg.context <= sarm.MAX_CONTEXT:
        problems.append(f"context must be 1..{sarm.MAX_CONTEXT}, got {cfg.context}")
    if not 0 <= cfg.channel_context <= sarm.MAX_CHANNEL:
        problems.append(f"channel_context must be 0..{sarm.MAX_CHANNEL}, got {cfg.channel_context}")
    if cfg.channel_context and cfg.upsampling != "learned":
        problems.append("channel_context needs upsampling=learned (its files extend version 6's)")
    if len(cfg.arm_hidden) > sarm.MAX_ARM_LAYERS - 1 or not all(1 <= w <= sarm.MAX_ARM_WIDTH for w in cfg.arm_hidden):
        problems.append(f"arm_hidden must be at most {sarm.MAX_ARM_LAYERS - 1} widths of 1..{sarm.MAX_ARM_WIDTH}, "
                        f"got {cfg.arm_hidden}")
    if len(cfg.hidden) > MAX_SYNTH_LAYERS - 1 or not all(1 <= w <= MAX_SYNTH_WIDTH for w in cfg.hidden):
        problems.append(f"hidden must be at most {MAX_SYNTH_LAYERS - 1} widths of 1..{MAX_SYNTH_WIDTH}, "
                        f"got {cfg.hidden}")
    if cfg.levels < 1:
        problems.append(f"levels must be at least 1, got {cfg.levels}")
    grids = sum(cfg.latent_channels[:cfg.levels]) + max(0, cfg.levels - len(cfg.latent_channels))  # at most
    if any(n < 0 for n in cfg.latent_channels) or not 1 <= grids <= MAX_GRIDS:
        problems.append(f"latent_channels must give 1..{MAX_GRIDS} grids in all over the levels, "
                        f"got {cfg.latent_channels}")
    if cfg.steps < 1:
        problems.append(f"steps must be at least 1, got {cfg.steps}")
    if not 0 <= cfg.hard_fraction < 1:
        problems.append(f"hard_fraction must be in [0, 1), got {cfg.hard_fraction}")
    if not (cfg.lr > 0 and cfg.hard_lr > 0):
        problems.append(f"lr and hard_lr must be positive, got {cfg.lr} and {cfg.hard_lr}")
    if cfg.distortion not in DISTORTIONS:
        problems.append(f"distortion must be one of {', '.join(DISTORTIONS)}, got {cfg.distortion!r}")
    if cfg.colour not in COLOURS:
        problems.append(f"colour must be one of {', '.join(COLOURS)}, got {cfg.colour!r}")
    if cfg.upsampling not in UPSAMPLINGS:
        problems.append(f"upsampling must be one of {', '.join(UPSAMPLINGS)}, got {cfg.upsampling!r}")
    if cfg.noise not in NOISES:
        problems.append(f"noise must be one of {', '.join(NOISES)}, got {cfg.noise!r}")
    if problems:
        raise InputError(f"invalid latent network: {problems[0]}")
    return cfg
