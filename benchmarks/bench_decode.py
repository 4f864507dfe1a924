"""Decoder speed and memory, on real files from the real encoder.  Not a test: prints figures.

    .venv/bin/python benchmarks/bench_decode.py [--latent-steps N]

1. SIREN: a 256x256 gray file of a (64 wide, 5 hidden) network, 9 bits, 30 % pruned (trained
   for a few steps only: decoding costs the same), in-process decode (median of 15) and the
   whole ``srndec`` process (median of 7, Python start-up included); then the peak resident
   memory of an ``srndec`` process rendering it at 4096x4096;
2. latent grids: a 768x512 RGB file (the bundled colour crop upscaled, the default network
   trained N steps), in-process decode (median of 7) and the ``srndec`` process (median of 5).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import sirencodec
from sirencodec.imageio import load_image

ROOT = Path(__file__).resolve().parent.parent
SRNDEC = Path(sys.executable).parent / "srndec"


def timed(fn, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def spread(times: list[float]) -> str:
    return f"median {statistics.median(times):.3f} s (min {min(times):.3f}, max {max(times):.3f})"


def bench_file(name: str, data: bytes, tmp: Path, runs: int, process_runs: int) -> Path:
    src = tmp / f"{name}.srn"
    src.write_bytes(data)
    sirencodec.decode(data)  # warm-up
    print(f"  in-process decode: {spread(timed(lambda: sirencodec.decode(data), runs))}")
    proc = timed(lambda: subprocess.run([str(SRNDEC), str(src), "-o", str(tmp / "out.png")], check=True),
                 process_runs)
    print(f"  srndec process:    {spread(proc)}")
    return src


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latent-steps", type=int, default=100, help="training steps of the latent file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        gray, _ = load_image(ROOT / "sample_images" / "cameraman256.png")
        siren = sirencodec.encode(gray, preset="test", width=64, depth=5, bits=9, prune=0.3, device="cpu")
        print(f"SIREN 256x256 gray, (64, 5), 9 bits, 30 % pruned: {len(siren.data)} bytes")
        src = bench_file("siren", siren.data, tmp, 15, 7)
        t = time.perf_counter()
        subprocess.run([str(SRNDEC), str(src), "-o", str(tmp / "big.png"), "--size", "4096x4096"], check=True)
        wall = time.perf_counter() - t
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"  4096x4096 render:  {wall:.1f} s, peak memory of one srndec process {peak_mib:.0f} MiB")

        small = Image.open(ROOT / "sample_images" / "chelsea128_rgb.png").convert("RGB")
        colour = np.asarray(small.resize((768, 512), Image.Resampling.BICUBIC))
        latent = sirencodec.encode(colour, latent_steps=args.latent_steps, device="cpu")
        print(f"latent 768x512 RGB, default network, {args.latent_steps} steps: {len(latent.data)} bytes")
        bench_file("latent", latent.data, tmp, 7, 5)


if __name__ == "__main__":
    main()
