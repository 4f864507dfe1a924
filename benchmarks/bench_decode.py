"""Decoder speed and memory (issue: codec core).  Not a test: prints measured figures.

    .venv/bin/python benchmarks/bench_decode.py

1. in-process decode of a 256x256 gray file with a (64 wide, 5 hidden) network: median of 15;
2. the whole `srndec` process on that file: median of 7 (includes Python start-up);
3. peak resident memory of a process rendering it at 4096x4096.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import sirencodec  # noqa: E402
from netgen import random_network  # noqa: E402


def main() -> None:
    net = random_network(np.random.default_rng(0), width=256, height=256, channels=1, hidden_width=64,
                         hidden_layers=5, bits=9, sparsity=0.3, distribution="laplace")
    data = sirencodec.pack(net)
    tmp = Path(tempfile.mkdtemp())
    src = tmp / "bench.srn"
    src.write_bytes(data)
    print(f"file: 256x256 gray, (64, 5) network, 9 bits, 30 % pruned: {len(data)} bytes")

    sirencodec.decode(data)  # warm-up
    times = []
    for _ in range(15):
        t = time.perf_counter()
        sirencodec.decode(data)
        times.append(time.perf_counter() - t)
    print(f"in-process decode: median {statistics.median(times):.3f} s (min {min(times):.3f}, max {max(times):.3f})")

    srndec = Path(sys.executable).parent / "srndec"
    proc = []
    for _ in range(7):
        t = time.perf_counter()
        subprocess.run([str(srndec), str(src), "-o", str(tmp / "out.png")], check=True)
        proc.append(time.perf_counter() - t)
    print(f"srndec process:    median {statistics.median(proc):.3f} s (min {min(proc):.3f}, max {max(proc):.3f})")

    t = time.perf_counter()
    subprocess.run([str(srndec), str(src), "-o", str(tmp / "big.png"), "--size", "4096x4096"], check=True)
    wall = time.perf_counter() - t
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"4096x4096 render:  {wall:.1f} s, peak memory of one srndec process {peak_mib:.0f} MiB")
    for f in tmp.iterdir():
        f.unlink()
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
