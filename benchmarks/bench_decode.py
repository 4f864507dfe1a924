"""Decoder speed and memory, on real files from the real encoder.  Not a test: prints figures.

    .venv/bin/python benchmarks/bench_decode.py [--latent-steps N]

1. SIREN: a 256x256 gray file of a (64 wide, 5 hidden) network, 9 bits, 30 % pruned (trained
   for a few steps only: decoding costs the same), in-process decode (median of 15) and the
   whole ``srndec`` process (median of 7, Python start-up included); then the peak resident
   memory of an ``srndec`` process rendering it at 4096x4096;
2. latent grids: a 768x512 RGB file (the bundled colour crop upscaled, the default network
   trained N steps), in-process decode (median of 7) and the ``srndec`` process (median of 5).

    .venv/bin/python benchmarks/bench_decode.py --architectures FILE.srn

3. ``--architectures``: what each latent network shape the encoder offers costs to decode, on
   the grids of a real latent file (e.g. a 768x512 RGB one): for each shape, the file's latents
   under that shape's synthesis and ARM (placeholder weights: the work per latent and per pixel
   depends on the shape, not on the values), packed by the real writer; multiply-accumulates
   per pixel, the format's cost units, and the in-process decode: the files decoded in turn,
   ``--rounds`` rounds (default 15), median and its ratio to the default network's (on a
   shared machine, the load then falls on every file alike).
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


ARCHITECTURES = {  # name -> (synthesis hidden widths, ARM context, ARM hidden widths, grids per level[, learned
    # upsampling[, the ARM's channel inputs]])
    # the first is the ratios' base; Keys' filters unless learned upsampling is named
    "default (syn 24; ARM 16: 8-8; learned upsampling)": ((24,), 16, (8, 8), (), True),
    "syn 16; ARM 8: 8-8; learned upsampling": ((16,), 8, (8, 8), (), True),
    "syn 16; ARM 16: 8-8; learned upsampling": ((16,), 16, (8, 8), (), True),
    "syn 16; ARM 8: 8-8 (--effort fast)": ((16,), 8, (8, 8), ()),
    "ARM 12: 12-12": ((16,), 12, (12, 12), ()),
    "ARM 16: 16-16": ((16,), 16, (16, 16), ()),
    "syn 32": ((32,), 8, (8, 8), ()),
    "syn 40": ((40,), 8, (8, 8), ()),
    "syn 16-16": ((16, 16), 8, (8, 8), ()),
    "syn 24-24": ((24, 24), 8, (8, 8), ()),
    "syn 40-16": ((40, 16), 8, (8, 8), ()),
    "syn 40; ARM 16: 16-16": ((40,), 16, (16, 16), ()),
    "syn 16; ARM 8: 8-8, 2 grids at levels 1-6": ((16,), 8, (8, 8), (1, 2, 2, 2, 2, 2, 2)),
    "syn 16; ARM 8: 8-8, 2 grids at levels 2-6": ((16,), 8, (8, 8), (1, 1, 2, 2, 2, 2, 2)),
    "syn 16; ARM 8: 8-8; learned upsampling, 2 grids at levels 2-6":
        ((16,), 8, (8, 8), (1, 1, 2, 2, 2, 2, 2), True),
    "syn 16; ARM 8: 8-8; learned upsampling, 2 grids at levels 1-6":
        ((16,), 8, (8, 8), (1, 2, 2, 2, 2, 2, 2), True),
    "syn 16; ARM 8: 8-8; learned upsampling, 2 grids at levels 1-6, 1 channel input":
        ((16,), 8, (8, 8), (1, 2, 2, 2, 2, 2, 2), True, 1),
    "syn 40; ARM 16: 16-16, 2 grids at levels 1-6": ((40,), 16, (16, 16), (1, 2, 2, 2, 2, 2, 2)),
    "syn 40; ARM 16: 16-16, learned upsampling": ((40,), 16, (16, 16), (), True),
    "default, 2 grids at levels 1-6": ((24,), 16, (8, 8), (1, 2, 2, 2, 2, 2, 2), True),
}


def macs_per_pixel(net) -> float:
    """Multiply-accumulates per pixel of decoding ``net``: the ARM per latent, the upsampling
    (4 taps in each direction per grid but the full-size one; with learned filters, the rows'
    composed taps of the grid's level, and for the columns 4 per output of each x2 step per image
    row, as ``synthesis.render`` computes them), the synthesis and convolution."""
    from sirencodec.format import latent_v4
    from sirencodec.latent import synthesis

    pixels = net.width * net.height
    latents = sum(g.size for g in net.grids)
    arm = sum(o * i for o, i in (ly.weight.shape for ly in net.arm))
    synth = sum(o * i for o, i in (ly.weight.shape for ly in net.synthesis))
    conv = 9 * net.channels**2 if net.conv is not None else 0
    filters = synthesis.upsampling_filters(net)
    if filters is None:
        upsample = 8 * sum(1 for g in net.grids if g.shape != (net.height, net.width))
    else:
        w = net.width
        upsample = sum(synthesis.learned_taps(net.height, lv, filters)[1].shape[1]
                       + sum(4 * -(-w // 2 ** (s - 1)) for s in range(1, lv + 1)) / w for lv in net.grid_levels if lv)
    assert latent_v4.grid_shapes(net.height, net.width, net.grid_levels) == [g.shape for g in net.grids]
    return (latents * arm) / pixels + upsample + synth + conv


def reshaped(net, hidden: tuple[int, ...], context: int, arm_hidden: tuple[int, ...],
             latent_channels: tuple[int, ...] = (), learned: bool = False, channel: int = 0, seed: int = 0):
    """``net``'s grids under a synthesis of ``hidden`` widths and an ARM of ``context`` neighbours
    (and ``channel`` channel inputs, format version 7) and
    ``arm_hidden`` widths (``latent_channels[l]`` grids at level l, each a copy of the file's grid
    of that level; one where it lists none; ``learned``: learned x2 filters, small random
    residuals): small random synthesis weights (7 bits), and an ARM of zero weights
    whose last bias sets every latent's mean to 0 and its log-scale to -2.5 (b = 0.087: a static
    model whose payload is near a trained one's; the decoder does every multiply-add all the same)."""
    import dataclasses

    from sirencodec.format.tensors import QuantizedLayer, QuantizedTensor

    rng = np.random.default_rng(seed)

    def layer(out: int, inputs: int, scale: float, spread: float = 4.0, bias: tuple = ()) -> QuantizedLayer:
        zero = 64
        q = np.clip(np.round(rng.laplace(zero, spread, (out, inputs))), 0, 127).astype(np.int32)
        qb = np.full((1, out), zero, np.int32)
        qb[0, :len(bias)] += np.asarray(bias, np.int32)
        w = QuantizedTensor(q, np.ones(q.shape, bool), 7, scale, zero)
        b = QuantizedTensor(qb, np.ones(qb.shape, bool), 7, scale, zero)
        return QuantizedLayer(w, b.dequantize()[0], "quantized", b)

    first = dict(reversed(list(zip(net.grid_levels, net.grids))))  # each level's first grid in the file
    per_level = list(latent_channels) + [1] * (max(first) + 1 - len(latent_channels))
    levels = tuple(level for level, n in enumerate(per_level[:max(first) + 1]) for _ in range(n))
    syn = [len(levels), *hidden, net.channels]
    arm = [context + channel, *arm_hidden, 2]
    upsampling = None
    if learned:
        q = np.clip(np.round(rng.laplace(32, 4.0, (max(levels), 4))), 0, 63).astype(np.int32)
        upsampling = QuantizedTensor(q, np.ones(q.shape, bool), 6, float(np.float16(0.005)), 32)
    return dataclasses.replace(
        net, upsampling=upsampling, channel_context=channel, grids=[first[level].copy() for level in levels], levels=levels,
        synthesis=[layer(o, i, float(np.float16(0.01))) for i, o in zip(syn, syn[1:])],
        conv=layer(net.channels, 9 * net.channels, float(np.float16(0.01))) if net.conv is not None else None,
        arm=[layer(o, i, 2.0**-8, spread=0.0) for i, o in zip(arm[:-2], arm[1:-1])]
        + [layer(2, arm[-2], 2.0**-4, spread=0.0, bias=(0, -40))])  # log-scale -2.5


