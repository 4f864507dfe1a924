"""Named sweeps of sirencodec settings: the standard RD sweep and the thesis's SIREN experiments.

Every point is a real ``.srn`` file — sirencodec has no float mode.  Where the thesis
measured a *plain* (float, unpruned) SIREN, the closest real file is used instead:
``prune=0`` and ``bits=16``, the largest bit width the format stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sirencodec.errors import InputError

from .codecs import ANCHORS, LATENT, SIREN

PLAIN = {"bits": 16, "first_bits": 16, "prune": 0.0}
"""The closest real file to the thesis's float SIREN."""

THESIS_NET = {"hidden_width": 64, "hidden_layers": 5}
"""The thesis's baseline network (64 wide, 5 hidden layers)."""

QAT_PRUNE = 0.3
"""Sparsity of the pruned (64, 5) network the ``qat`` experiment quantizes."""

QUICK_LATENT_STEPS = 2000
"""The quick sweep's latent training steps (``make demo``'s; srnenc's default is 12,000)."""


@dataclass(frozen=True)
class Sweep:
    """What one benchmark run encodes with sirencodec, and how its plot is drawn."""

    name: str
    settings: dict[str, tuple[dict[str, Any], ...]]
    """Each sirencodec codec's settings (``latent``, ``siren``), used when it runs."""
    preset: str
    codecs: tuple[str, ...]
    """Codecs run when the user does not pass ``--codecs``."""
    group_by: str | None = None
    """A setting whose values split the sirencodec points into separate plot curves."""
    annotate: tuple[str, ...] | None = None
    """Settings written next to each sirencodec point (None: the whole label)."""
    description: str = ""


def _braces(values: tuple[Any, ...]) -> str:
    """``{25,45,64}``; a run of 3 or more consecutive integers as ``{2..12}``."""
    if len(values) > 2 and all(isinstance(v, int) for v in values) and list(values) == list(
        range(values[0], values[-1] + 1)
    ):
        return f"{{{values[0]}..{values[-1]}}}"
    return "{" + ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values) + "}"


def rd_sweep(quick: bool) -> Sweep:
    """The standard rate-distortion sweep: srnenc's quality levels, against every anchor.

    By default the latent network runs (srnenc's default); ``--codecs ...,siren`` adds the SIREN
    at the same levels.  ``quick``: four levels, the latent network at QUICK_LATENT_STEPS
    training steps and the SIREN with the fast preset (minutes per image on a CPU)."""
    from sirencodec.ratecontrol import QUALITY_LEVELS

    levels = (2, 4, 6, 8) if quick else tuple(range(1, QUALITY_LEVELS + 1))
    latent_extra = {"steps": QUICK_LATENT_STEPS} if quick else {}
    return Sweep(
        name="quick" if quick else "full",
        settings={LATENT: tuple({"quality": q, **latent_extra} for q in levels),
                  SIREN: tuple({"quality": q} for q in levels)},
        preset="fast" if quick else "default",
        codecs=(*ANCHORS, LATENT),
        annotate=("quality",),
        description=f"{'quick' if quick else 'full'} RD sweep (quality levels {_braces(levels)}"
        + (f", latent network at {QUICK_LATENT_STEPS} steps)" if quick else ")"),
    )


def _widths(quick: bool) -> Sweep:
    widths = (25, 45, 64) if quick else (25, 32, 45, 55, 64)
    layers = (2, 5) if quick else tuple(range(2, 13))
    return Sweep(
        name="widths",
        settings={SIREN: tuple(
            {"hidden_width": w, "hidden_layers": n, **PLAIN} for w in widths for n in layers
        )},
        preset="fast" if quick else "default",
        codecs=("jpeg", "siren"),
        group_by="hidden_width",
        annotate=("hidden_layers",),
        description=f"plain SIRENs (bits=16, prune=0) over widths {_braces(widths)} "
        f"x hidden layers {_braces(layers)}",
    )


def _agp(quick: bool) -> Sweep:
    rates = (0.2, 0.4) if quick else (0.15, 0.2, 0.25, 0.3, 0.35, 0.4)
    return Sweep(
        name="agp",
        settings={SIREN: tuple({**THESIS_NET, "bits": 16, "first_bits": 16, "prune": p} for p in rates)},
        preset="fast" if quick else "default",
        codecs=("jpeg", "siren"),
        annotate=("prune",),
        description=f"AGP pruning of (64, 5) at rates {_braces(rates)}, bits=16",
    )


def _qat(quick: bool) -> Sweep:
    bits = (4, 8, 16) if quick else (4, 7, 8, 9, 16)
    return Sweep(
        name="qat",
        settings={SIREN: tuple({**THESIS_NET, "bits": b, "prune": QAT_PRUNE} for b in bits)},
        preset="fast" if quick else "default",
        codecs=("jpeg", "siren"),
        annotate=("bits",),
        description=f"QAT of (64, 5) pruned {QAT_PRUNE:.0%} at bits {_braces(bits)}",
    )


EXPERIMENTS = {"widths": _widths, "agp": _agp, "qat": _qat}
"""Thesis experiments by name; each takes ``quick`` and returns its Sweep."""


def get_sweep(experiment: str | None, quick: bool) -> Sweep:
    """The sweep of a named experiment, or the standard RD sweep when ``experiment`` is None."""
    if experiment is None:
        return rd_sweep(quick)
    if experiment not in EXPERIMENTS:
        raise InputError(f"unknown experiment {experiment!r}; choose from {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[experiment](quick)


def parse_settings(text: str) -> tuple[dict[str, str], ...]:
    """``"bits=8,prune=0.2;bits=10"`` -> ``({"bits": "8", "prune": "0.2"}, {"bits": "10"})``.

    Points are separated by ``;``, knobs by ``,``; empty points are ignored.  Values stay
    text here; each codec's ``normalize`` casts them to its setting types.
    """
    points: list[dict[str, str]] = []
    for chunk in text.split(";"):
        if not chunk.strip():
            continue
        point: dict[str, str] = {}
        for item in chunk.split(","):
            key, sep, value = item.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not key or not value:
                raise InputError(f"bad setting {item.strip()!r} in --settings; write KEY=VALUE, e.g. bits=8")
            if key in point:
                raise InputError(f"setting {key!r} given twice in one --settings point")
            point[key] = value
        points.append(point)
    if not points:
        raise InputError("empty sweep: --settings has no points; e.g. --settings 'bits=8,prune=0.2'")
    return tuple(points)
