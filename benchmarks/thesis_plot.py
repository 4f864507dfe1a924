"""One PSNR-bpp plot per image from several srnbench run folders: the thesis's experiments
(widths, agp, qat) as point sets, today's SIREN (`--quality`) and latent network as curves, and
JPEG, all from real files (the runs' ``results.csv``).

    .venv/bin/python benchmarks/thesis_plot.py docs/results/thesis -o docs/results/thesis

Reads ``widths/``, ``agp/``, ``qat/`` (the thesis's experiments) and ``rd-siren/``, ``rd-latent/``
(srnbench's RD sweep) under the folder; writes ``rd_all_<image>.png`` to ``-o``.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

EXPERIMENTS = {"widths": ("plain SIRENs (widths x depths)", "o"), "agp": ("AGP-pruned (64, 5)", "s"),
               "qat": ("QAT of pruned (64, 5)", "^")}
CURVES = {"rd-siren": ("siren", "today's SIREN, --quality"), "rd-latent": ("latent", "latent network, --quality")}


def read(folder: Path) -> list[dict]:
    path = folder / "results.csv"
    return list(csv.DictReader(path.open())) if path.exists() else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, help="the folder holding the run folders")
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {name: read(args.runs / name) for name in [*EXPERIMENTS, *CURVES]}
    images = sorted({r["image"] for rows in runs.values() for r in rows})
    for image in images:
        fig, ax = plt.subplots(figsize=(8, 5.5))
        jpeg = sorted({(float(r["bpp"]), float(r["psnr"])) for rows in runs.values() for r in rows
                       if r["image"] == image and r["codec"] == "jpeg"})
        if jpeg:
            ax.plot(*zip(*jpeg), "k--", marker=".", label="JPEG (Pillow)")
        for name, (label, marker) in EXPERIMENTS.items():
            pts = [(float(r["bpp"]), float(r["psnr"])) for r in runs[name] if r["image"] == image and r["codec"] == "siren"]
            if pts:
                ax.scatter(*zip(*pts), marker=marker, s=36, label=f"thesis experiment: {label}")
        for name, (codec, label) in CURVES.items():
            pts = sorted((float(r["bpp"]), float(r["psnr"])) for r in runs[name]
                         if r["image"] == image and r["codec"] == codec)
            if pts:
                ax.plot(*zip(*pts), marker="D", linewidth=2, label=label)
        ax.set_xscale("log")
        ax.set_xlabel("bpp (8 x file bytes / pixels)")
        ax.set_ylabel("PSNR (dB, of the decoded file)")
        ax.set_title(f"{image}: the thesis's experiments and today's codecs, real files")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        args.out.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.out / f"rd_all_{image}.png", dpi=110)
        plt.close(fig)
        print(args.out / f"rd_all_{image}.png")


if __name__ == "__main__":
    main()
