"""OUTDIR/README.md of a benchmark run: the exact command, the machine, and the measured
tables, all written by the run itself (no figure is ever typed in by hand)."""

from __future__ import annotations

import datetime
import os
import platform
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def machine_description(device: str) -> str:
    import PIL
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    text = (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores ({cpu}), "
            f"Python {platform.python_version()}, torch {torch.__version__}, Pillow {PIL.__version__}")
    if device != "cpu" and torch.cuda.is_available():
        text += f", GPU {torch.cuda.get_device_name(0)}"
    return text


def write_readme(outdir: Path, summary: dict[str, Any], argv: Sequence[str], description: str,
                 device: str) -> Path:
    lines = [
        f"# {description}",
        "",
        f"Run on {datetime.date.today().isoformat()} with:",
        "",
        "    " + " ".join(shlex.quote(a) for a in ["srnbench", *argv]),
        "",
        f"Machine: {machine_description(device)}; encoder device: {device}.",
        "",
        "Every rate is the size of a real file (bpp = 8 x bytes / pixels) and every PSNR is",
        "measured on what that codec's decoder returns from the file (RGB PSNR over all three",
        "channels for colour images; `psnr_ycbcr` the YCbCr-weighted one). `results.csv` has one row",
        "per file; `summary.json` the Bjontegaard deltas; `rd_<image>.png` the curves.",
        f"BD method: {summary.get('method', '')}.",
    ]
    tests = summary.get("test_codecs", [])
    if summary.get("bd_range_bpp"):
        lo, hi = summary["bd_range_bpp"]
        lines.append(f"BD range: the {' and '.join(tests)} curve(s) between {lo:g} and {hi:g} bpp only.")
    lines.append("")
    for image, info in summary.get("images", {}).items():
        lines += [f"## {image} ({info['width']}x{info['height']})", ""]
        for test in tests:
            front = info.get(f"{test}_front", [])
            colour = any("psnr_ycbcr" in p for p in front)
            lines += [f"{test} points on the Pareto front:", "",
                      "| setting | bpp | PSNR (dB) | SSIM |" + (" YCbCr PSNR 6:1:1 (dB) |" if colour else ""),
                      "|---|---|---|---|" + ("---|" if colour else "")]
            for p in front:
                extra = f" {p['psnr_ycbcr']:.2f} |" if colour and "psnr_ycbcr" in p else (" |" if colour else "")
                lines.append(f"| {p['setting']} | {p['bpp']:.4f} | {p['psnr']:.2f} | {p['ssim']:.4f} |{extra}")
            bd = info.get(f"bd_{test}_vs", {})
            if bd:
                lines += ["", f"| {test} vs | BD-rate | BD-PSNR | note |", "|---|---|---|---|"]
                for anchor, entry in bd.items():
                    lines.append(f"| {anchor} | {_pct(entry.get('bd_rate_percent'))} | "
                                 f"{_db(entry.get('bd_psnr_db'))} | {entry.get('note', '')} |")
            lines.append("")
    for test, mean in summary.get("mean", {}).items():
        if mean and len(summary.get("images", {})) > 1:
            lines += [f"## Mean over images: {test}", "", f"| {test} vs | BD-rate | BD-PSNR | images |",
                      "|---|---|---|---|"]
            for anchor, m in mean.items():
                lines.append(f"| {anchor} | {_pct(m.get('bd_rate_percent'))} | {_db(m.get('bd_psnr_db'))} | "
                             f"{m.get('images_bd_rate_percent', 0)} |")
            lines.append("")
    path = Path(outdir) / "README.md"
    path.write_text("\n".join(lines))
    return path


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:+.1f} %"


def _db(v: float | None) -> str:
    return "n/a" if v is None else f"{v:+.2f} dB"

