"""Float-only fits of candidate architectures: is a new network worth a format change?

    .venv/bin/python benchmarks/float_probe.py IMAGE ARCH WIDTH LINEARS [--steps 8000]
        [--first-bias K] [--grid CxN] [--grid-lr 1e-2] [--pe L]

ARCH is ``siren`` (sin(30 z), the codec's network), ``finer`` (FINER, Liu et al. CVPR 2024:
sin(30 (|z| + 1) z) with |z| + 1 held constant in the backward pass, first-layer biases
U(-K, K)) or ``grid`` (the SIREN with C extra inputs bilinearly sampled from a learned
C x N x N feature grid, a "hybrid" implicit representation).  ``--pe L`` adds L octaves of
positional encoding (sin/cos of 2**k pi x and y) to the inputs of any of them.  LINEARS counts the linear
layers including the output one (the codec's (44, 4) network is ``44 6``).  Training is the
encoder's fit stage: Adam, 8192-pixel random batches, lr 2e-3 cosine-decayed to 5 %.

Prints the full-image PSNR four times and the parameter count; for ``grid`` also the PSNR
and the coded bits per value (the codec's own entropy models) of the grid quantized after
training to 4..8 bits.  Nothing here is a codec file: a float probe only says whether an
idea can pay before it is built into the format.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from sirencodec import entropy, grid
from sirencodec.imageio import load_image
from sirencodec.network import from_uint8

OMEGA0, LR, BATCH = 30.0, 2e-3, 8192


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("image")
    p.add_argument("arch", choices=("siren", "finer", "grid"))
    p.add_argument("width", type=int)
    p.add_argument("linears", type=int)
    p.add_argument("--steps", type=int, default=8000)
    p.add_argument("--first-bias", type=float, default=0.0, help="finer: first-layer bias range K (0: default)")
    p.add_argument("--grid", default="4x32", help="grid: CxN (C channels, N x N)")
    p.add_argument("--grid-lr", type=float, default=1e-2)
    p.add_argument("--pe", type=int, default=0, help="add L positional-encoding octaves to the inputs")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    pixels, _ = load_image(a.image)
    if pixels.ndim != 2:
        raise SystemExit("float_probe: gray images only")
    h, w = pixels.shape
    coords = torch.from_numpy(grid.coordinates(h, w))
    target = torch.from_numpy(from_uint8(pixels).reshape(-1, 1))
    gc, gn = (int(v) for v in a.grid.split("x")) if a.arch == "grid" else (0, 0)

    gen = torch.Generator().manual_seed(0)
    dims = [2 + gc + 4 * a.pe] + [a.width] * (a.linears - 1) + [1]
    weights, biases = [], []
    for i, (fan_in, fan_out) in enumerate(zip(dims, dims[1:])):
        bound = 1.0 / fan_in if i == 0 else math.sqrt(6.0 / fan_in) / OMEGA0
        weights.append(torch.empty(fan_out, fan_in).uniform_(-bound, bound, generator=gen).requires_grad_())
        b = a.first_bias if (i == 0 and a.first_bias > 0) else 1.0 / math.sqrt(fan_in)
        biases.append(torch.empty(fan_out).uniform_(-b, b, generator=gen).requires_grad_())
    feat = torch.zeros(1, gc, gn, gn, requires_grad=True) if gc else None

    def forward(x: torch.Tensor) -> torch.Tensor:
        h_ = x
        if a.pe:
            freqs = math.pi * 2.0 ** torch.arange(a.pe, dtype=torch.float32)  # [L]
            ang = (x[:, :, None] * freqs).reshape(x.shape[0], -1)  # [P, 2L]
            h_ = torch.cat([x, torch.sin(ang), torch.cos(ang)], 1)
        if feat is not None:
            sampled = F.grid_sample(feat, x.view(1, 1, -1, 2), mode="bilinear", align_corners=True)
            h_ = torch.cat([h_, sampled[0, :, 0, :].t()], 1)
        for i, (wt, bs) in enumerate(zip(weights, biases)):
            z = h_ @ wt.t() + bs
            if i == len(weights) - 1:
                return z
            if a.arch == "finer":
                with torch.no_grad():
                    scale = z.abs() + 1.0
                h_ = torch.sin(OMEGA0 * scale * z)
            else:
                h_ = torch.sin(OMEGA0 * z)
        return h_

    def full_psnr() -> float:
        with torch.no_grad():
            return 10 * math.log10(4.0 / float(((forward(coords) - target) ** 2).mean()))

    groups = [{"params": weights + biases, "base": LR}] + ([{"params": [feat], "base": a.grid_lr}] if gc else [])
    opt = torch.optim.Adam(groups, lr=LR)
    n_params = sum(t.numel() for g in groups for t in g["params"])
    batch_gen = torch.Generator().manual_seed(1)
    start = time.perf_counter()
    for s in range(a.steps):
        decay = 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * s / a.steps))
        for g in opt.param_groups:
            g["lr"] = g["base"] * decay
        idx = torch.randint(coords.shape[0], (BATCH,), generator=batch_gen)
        loss = ((forward(coords[idx]) - target[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (s + 1) % max(1, a.steps // 4) == 0:
            print(f"{a.arch} width {a.width} linears {a.linears} grid {a.grid if gc else '-'} params {n_params} "
                  f"step {s + 1} psnr {full_psnr():.2f} ({time.perf_counter() - start:.0f} s)", flush=True)
    if feat is not None:
        with torch.no_grad():
            trained = feat.detach().clone()
            for bits in (4, 5, 6, 7, 8):
                lo, hi = float(trained.min()), float(trained.max())
                step = (hi - lo) / ((1 << bits) - 1)
                q = torch.round((trained - lo) / step)
                feat.copy_(q * step + lo)
                values = q.flatten().numpy().astype(np.int64)
                coded = entropy.cross_entropy_bits(entropy.choose_model(values), values) / values.size
                print(f"grid quantized to {bits} bits: psnr {full_psnr():.2f}, {coded:.2f} coded bits per value")
            feat.copy_(trained)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
