"""The device benchmark: everything a GPU run measures, in one call of under 8 minutes on one
H200, written as JSON and CSV to ``--out``.

    benchmarks/device_run.sh OUTDIR                                       # the GPU machine
    .venv/bin/python benchmarks/device_run.py --smoke --out /tmp/smoke    # tiny inputs, CPU

Sections, in order; each is timed, and one that fails is recorded and the rest go on:

1. ``environment``: torch and CUDA versions, the GPU, the precision policy in force;
2. ``tests``: ``pytest -m cuda``, the tests that need a GPU (skipped without one);
3. ``throughput``: training steps/s of both kinds (the latent network; the thesis's (64, 5)
   SIREN's fit stage) at 256x256 gray and 768x512 RGB for batches of B = 1, 8, 32, 96
   networks (each from the time of two trainings of different lengths, so set-up and graph
   capture cancel out), per-network throughput and its ratio to B = 1; for the latent
   network, CUDA graphs against eager steps, TF32 on against off, and kernel launches per
   eager step at one point;
4. ``srnenc``: srnenc's default encode of the bundled cameraman, end to end as a process,
   twice: time, bytes, PSNR, and whether the two files are identical;
5. ``kodak``: the 24 Kodak images at srnenc's quality 2, 4, 6 and 8, the networks of one image
   size trained in one batch: srnbench's run folder (``kodak/``: files, their reports,
   ``results.csv``) and the wall time;
6. ``thesis`` (only when asked for, ``--only thesis``: a device call of its own): the thesis's
   three SIREN experiments in full (``srnbench --experiment widths|agp|qat``: 55 + 18 + 60
   networks per image) on the cameraman crop and the thesis's test066 crop (``--thesis``: its
   folder, holding test066.png), with JPEG; one srnbench run folder per experiment under
   ``thesis/`` and each experiment's wall time.

``device_run.json`` holds every section (rewritten as each ends); ``throughput.csv`` the
throughput table. The BD-rates against JPEG, WebP, JPEG 2000 and AVIF come afterwards, on any
machine: srnbench adds the anchors to the Kodak run folder, reusing its latent rows:

    .venv/bin/srnbench ../shared/data/kodak/*.png -o OUTDIR/kodak --codecs jpeg,webp,jpeg2000,avif,latent \\
        --settings 'quality=2;quality=4;quality=6;quality=8' --device cpu --bd-range 0.25,2
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout, wherever torch and the project's pins come from

import torch

from sirencodec.bench.codecs import LatentCodec
from sirencodec.bench.run import run_benchmark
from sirencodec.latent.config import LatentConfig
from sirencodec.latent.fit import fit_latent_batch

KODAK_LEVELS = (2, 4, 6, 8)
FULL = {"sizes": ((256, 256, 1), (512, 768, 3)), "batches": (1, 8, 32, 96), "steps": (30, 130),
        "srnenc": [], "kodak_steps": None, "siren_net": (64, 5)}
SMOKE = {"sizes": ((32, 32, 1), (24, 40, 3)), "batches": (1, 2), "steps": (3, 8),
         "srnenc": ["--latent-steps", "20"], "kodak_steps": 10, "siren_net": (8, 2)}


class Record:
    """device_run.json, rewritten after every section."""

    def __init__(self, out: Path):
        self.out = out
        self.data: dict = {"command": " ".join(sys.argv), "sections": {}}

    def section(self, name: str, fn) -> None:
        start = time.perf_counter()
        print(f"device_run: {name} ...", flush=True)
        try:
            result = {"ok": True, **fn()}
        except Exception as exc:  # noqa: BLE001 - record it and go on with the next section
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        result["seconds"] = round(time.perf_counter() - start, 2)
        self.data["sections"][name] = result
        (self.out / "device_run.json").write_text(json.dumps(self.data, indent=1, default=str) + "\n")
        print(f"device_run: {name} {'done' if result['ok'] else 'FAILED: ' + result['error']} "
              f"in {result['seconds']} s", flush=True)


def environment(device: torch.device) -> dict:
    env = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
           "device": str(device), "cpu_count": os.cpu_count(), "cuda": torch.version.cuda,
           "float32_matmul_precision": torch.get_float32_matmul_precision(),
           "tf32_matmul": torch.backends.cuda.matmul.allow_tf32, "tf32_cudnn": torch.backends.cudnn.allow_tf32}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                   capability=f"{props.major}.{props.minor}", cudnn=torch.backends.cudnn.version())
    return env


def cuda_tests(out: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider",
                           str(ROOT / "tests")], capture_output=True, text=True, cwd=ROOT, timeout=240, check=False)
    (out / "cuda_tests.txt").write_text(proc.stdout + proc.stderr)
    return {"returncode": proc.returncode, "summary": (proc.stdout.strip().splitlines() or [""])[-1]}


def _images(h: int, w: int, c: int, count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    out = []
    for k in range(count):
        planes = [128 + 100 * np.sin(x / (7 + k + ch) + y / 11) for ch in range(c)]
        img = np.clip(np.stack(planes, -1) + rng.normal(0, 8, (h, w, c)), 0, 255).astype(np.uint8)
        out.append(img[..., 0] if c == 1 else img)
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def steps_per_second(h: int, w: int, c: int, batch: int, steps: tuple[int, int], device: torch.device,
                     graphs: bool | None = None) -> float:
    """Training steps/s of a batch: (n2 - n1) steps over the time between trainings of n1 and n2
    steps (model set-up, graph capture and the final copy cancel out)."""
    images = _images(h, w, c, batch)
    times = []
    for n in steps:
        configs = [LatentConfig(steps=n, lam=1e-3, seed=k) for k in range(batch)]
        _sync(device)
        start = time.perf_counter()
        fit_latent_batch(images, configs, str(device), graphs=graphs)
        _sync(device)
        times.append(time.perf_counter() - start)
    return (steps[1] - steps[0]) / max(times[1] - times[0], 1e-9)


def siren_steps_per_second(h: int, w: int, c: int, batch: int, steps: tuple[int, int], device: torch.device,
                           width: int, depth: int) -> float:
    """The SIREN's training steps/s in a batch (its fit stage: full image up to the preset's
    pixel batch), as ``steps_per_second`` measures the latent network's."""
    from sirencodec.siren.batch import fit_network_batch
    from sirencodec.siren.config import PRESETS

    images = _images(h, w, c, batch)
    times = []
    for n in steps:
        config = dataclasses.replace(PRESETS["default"], hidden_width=width, hidden_layers=depth, fit_steps=n,
                                     prune=0.0, prune_steps=0, qat_steps=0, allocate_bits=False)
        configs = [dataclasses.replace(config, seed=k) for k in range(batch)]
        _sync(device)
        start = time.perf_counter()
        fit_network_batch(images, configs, device)
        _sync(device)
        times.append(time.perf_counter() - start)
    return (steps[1] - steps[0]) / max(times[1] - times[0], 1e-9)


