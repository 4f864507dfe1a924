"""The vocabulary of rate control, shared by both codecs (``sirencodec.latent.ratecontrol``,
``sirencodec.siren.ratecontrol``): quality levels, a byte budget, the band a target lands in.

* ``--quality 1..QUALITY_LEVELS`` (default ``DEFAULT_QUALITY``): higher is larger and better;
  each codec maps a level to its own knob (the latent network's rate weight, a SIREN's size).
* ``--target-bpp X``: the file has at most ``byte_budget(X, W, H)`` bytes, and aims at the
  band ``[(1 - TARGET_TOLERANCE) * budget, budget]``.
* ``--target-psnr Y``: the smallest file found whose decoded PSNR is at least Y dB.
"""

from __future__ import annotations

import math

from .errors import InputError

QUALITY_LEVELS = 8
DEFAULT_QUALITY = 5
TARGET_TOLERANCE = 0.05  # --target-bpp aims at [(1 - this) * budget, budget]


def check_quality(quality: int) -> int:
    """``quality`` if it is a level 1..QUALITY_LEVELS, else InputError."""
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= QUALITY_LEVELS:
        raise InputError(f"quality must be an integer in 1..{QUALITY_LEVELS}, got {quality!r}")
    return quality


def check_target_bpp(bpp: float) -> float:
    if not (isinstance(bpp, (int, float)) and math.isfinite(bpp) and bpp > 0):
        raise InputError(f"target bpp must be a positive number, got {bpp!r}")
    return float(bpp)


def check_target_psnr(target: float) -> float:
    if not (isinstance(target, (int, float)) and math.isfinite(target) and 0 < target < 100):
        raise InputError(f"target PSNR must be a number of dB in (0, 100), got {target!r}")
    return float(target)


def byte_budget(bpp: float, width: int, height: int) -> int:
    """Most bytes a file may have to be at or below ``bpp`` for a W x H image."""
    return math.floor(bpp * width * height / 8 + 1e-9)
