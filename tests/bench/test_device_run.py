"""benchmarks/device_run.py --smoke: the GPU benchmark's whole path on tiny inputs on the CPU."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import sirencodec
from sirencodec.metrics import psnr
from tests import ROOT


def test_device_run_smoke(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "device_run.py"), "--smoke", "--device", "cpu",
                           "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads((out / "device_run.json").read_text())
    sections = record["sections"]
    assert list(sections) == ["environment", "tests", "throughput", "srnenc", "kodak"]
    assert all(s["ok"] for s in sections.values()), {k: s.get("error") for k, s in sections.items()}
    assert sections["environment"]["device"] == "cpu" and sections["environment"]["torch"]
    assert "skipped" in sections["tests"]["summary"]  # the CUDA tests, without a GPU
    with (out / "throughput.csv").open() as f:
        rows = list(csv.DictReader(f))
    points = [("32x32x1", 1), ("32x32x1", 2), ("40x24x3", 1), ("40x24x3", 2)]
    assert [(r["kind"], r["size"], int(r["batch"])) for r in rows] == [
        (kind, size, b) for kind in ("latent", "siren (8, 2)") for size, b in points]
    assert all(float(r["steps_per_s"]) > 0 for r in rows)
    for r in rows:  # per-network throughput is B x steps/s, its ratio against B = 1's
        base = next(float(b["network_steps_per_s"]) for b in rows
                    if (b["kind"], b["size"], b["batch"]) == (r["kind"], r["size"], "1"))
        ratio = float(r["network_steps_per_s"]) / base
        # The CSV rounds steps/s to 0.1 and the ratio (of the unrounded rates) to 0.01.
        slack = 0.005 + 0.05 * (1 + ratio) / base
        assert float(r["per_network_vs_b1"]) == pytest.approx(ratio, abs=slack)
        assert float(r["network_steps_per_s"]) == pytest.approx(float(r["steps_per_s"]) * int(r["batch"]), abs=0.1)
    runs = sections["srnenc"]["runs"]
    assert len(runs) == 2 and all(r["bytes"] == (out / f"cameraman-{k + 1}.srn").stat().st_size
                                  for k, r in enumerate(runs))
    assert sections["srnenc"]["identical_files"] == (runs[0]["sha256"] == runs[1]["sha256"])
    kodak = sections["kodak"]
    assert kodak["networks"] == 3 * 4 and kodak["images"] == 3
    assert sorted(r["batch"] for r in kodak["rows"]) == [4] * 4 + [8] * 8  # two images of one size, one of another
    for row in kodak["rows"]:
        image = np.asarray(Image.open(out / "kodak-inputs" / f"{row['image']}.png"))
        data = (out / "kodak" / row["file"]).read_bytes()
        assert len(data) == row["bytes"]
        assert psnr(image, sirencodec.decode(data)) == row["psnr"]  # RGB PSNR over all three channels


def test_device_run_thesis_smoke(tmp_path):
    """--only thesis: the three thesis experiments (their quick grids, a few steps) on the
    cameraman crop and the centre of a test066.png (a stand-in here), one srnbench run each."""
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (321, 481), dtype=np.uint8)).save(thesis / "test066.png")
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "device_run.py"), "--smoke", "--device", "cpu",
                           "--only", "thesis", "--thesis", str(thesis), "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    section = json.loads((out / "device_run.json").read_text())["sections"]["thesis"]
    assert section["ok"] and list(section["runs"]) == ["widths", "agp", "qat"]
    assert [r["networks"] for r in section["runs"].values()] == [2 * 6, 2 * 2, 2 * 3]  # the quick grids, 2 images
    for name in ("widths", "agp", "qat"):
        with (out / "thesis" / name / "results.csv").open() as f:
            rows = list(csv.DictReader(f))
        assert {r["image"] for r in rows} == {"cameraman256", "test066_256"} and {"jpeg", "siren"} <= {r["codec"] for r in rows}


def test_kodak_subset_crops_the_centre(tmp_path):
    """benchmarks/kodak_subset.py: each named image's central 256 x 256, in either orientation;
    a folder without them is a one-line error."""
    kodak = tmp_path / "kodak"
    kodak.mkdir()
    rng = np.random.default_rng(0)
    sources = {}
    for k, name in enumerate(("kodim01", "kodim05", "kodim15", "kodim23")):
        h, w = (512, 768) if k % 2 == 0 else (768, 512)
        sources[name] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(sources[name]).save(kodak / f"{name}.png")
    script = str(ROOT / "benchmarks" / "kodak_subset.py")
    proc = subprocess.run([sys.executable, script, str(kodak), str(tmp_path / "dev")], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    for name, pixels in sources.items():
        h, w = pixels.shape[:2]
        top, left = (h - 256) // 2, (w - 256) // 2
        crop = np.asarray(Image.open(tmp_path / "dev" / f"{name}_c256.png"))
        assert np.array_equal(crop, pixels[top: top + 256, left: left + 256])
    (kodak / "kodim15.png").unlink()
    proc = subprocess.run([sys.executable, script, str(kodak), str(tmp_path / "dev2")], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "kodim15.png" in proc.stderr
