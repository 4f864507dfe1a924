"""PSNR-vs-bpp plots of a benchmark (matplotlib is an optional dependency, imported lazily)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sirencodec.errors import InputError

from .bdrate import pareto_front
from .codecs import SRN_CODECS

if TYPE_CHECKING:
    from .run import PlotStyle, Row

MISSING_MATPLOTLIB = (
    "plotting needs matplotlib: pip install matplotlib (or pip install 'sirencodec[plot]'), "
    "or pass --no-plot"
)


def require_matplotlib() -> None:
    """Raise a one-line :class:`InputError` naming the fix if matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError(MISSING_MATPLOTLIB) from None


def _knobs(label: str) -> dict[str, str]:
    """``"bits=8,prune=0.2"`` -> ``{"bits": "8", "prune": "0.2"}``."""
    pairs = (item.partition("=") for item in label.split(","))
    return {key: value for key, sep, value in pairs if sep}


def _annotation(label: str, keys: tuple[str, ...] | None) -> str:
    if keys is None:
        return label
    knobs = _knobs(label)
    return ",".join(f"{k}={knobs[k]}" for k in keys if k in knobs)


def _by_rate(rows: Sequence[Row]) -> tuple[list[float], list[float]]:
    ordered = sorted(rows, key=lambda r: r["bpp"])
    return [r["bpp"] for r in ordered], [r["psnr"] for r in ordered]


def plot_rd(rows: Sequence[Row], path: Path, style: PlotStyle, image: str) -> None:
    """Draw one image's PSNR-bpp plot: a curve per codec, sirencodec points annotated."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError(MISSING_MATPLOTLIB) from None

    figure = Figure(figsize=(9, 6), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    codecs = list(dict.fromkeys(r["codec"] for r in rows))
    for codec in codecs:
        points = [r for r in rows if r["codec"] == codec and r["psnr"] is not None]
        if codec not in SRN_CODECS:
            _plot_anchor(axes, points, codec)
            continue
        _plot_srn(axes, points, style, codec)
    axes.set_xlabel("rate (bpp of the real file, log scale)")
    axes.set_ylabel("PSNR (dB)")
    title = f"{image} ({rows[0]['width']}x{rows[0]['height']})" if rows else image
    full = f"{title}: {style.title}" if style.title else title
    axes.set_title(full if len(full) <= 100 else full[:99] + "…", fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best", fontsize=8)
    _limit_to_data(axes, rows)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(str(path))


def _plot_anchor(axes: Any, points: Sequence[Row], codec: str) -> None:
    """An anchor's curve: the envelope (Pareto front) of its points, which is what BD metrics
    compare against; with several chroma modes, each mode's points are marked apart."""
    modes = sorted({_knobs(r["setting"]).get("chroma", "") for r in points})
    front = pareto_front((r["bpp"], r["psnr"]) for r in points) or [(math.nan, math.nan)]
    line, = axes.plot(*zip(*front), linewidth=1.2,
                      label=codec if len(modes) == 1 else f"{codec} (envelope of {', '.join(modes)})")
    for mode, marker in zip(modes, "o^v"):
        rates, psnrs = _by_rate([r for r in points if _knobs(r["setting"]).get("chroma", "") == mode])
        axes.scatter(rates, psnrs, marker=marker, s=9, color=line.get_color())


SRN_COLORS = {"latent": "black", "siren": "tab:red"}


def _plot_srn(axes: Any, points: Sequence[Row], style: PlotStyle, codec: str) -> None:
    """A sirencodec codec's points, annotated; its best points joined (or grouped by ``style``)."""
    color = SRN_COLORS.get(codec, "black")
    if style.group_by is not None:
        groups: dict[str, list[Row]] = {}
        for row in points:
            groups.setdefault(_knobs(row["setting"]).get(style.group_by, "?"), []).append(row)
        for value, group in groups.items():
            axes.plot(*_by_rate(group), marker="s", linewidth=1.5, label=f"{codec} {style.group_by}={value}")
    else:
        rates, psnrs = _by_rate(points)
        axes.scatter(rates, psnrs, marker="s", s=22, color=color, zorder=3, label=codec)
        front = pareto_front(zip(rates, psnrs))
        if len(front) > 1:
            axes.plot(*zip(*front), color=color, linewidth=1.5, zorder=3, label=f"{codec} (best points)")
    # Neighbouring points get labels at staggered heights so that they stay readable.
    for index, row in enumerate(sorted(points, key=lambda r: r["bpp"])):
        axes.annotate(
            _annotation(row["setting"], style.annotate),
            (row["bpp"], row["psnr"]),
            textcoords="offset points",
            xytext=(5, (4, -10, 12)[index % 3]),
            fontsize=6,
        )


def _limit_to_data(axes: Any, rows: Sequence[Row]) -> None:
    """Log-rate axis with plain tick labels; finite PSNRs in view (lossless would be inf)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    finite = [r["psnr"] for r in rows if r["psnr"] is not None and r["psnr"] != float("inf")]
    if finite:
        axes.set_ylim(min(finite) - 1.0, max(finite) + 1.0)
    axes.set_xscale("log")
    axes.xaxis.set_major_locator(FixedLocator([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 4, 8, 16, 32, 64, 128]))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    axes.xaxis.set_minor_formatter(NullFormatter())
