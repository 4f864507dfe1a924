"""What bit allocation does on one image, and what finer-grained allocation could still save.

    .venv/bin/python benchmarks/allocation_probe.py IMAGE [KEY=VALUE ...] [--threads 1]

Trains ``fit_network`` (default preset with the given overrides, as ``probe.py``) and, on
the final quantized network, measures the MSE sensitivity of every layer and of every row
(one hidden unit's incoming weights) with the encoder's own ``fit.SensitivityProbe``.  Prints per layer: kept weights, bit width,
step, sensitivity per weight; then the high-rate estimate of the bits that re-allocating
steps would save at equal estimated distortion, per layer (what the encoder already did,
so ~0) and per row (what a format with one step per row could add, before the cost of
storing those steps).  An estimate to decide whether to build per-row steps, not a file.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
from pathlib import Path

import numpy as np
import torch

from sirencodec.fit import SensitivityProbe, _training_tensors, balanced_steps, fit_network
from sirencodec.imageio import load_image


def saving_bits(kept: np.ndarray, sens: np.ndarray, steps: np.ndarray) -> float:
    """Bits saved by moving ``steps`` to ``fit.balanced_steps`` (high-rate model)."""
    balanced = np.array(balanced_steps(kept, np.maximum(sens, 1e-30), steps))
    return float((kept * np.log2(balanced / steps)).sum())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    spec = importlib.util.spec_from_file_location("probe", Path(__file__).parent / "probe.py")
    probe_script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe_script)
    config = probe_script.config_from("default", args.overrides)
    pixels, _ = load_image(args.image)
    channels = 1 if pixels.ndim == 2 else 3
    model = fit_network(pixels, config, torch.device("cpu")).model
    coords, target = _training_tensors(pixels, channels, torch.device("cpu"))
    probe = SensitivityProbe(model, coords, target, seed=7)
    print(f"base PSNR {10 * math.log10(4 / probe.base):.2f} dB (float output, {probe.xs.shape[0]} pixels)")
    layer_kept, layer_sens, layer_steps = [], [], []
    row_kept, row_sens, row_steps = [], [], []
    for i in range(model.num_layers):
        mask = model.mask(i)
        kept, step = int(mask.sum()), float(model.q_scale[i])
        a = probe.sensitivity(i, torch.ones_like(mask))
        layer_kept.append(kept), layer_sens.append(a), layer_steps.append(step)
        print(f"layer {i}: {kept:5d} kept, {model.bits[i]:2d} bits, step {step:.3g}, "
              f"sensitivity per weight {a / max(kept, 1):.3g}")
        for r in range(mask.shape[0]):
            row = torch.zeros_like(mask)
            row[r] = True
            row_kept.append(int(mask[r].sum())), row_sens.append(probe.sensitivity(i, row)), row_steps.append(step)
    per_layer = saving_bits(np.array(layer_kept), np.array(layer_sens), np.array(layer_steps))
    per_row = saving_bits(np.array(row_kept), np.array(row_sens), np.array(row_steps))
    print(f"re-allocating per layer would save {per_layer:.0f} bits ({per_layer / 8:.0f} bytes); "
          f"per row {per_row:.0f} bits ({per_row / 8:.0f} bytes), before storing {len(row_kept)} row steps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
