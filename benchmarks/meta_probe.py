"""Probe: does a meta-learned start (Reptile) make the SIREN codec's files better?

Strümpler et al. (ECCV 2022) start every fit from an initialisation meta-learned on a
training set and code only the weights' update from it.  This probe measures both halves
on the codec's own pipeline before any format change:

    .venv/bin/python benchmarks/meta_probe.py train --outer 60 --eps-min 0.05 --eval-every 20 --pool 60 --out meta46.pt
    .venv/bin/python benchmarks/meta_probe.py encode sample_images/cameraman256.png hidden_width=46 --init meta46.pt
    .venv/bin/python benchmarks/meta_probe.py encode sample_images/cameraman256.png hidden_width=46 --init meta46.pt --random

``train`` runs Reptile (Nichol et al. 2018): from the codec's usual start, repeatedly fit a
copy for ``--inner`` Adam steps to a random 256 x 256 crop of a training image and move the
start a fraction of the way towards the result.  The training images are scikit-image's
photographs that are *not* in the rate-distortion test set (no camera, astronaut, chelsea,
coffee), grayscale, at random scales, crops and flips.

``encode`` trains the codec's full pipeline (``fit_network``: fit, AGP, QAT) from that
start, packs the real file and decodes it with the real decoder (seeded residuals off: the
format's seeded values are not this start).  It prints one JSON line: bytes, bpp, decoded
PSNR, the stage PSNRs, and per layer how far the coded weights moved from the start
(correlation, and the residual's spread against the weights' spread) -- what coding the
update instead of the weights could save.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import skimage.data
import torch
from PIL import Image

from sirencodec import fit as fit_module
from sirencodec import grid
from sirencodec.bitstream import pack
from sirencodec.decoder import decode
from sirencodec.imageio import load_image
from sirencodec.metrics import psnr
from sirencodec.model import Siren
from sirencodec.network import from_uint8

# scikit-image's photographs outside docs/results' test set (camera, astronaut, chelsea, coffee).
TRAIN_IMAGES = (
    "brick", "coins", "grass", "gravel", "moon", "page", "text", "clock", "rocket", "retina",
    "immunohistochemistry", "hubble_deep_field", "cell", "microaneurysms", "motorcycle_left",
)


def training_pool(count: int, rng: np.random.Generator, size: int = 256) -> torch.Tensor:
    """``count`` random gray ``size`` x ``size`` crops, [count, size * size, 1] in [-1, 1]."""
    sources = []
    for name in TRAIN_IMAGES:
        if name == "motorcycle_left":
            arr = skimage.data.stereo_motorcycle()[0]
        else:
            arr = getattr(skimage.data, name)()
        img = Image.fromarray(np.asarray(arr)).convert("L")
        if min(img.size) >= size:
            sources.append(img)
    crops = []
    for _ in range(count):
        img = sources[rng.integers(len(sources))]
        scale = rng.uniform(size / min(img.size), 1.0) if min(img.size) > size else 1.0
        w, h = max(size, round(img.size[0] * scale)), max(size, round(img.size[1] * scale))
        im = img.resize((w, h), Image.LANCZOS) if (w, h) != img.size else img
        x, y = rng.integers(w - size + 1), rng.integers(h - size + 1)
        a = np.asarray(im.crop((x, y, x + size, y + size)))
        if rng.random() < 0.5:
            a = a[:, ::-1]
        if rng.random() < 0.5:
            a = a.T
        crops.append(from_uint8(np.ascontiguousarray(a)).reshape(size * size, 1))
    return torch.from_numpy(np.stack(crops))


def inner_fit(model: Siren, coords, target, steps: int, lr: float, batch: int, gen) -> float:
    """``steps`` Adam steps on random ``batch``-pixel batches; the full-image PSNR after."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss = torch.tensor(0.0)
    for _ in range(steps):
        idx = torch.randint(coords.shape[0], (batch,), generator=gen)
        loss = fit_module.mse_loss(model(coords[idx]), target[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return fit_module.psnr_from_mse(float(fit_module.mse_loss(model(coords), target)))


def train(args) -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(args.seed)
    pool = training_pool(args.pool, rng, args.size)
    held = training_pool(args.held, np.random.default_rng(args.seed + 1000), args.size)
    coords = torch.from_numpy(grid.coordinates(args.size, args.size))
    model = Siren(args.width, args.layers, 1, generator=torch.Generator().manual_seed(0))
    start = [p.detach().clone() for p in model.parameters()]
    theta = [p.detach().clone() for p in model.parameters()]
    gen = torch.Generator().manual_seed(args.seed)

    def held_psnr(params) -> float:
        vals = []
        for j in range(held.shape[0]):
            with torch.no_grad():
                for p, v in zip(model.parameters(), params):
                    p.copy_(v)
            vals.append(inner_fit(model, coords, held[j], args.inner, args.inner_lr, args.batch,
                                  torch.Generator().manual_seed(j)))
        return float(np.mean(vals))

    print(json.dumps({"outer": 0, "held_psnr_random": round(held_psnr(start), 3)}), flush=True)
    t0 = time.perf_counter()
    for it in range(args.outer):
        with torch.no_grad():
            for p, v in zip(model.parameters(), theta):
                p.copy_(v)
        inner_fit(model, coords, pool[int(torch.randint(pool.shape[0], (1,), generator=gen))],
                  args.inner, args.inner_lr, args.batch, gen)
        eps = args.eps * (1.0 - it / args.outer) + args.eps_min * (it / args.outer)
        with torch.no_grad():
            for v, p in zip(theta, model.parameters()):
                v.add_(eps * (p.detach() - v))
        if (it + 1) % args.eval_every == 0 or it + 1 == args.outer:
            print(json.dumps({"outer": it + 1, "held_psnr": round(held_psnr(theta), 3),
                              "seconds": round(time.perf_counter() - t0, 1)}), flush=True)
            torch.save({"width": args.width, "layers": args.layers, "params": theta}, args.out)


def encode(args) -> None:
    init = torch.load(args.init)["params"]
    base = fit_module.Siren

    class MetaSiren(base):  # the codec's Siren, started from the meta-learned values
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            with torch.no_grad():
                for p, v in zip(self.parameters(), init):
                    p.copy_(v)

    sys.path.insert(0, str(Path(__file__).parent))
    from probe import config_from  # benchmarks/probe.py: KEY=VALUE parsed as srnbench does

    config = config_from(args.preset, args.overrides + ["seeded_residuals=0"])
    pixels, _ = load_image(args.image)
    t = time.perf_counter()
    fit_module.Siren = base if args.random else MetaSiren  # --random: the control
    try:
        fitted = fit_module.fit_network(pixels, config, torch.device("cpu"))
    finally:
        fit_module.Siren = base
    data = pack(fitted.network)
    decoded = decode(data)
    layers = []  # weights are the first half of Siren.parameters(), biases the second
    for i in range(len(init) // 2):
        w = fitted.model.effective_weight(i).detach().flatten()  # dequantized, pruned entries 0
        kept = w != 0
        row = {"w_std": round(float(w[kept].std()), 5)}
        if not args.random:  # how far training moved the weights from the learned start
            v0 = init[i].flatten()[kept]
            row["corr"] = round(float(np.corrcoef(w[kept].numpy(), v0.numpy())[0, 1]), 3)
            row["resid_std"] = round(float((w[kept] - v0).std()), 5)
        layers.append(row)
    print(json.dumps({
        "image": args.image.name, "init": str(args.init) if not args.random else "random",
        "overrides": args.overrides, "bytes": len(data),
        "bpp": round(8 * len(data) / (pixels.shape[0] * pixels.shape[1]), 4), "psnr": round(psnr(pixels, decoded), 3),
        "stage_psnr": {k: round(v, 2) for k, v in fitted.stage_psnr.items()},
        "layers": layers, "seconds": round(time.perf_counter() - t, 1),
    }), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("train")
    p.add_argument("--width", type=int, default=46)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--outer", type=int, default=800)
    p.add_argument("--inner", type=int, default=100)
    p.add_argument("--inner-lr", type=float, default=2e-3)
    p.add_argument("--batch", type=int, default=8192)
    p.add_argument("--eps", type=float, default=0.1, help="Reptile step, decayed linearly to --eps-min")
    p.add_argument("--eps-min", type=float, default=0.02)
    p.add_argument("--pool", type=int, default=400, help="random training crops drawn up front")
    p.add_argument("--held", type=int, default=8, help="held-out crops for the progress lines")
    p.add_argument("--size", type=int, default=256, help="crop size (the test set's 256)")
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    e = sub.add_parser("encode")
    e.add_argument("image", type=Path)
    e.add_argument("overrides", nargs="*")
    e.add_argument("--init", type=Path, required=True)
    e.add_argument("--preset", default="default")
    e.add_argument("--random", action="store_true", help="control: the usual random start")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    train(args) if args.cmd == "train" else encode(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