def architectures(path: Path, rounds: int) -> None:
    from sirencodec.format import latent_v4

    net = latent_v4.unpack(path.read_bytes()).network
    print(f"{path}: {net.width}x{net.height}, {net.channels} channel(s), {len(net.grids)} grids")
    files = {"the file as trained": path.read_bytes()}
    files.update((name, latent_v4.pack(reshaped(net, *shape))) for name, shape in ARCHITECTURES.items())
    times: dict[str, list[float]] = {name: [] for name in files}
    for data in files.values():
        sirencodec.decode(data)  # warm-up
    for _ in range(rounds):
        for name, data in files.items():
            times[name] += timed(lambda: sirencodec.decode(data), 1)
    base = statistics.median(times[next(iter(ARCHITECTURES))])
    print(f"| network | MACs per pixel | cost units per pixel | bytes | in-process decode (median of {rounds}) "
          "| against the default |")
    print("|---|---|---|---|---|---|")
    for name, data in files.items():
        parsed = latent_v4.unpack(data)
        other = parsed.network
        cost = other.decode_cost(other.grid_levels, parsed.reaches) / (net.width * net.height)
        median = statistics.median(times[name])
        print(f"| {name} | {macs_per_pixel(other):.0f} | {cost:.0f} | {len(data):,} | {median:.3f} s | "
              f"{median / base:.2f}× |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latent-steps", type=int, default=100, help="training steps of the latent file")
    parser.add_argument("--architectures", type=Path, metavar="FILE.srn",
                        help="only: decode cost of each network shape on this latent file's grids")
    parser.add_argument("--rounds", type=int, default=15, help="--architectures: decodes of each file, in turn")
    args = parser.parse_args()
    if args.architectures is not None:
        architectures(args.architectures, args.rounds)
        return
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