def kernel_launches(h: int, w: int, c: int, batch: int, device: torch.device) -> float:
    """CUDA kernels per eager training step: those of a 12-step training less a 6-step one's,
    over 6 (torch.profiler; set-up and the final copy cancel out)."""
    from torch.profiler import ProfilerActivity, profile

    images = _images(h, w, c, batch)
    counts = []
    for n in (6, 12):
        configs = [LatentConfig(steps=n, lam=1e-3, seed=k) for k in range(batch)]
        fit_latent_batch(images, configs, str(device), graphs=False)  # warm up
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fit_latent_batch(images, configs, str(device), graphs=False)
        counts.append(sum(e.count for e in prof.key_averages() if e.device_type.name == "CUDA"))
    return (counts[1] - counts[0]) / 6


def throughput(out: Path, device: torch.device, plan: dict) -> dict:
    rows = []
    width, depth = plan["siren_net"]
    rates = {"latent": lambda h, w, c, b: steps_per_second(h, w, c, b, plan["steps"], device),
             "siren": lambda h, w, c, b: siren_steps_per_second(h, w, c, b, plan["steps"], device, width, depth)}
    for kind, rate_of in rates.items():
        for h, w, c in plan["sizes"]:
            base = None
            for b in plan["batches"]:
                row = {"kind": kind if kind == "latent" else f"siren ({width}, {depth})", "size": f"{w}x{h}x{c}",
                       "batch": b}
                try:
                    rate = rate_of(h, w, c, b)
                except torch.cuda.OutOfMemoryError as exc:
                    rows.append({**row, "error": str(exc).splitlines()[0]})
                    continue
                finally:
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
                base = rate if b == 1 else base
                rows.append({**row, "steps_per_s": round(rate, 2), "network_steps_per_s": round(rate * b, 1),
                             "per_network_vs_b1": round(rate * b / base, 2) if base else None})
    with (out / "throughput.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["kind", "size", "batch", "steps_per_s", "network_steps_per_s",
                                               "per_network_vs_b1", "error"])
        writer.writeheader()
        writer.writerows(rows)
    h, w, c = plan["sizes"][0]
    hh, ww, cc = plan["sizes"][-1]
    b = plan["batches"][min(2, len(plan["batches"]) - 1)]
    extras = {}
    if device.type == "cuda":
        extras.update({
            f"eager_vs_graphs_{w}x{h}x{c}": lambda: {
                f"B={bb}": {mode: round(steps_per_second(h, w, c, bb, plan["steps"], device, graphs=mode == "graphs"), 2)
                            for mode in ("eager", "graphs")} for bb in (1, b)},
            f"kernels_per_eager_step_{w}x{h}x{c}": lambda: {
                f"B={bb}": round(kernel_launches(h, w, c, bb, device), 1) for bb in (1, b)},
            f"tf32_steps_per_s_{ww}x{hh}x{cc}_B={b}": lambda: tf32_rates(hh, ww, cc, b, plan["steps"], device),
        })
    result: dict = {"rows": rows}
    for name, measure in extras.items():  # each on its own: one failing keeps the others
        try:
            result[name] = measure()
        except Exception as exc:  # noqa: BLE001
            result[name] = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    return result


