"""The latent-grid encoder's settings: ``LatentConfig`` (no torch import)."""

from __future__ import annotations

from dataclasses import dataclass

from ..format.latent_v4 import max_levels


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
    return max(1, min(levels, max_levels(height, width)))
