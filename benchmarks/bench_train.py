"""Training throughput of both codecs.  Not a test: prints measured figures.

    .venv/bin/python benchmarks/bench_train.py [--steps N] [--device cpu|cuda|all]

* SIREN: the real pipeline on the 256x256 cameraman crop with a (64 wide, 5 hidden) network,
  full batch, N steps per stage: steps/s per stage (each stage's wall time includes its final
  full-image evaluation);
* latent grids: the default network, N soft-stage training steps, on the same crop and on a
  768x512 RGB image (the bundled colour crop upscaled), and ``--effort max``'s network on the
  crop: steps/s of the whole training; on the CPU with eager steps and with compiled ones
  (``fit_latent``'s ``compiled``; the compilation itself is in the warm-up, whose time is
  printed).

Each is run once first as a warm-up; on the CPU and, when present, on CUDA.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import sirencodec
from sirencodec.imageio import load_image
from sirencodec.latent.config import effort_config
from sirencodec.latent.fit import fit_latent

ROOT = Path(__file__).resolve().parent.parent


def siren(image: np.ndarray, device: str, steps: int) -> dict[str, float]:
    options = dict(preset="test", width=64, depth=5, prune=0.3, bits=9, batch_pixels=1 << 18, device=device)
    sirencodec.encode(image, fit_steps=5, prune_steps=5, qat_steps=5, agp_t0=0, agp_n=1, agp_dt=1, **options)
    report = sirencodec.encode(image, fit_steps=steps, prune_steps=steps, qat_steps=steps, **options).report
    return {stage: steps / report["seconds"][stage] for stage in ("fit", "prune", "qat")}


def latent(image: np.ndarray, device: str, steps: int, compiled: bool | None,
           effort: str = "default") -> tuple[float, float]:
    """(steps/s, the warm-up's seconds) of ``effort``'s network."""
    config = effort_config(effort, {"steps": steps, "hard_fraction": 0.0})
    start = time.perf_counter()
    fit_latent(image, dataclasses.replace(config, steps=5), device, compiled=compiled)
    warm = time.perf_counter() - start
    return steps / fit_latent(image, config, device, compiled=compiled).seconds, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--device", default="all", choices=["cpu", "cuda", "all"])
    args = parser.parse_args()
    gray, _ = load_image(ROOT / "sample_images" / "cameraman256.png")
    small = Image.open(ROOT / "sample_images" / "chelsea128_rgb.png").convert("RGB")
    colour = np.asarray(small.resize((768, 512), Image.Resampling.BICUBIC))
    for device in ["cpu", "cuda"] if args.device == "all" else [args.device]:
        if device == "cuda" and not torch.cuda.is_available():
            print("cuda: not available on this machine")
            continue
        rates = siren(gray, device, args.steps)
        print(f"{device}: SIREN (64, 5) on 256x256 gray, full batch, {args.steps} steps per stage: "
              + ", ".join(f"{k} {v:.1f} steps/s" for k, v in rates.items()))
        for effort, name, image in (("default", "256x256 gray", gray), ("default", "768x512 RGB", colour),
                                    ("max", "256x256 gray", gray)):
            for compiled in (False, True) if device == "cpu" else (None,):
                rate, warm = latent(image, device, args.steps, compiled, effort)
                engine = {False: " eager", True: " compiled", None: ""}[compiled]
                print(f"{device}: latent {effort} network on {name},{engine} {args.steps} steps: "
                      f"{rate:.1f} steps/s (warm-up {warm:.1f} s)")


if __name__ == "__main__":
    main()