def tf32_rates(h: int, w: int, c: int, batch: int, steps: tuple[int, int], device: torch.device) -> dict:
    """Steps/s with TF32 matrix products off (the encoder's policy) and on."""
    rates = {}
    try:
        for allow in (False, True):
            torch.backends.cuda.matmul.allow_tf32 = allow
            rates["on" if allow else "off"] = round(steps_per_second(h, w, c, batch, steps, device), 2)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False
    return rates


def srnenc_default(out: Path, device: torch.device, plan: dict) -> dict:
    runs = []
    for k in range(2):
        dst = out / f"cameraman-{k + 1}.srn"
        cmd = [sys.executable, "-c", "from sirencodec.cli import srnenc; srnenc()",
               str(ROOT / "sample_images" / "cameraman256.png"), "-o", str(dst), "--json",
               "--device", device.type, *plan["srnenc"]]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path[1:]])})
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"srnenc failed: {proc.stderr.strip().splitlines()[-1:]}")
        report = json.loads(proc.stdout)
        runs.append({"wall_s": round(wall, 2), "bytes": report["bytes"], "bpp": report["bpp"], "psnr": report["psnr"],
                     "seconds": report["seconds"], "engine": report.get("engine"),
                     "sha256": hashlib.sha256(dst.read_bytes()).hexdigest()})
    return {"command": "srnenc sample_images/cameraman256.png -o OUT.srn --json --device " + device.type
            + "".join(f" {a}" for a in plan["srnenc"]),
            "runs": runs, "identical_files": runs[0]["sha256"] == runs[1]["sha256"]}


def kodak(out: Path, device: torch.device, plan: dict, kodak_dir: Path | None) -> dict:
    if plan["kodak_steps"] is not None:  # smoke: three tiny colour images, two of one size
        from PIL import Image

        kodak_dir = out / "kodak-inputs"
        kodak_dir.mkdir(exist_ok=True)
        for k, (h, w) in enumerate(((24, 32), (24, 32), (32, 24))):
            Image.fromarray(_images(h, w, 3, 1, seed=k)[0]).save(kodak_dir / f"kodim{k + 1:02d}.png")
    paths = sorted(kodak_dir.glob("kodim*.png")) if kodak_dir else []
    if not paths:
        raise FileNotFoundError(f"no kodim*.png in {kodak_dir}")
    extra = {} if plan["kodak_steps"] is None else {"steps": plan["kodak_steps"]}
    settings = [{"quality": q, **extra} for q in KODAK_LEVELS]
    lines: list[str] = []
    start = time.perf_counter()
    result = run_benchmark(paths, [LatentCodec(str(device))], out / "kodak", {"latent": settings}, plot=False,
                           meta={"sweep": "device_run kodak", "device": str(device)},
                           log=lambda line: (lines.append(line), print(line, flush=True)))
    wall = time.perf_counter() - start
    rows = [{k: r[k] for k in ("image", "setting", "file", "bytes", "bpp", "psnr", "batch", "encode_s")}
            for r in result.rows]
    return {"images": len(paths), "levels": list(KODAK_LEVELS), "networks": len(rows), "wall_s": round(wall, 1),
            "rows": rows, "log": lines}


