"""Named sweeps of sirencodec settings: the standard RD sweep and the thesis's SIREN experiments.

Every point is a real ``.srn`` file — sirencodec has no float mode.  Where the thesis
measured a *plain* (float, unpruned) SIREN, the closest real file is used instead:
``prune=0`` and ``bits=16``, the largest bit width the format stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sirencodec.errors import InputError
from sirencodec.latent.config import QUICK_STEPS

from .codecs import ANCHORS, LATENT, SIREN

PLAIN = {"bits": 16, "first_bits": 16, "prune": 0.0}
"""The closest real file to the thesis's float SIREN."""

THESIS_NET = {"hidden_width": 64, "hidden_layers": 5}
"""The thesis's baseline network (64 wide, 5 hidden layers)."""

QAT_PRUNE = 0.3
"""Sparsity of the pruned (64, 5) network the ``qat`` experiment quantizes."""

THESIS_PROFILE = (0.0, 0.15, 0.325, 0.325, 0.325, 0.5, 0.0)
"""The thesis's per-layer pruning of (64, 5), scaled to each overall rate: hidden-layer matrices
only (not the first or output layer), the first hidden 10-20 %, the middle 25-40 %, the last
45-55 % (the middle of each range; ../shared/docs/thesis.md section 3)."""

AGP_DT = (50, 100, 200)
"""The thesis's AGP step spacings (prune-stage steps between two of the 10 pruning steps)."""

QAT_RANGE_UPDATE = (2, 5, 10, 25)
"""The thesis's QAT range-update periods (steps between refreshes of scale and zero point)."""

QAT_LR = (1e-4, 7.5e-5, 5.5e-5)
"""The thesis's QAT learning rates."""

QUICK_LATENT_STEPS = QUICK_STEPS
"""The quick sweep's latent training steps (``make demo``'s)."""


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
    """Quick: two rates at the default schedule.  Full (thesis Fig. 3.5, Tables 3.5-3.8, 3.10):
    overall rates 15-40 % in the thesis's per-layer profile x the AGP spacings Δt."""
    if quick:
        points = tuple({**THESIS_NET, "bits": 16, "first_bits": 16, "prune": p} for p in (0.2, 0.4))
        what = "rates {0.2,0.4}"
    else:
        rates = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4)
        points = tuple({**THESIS_NET, "bits": 16, "first_bits": 16, "prune": p, "layer_prune": THESIS_PROFILE,
                        "agp_dt": dt} for dt in AGP_DT for p in rates)
        what = f"rates {_braces(rates)} in the thesis's layer profile x Δt {_braces(AGP_DT)}"
    return Sweep(
        name="agp",
        settings={SIREN: points},
        preset="fast" if quick else "default",
        codecs=("jpeg", "siren"),
        group_by=None if quick else "agp_dt",
        annotate=("prune",),
        description=f"AGP pruning of (64, 5) at {what}, bits=16",
    )


def _qat(quick: bool) -> Sweep:
    """Quick: three bit widths.  Full (thesis Fig. 3.6, Table 3.11): bit widths x range-update
    periods x QAT learning rates, on (64, 5) pruned QAT_PRUNE in the thesis's layer profile."""
    if quick:
        points = tuple({**THESIS_NET, "bits": b, "prune": QAT_PRUNE} for b in (4, 8, 16))
        what = "bits {4,8,16}"
    else:
        bits = (4, 7, 8, 9, 16)
        points = tuple({**THESIS_NET, "bits": b, "prune": QAT_PRUNE, "layer_prune": THESIS_PROFILE,
                        "range_update_every": k, "qat_lr": lr}
                       for b in bits for k in QAT_RANGE_UPDATE for lr in QAT_LR)
        what = (f"bits {_braces(bits)} x range update every {_braces(QAT_RANGE_UPDATE)} steps x "
                f"learning rate {_braces(QAT_LR)}")
    return Sweep(
        name="qat",
        settings={SIREN: points},
        preset="fast" if quick else "default",
        codecs=("jpeg", "siren"),
        group_by=None if quick else "bits",
        annotate=("bits",) if quick else ("range_update_every", "qat_lr"),
        description=f"QAT of (64, 5) pruned {QAT_PRUNE:.0%} at {what}",
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
