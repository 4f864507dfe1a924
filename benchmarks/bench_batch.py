"""Batched against sequential latent encoding on this machine.  Not a test: measures and
writes JSON.

    .venv/bin/python benchmarks/bench_batch.py --out docs/results/batching/cpu.json

Encodes one image four ways two ways, each end to end (training, bit widths, writing,
decoding): the latent network at four rate weights (srnbench's quick levels 2, 4, 6, 8) as
four ``encode_latent`` calls in turn and as one ``encode_latent_many`` (the four networks
trained in one batch, their files finished on one worker per core); or with
``--network siren`` the fast preset's SIREN at 6, 7, 8 and 9 bits, ``encode_siren`` in turn
against ``encode_siren_many``.  The two alternate, ``--repeats`` times each; the JSON has every wall
time, their medians and ratio, and each file's bytes and PSNR both ways.  Peak memory per
network and pixel (``batching.TRAIN_BYTES_PER_PIXEL``) is the growth from a batch of two
networks to one of three, each measured in a fresh process.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from sirencodec.imageio import load_image
from sirencodec.latent.config import LatentConfig
from sirencodec.latent.encode import encode_latent, encode_latent_many
from sirencodec.latent.ratecontrol import quality_lam
from sirencodec.siren.config import PRESETS
from sirencodec.siren.encode import encode_siren, encode_siren_many

ROOT = Path(__file__).resolve().parent.parent
LEVELS = (2, 4, 6, 8)
SIREN_BITS = (6, 7, 8, 9)


def peak_memory(height: int, width: int, channels: int, batch: int, steps: int = 3) -> float:
    """Peak resident bytes a training batch adds, measured in a fresh process."""
    code = f"""
import resource, numpy as np
from sirencodec.latent.config import LatentConfig
from sirencodec.latent.fit import fit_latent_batch
shape = ({height}, {width}) if {channels} == 1 else ({height}, {width}, {channels})
image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
import torch
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
fit_latent_batch([image] * {batch}, [LatentConfig(steps={steps})] * {batch})
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default=str(ROOT / "sample_images" / "cameraman256.png"))
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--network", default="latent", choices=["latent", "siren"],
                        help="latent: four rate weights; siren: the fast preset at bits 6, 7, 8, 9")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    image, _ = load_image(args.image)
    if args.network == "latent":
        configs = [LatentConfig(steps=args.steps, lam=quality_lam(q)) for q in LEVELS]

        def alone_all():
            return [encode_latent(image, c, "cpu") for c in configs]

        def batched_all():
            return encode_latent_many([image] * len(configs), configs, "cpu", workers=torch.get_num_threads())
    else:
        configs = [dataclasses.replace(PRESETS["fast"], bits=b) for b in SIREN_BITS]

        def alone_all():
            return [encode_siren(image, c, "cpu") for c in configs]

        def batched_all():
            return encode_siren_many([image] * len(configs), configs, "cpu", workers=torch.get_num_threads())
    times: dict[str, list[float]] = {"sequential": [], "batched": []}
    files: dict[str, list[dict]] = {}
    for _ in range(args.repeats):
        start = time.perf_counter()
        alone = alone_all()
        times["sequential"].append(time.perf_counter() - start)
        start = time.perf_counter()
        batched = batched_all()
        times["batched"].append(time.perf_counter() - start)
        files = {name: [{"bytes": r.report["bytes"], "psnr": round(r.report["psnr"], 4)} for r in results]
                 for name, results in (("sequential", alone), ("batched", batched))}
    medians = {k: statistics.median(v) for k, v in times.items()}
    memory, per_pixel = {}, {}
    if args.network == "latent":
        # Differences between batches of 2 and 3 networks: above the high-water mark of importing torch.
        memory = {f"{hh}x{ww}x{c} batch {b}": peak_memory(hh, ww, c, b)
                  for hh, ww, c in ((512, 512, 1), (512, 768, 3)) for b in (2, 3)}
        per_pixel = {
            "gray": (memory["512x512x1 batch 3"] - memory["512x512x1 batch 2"]) / (512 * 512),
            "rgb": (memory["512x768x3 batch 3"] - memory["512x768x3 batch 2"]) / (512 * 768),
        }
    record = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"cpu": cpu_model(), "threads": torch.get_num_threads(),
                    "torch": torch.__version__},
        "image": Path(args.image).name, "network": args.network,
        "settings": [{"lam": c.lam, "steps": c.steps} if args.network == "latent" else {"preset": "fast", "bits": c.bits}
                     for c in configs],
        "seconds": times, "median_seconds": medians,
        "batched_over_sequential": medians["batched"] / medians["sequential"],
        "files": files,
        "peak_bytes": memory, "bytes_per_pixel_and_network": per_pixel,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({k: record[k] for k in ("median_seconds", "batched_over_sequential", "files",
                                             "bytes_per_pixel_and_network")}, indent=1))


if __name__ == "__main__":
    main()