THESIS_CROP = 256  # the thesis centre-crops its images to 256 x 256


def thesis(out: Path, device: torch.device, plan: dict, thesis_dir: Path) -> dict:
    """The thesis's experiments (``bench.sweeps``, full grids; the quick ones with a few steps
    in a smoke run) on cameraman256 and the centre 256 x 256 of test066, with JPEG."""
    from PIL import Image

    from sirencodec.bench.codecs import make_codecs
    from sirencodec.bench.sweeps import EXPERIMENTS, get_sweep

    inputs = out / "thesis-inputs"
    inputs.mkdir(exist_ok=True)
    source = Image.open(thesis_dir / "test066.png").convert("L")
    left, top = (source.width - THESIS_CROP) // 2, (source.height - THESIS_CROP) // 2
    crop = source.crop((left, top, left + THESIS_CROP, top + THESIS_CROP))
    if plan["kodak_steps"] is not None:  # smoke: tiny images
        crop = crop.resize((24, 24))
    crop.save(inputs / "test066_256.png")
    camera = Image.open(ROOT / "sample_images" / "cameraman256.png")
    (camera.resize((24, 24)) if plan["kodak_steps"] is not None else camera).save(inputs / "cameraman256.png")
    paths = [inputs / "cameraman256.png", inputs / "test066_256.png"]
    smoke = plan["kodak_steps"] is not None
    tiny = {"fit_steps": 20, "prune_steps": 12, "qat_steps": 8} if smoke else {}
    runs = {}
    for name in EXPERIMENTS:
        sweep = get_sweep(name, quick=smoke)
        codecs, _ = make_codecs(["jpeg", "siren"], preset=sweep.preset, device=str(device))
        settings = {"siren": [{**point, **tiny} for point in sweep.settings["siren"]]}
        start = time.perf_counter()
        result = run_benchmark(paths, codecs, out / "thesis" / name, settings, plot=False,
                               meta={"sweep": f"device_run thesis {name}", "device": str(device)},
                               log=lambda line: print(line, flush=True))
        runs[name] = {"networks": sum(r["codec"] == "siren" for r in result.rows), "images": len(paths),
                      "wall_s": round(time.perf_counter() - start, 1), "description": sweep.description}
    return {"runs": runs, "wall_s": round(sum(r["wall_s"] for r in runs.values()), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="Folder for device_run.json, throughput.csv, kodak/, ...")
    parser.add_argument("--kodak", default=str(ROOT / ".data" / "kodak"), help="Folder of kodim*.png")
    parser.add_argument("--smoke", action="store_true", help="Tiny inputs and few steps (runs on a CPU)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--only", help="Comma-separated sections to run (default: all but thesis)")
    parser.add_argument("--thesis", default=str(ROOT / ".data" / "thesis"), help="Folder holding test066.png")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from sirencodec.device import resolve_device

    device = resolve_device(args.device)
    plan = SMOKE if args.smoke else FULL
    record = Record(out)
    record.data["smoke"] = args.smoke
    sections = {
        "environment": lambda: environment(device),
        "tests": lambda: cuda_tests(out),
        "throughput": lambda: throughput(out, device, plan),
        "srnenc": lambda: srnenc_default(out, device, plan),
        "kodak": lambda: kodak(out, device, plan, Path(args.kodak)),
        "thesis": lambda: thesis(out, device, plan, Path(args.thesis)),
    }
    only = set(args.only.split(",")) if args.only else set(sections) - {"thesis"}
    unknown = only - set(sections)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(sections)}")
    start = time.perf_counter()
    for name, fn in sections.items():
        if name in only:
            record.section(name, fn)
    record.data["total_s"] = round(time.perf_counter() - start, 1)
    (out / "device_run.json").write_text(json.dumps(record.data, indent=1, default=str) + "\n")
    failed = [n for n, s in record.data["sections"].items() if not s["ok"]]
    print(f"device_run: {record.data['total_s']} s; " + (f"failed: {', '.join(failed)}" if failed else "all sections ok"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
