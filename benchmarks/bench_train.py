"""Training throughput (issue: encoder).  Not a test: prints measured figures.

    .venv/bin/python benchmarks/bench_train.py [--steps N] [--device cpu|cuda|all]

Runs the real pipeline (`fit_network`) on the 256x256 cameraman crop with a (64 wide,
5 hidden) SIREN, full batch, N steps per stage, and prints steps/s per stage (each
stage's wall time includes its final full-image evaluation) on the CPU and, when
present, on CUDA.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch

from sirencodec.config import FitConfig
from sirencodec.fit import fit_network
from sirencodec.imageio import load_image

ROOT = Path(__file__).resolve().parent.parent


def measure(device: str, steps: int) -> None:
    image, _ = load_image(ROOT / "sample_images" / "cameraman256.png")
    config = FitConfig(hidden_width=64, hidden_layers=5, fit_steps=steps, prune_steps=steps, qat_steps=steps,
                       prune=0.3, bits=9, batch_pixels=1 << 18)
    fit_network(image, dataclasses.replace(config, fit_steps=5, prune_steps=5, qat_steps=5, agp_t0=0, agp_n=1,
                                           agp_dt=1), torch.device(device))  # warm-up
    result = fit_network(image, config, torch.device(device))
    rates = {stage: steps / s for stage, s in result.stage_seconds.items()}
    print(f"{device}: (64, 5) on 256x256, full batch, {steps} steps per stage: "
          + ", ".join(f"{k} {v:.1f} steps/s" for k, v in rates.items()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--device", default="all", choices=["cpu", "cuda", "all"])
    args = parser.parse_args()
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    for device in devices:
        if device == "cuda" and not torch.cuda.is_available():
            print("cuda: not available on this machine")
            continue
        measure(device, args.steps)


if __name__ == "__main__":
    main()
