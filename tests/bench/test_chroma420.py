"""benchmarks/chroma420.py: 4:2:0 output chroma applied to a run's decoded files."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import sirencodec
from sirencodec.metrics import psnr
from tests import ROOT

SCRIPT = ROOT / "benchmarks" / "chroma420.py"
_spec = importlib.util.spec_from_file_location("chroma420", SCRIPT)
chroma420 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(chroma420)

# JFIF (ITU-T T.871 section 7), full range, offsets dropped: rows Y, Cb, Cr.
JFIF = np.array([[0.299, 0.587, 0.114],
                 [-0.299 / 1.772, -0.587 / 1.772, (1 - 0.114) / 1.772],
                 [(1 - 0.299) / 1.402, -0.587 / 1.402, -0.114 / 1.402]])


def test_gray_pixels_have_no_chroma_to_lose():
    """R = G = B: Cb = Cr = 0 everywhere, so 4:2:0 returns the image (luma is not subsampled)."""
    gray = np.random.default_rng(0).integers(0, 256, (9, 12), dtype=np.uint8)
    rgb = np.repeat(gray[..., None], 3, axis=2)
    assert np.array_equal(chroma420.subsample_420(rgb), rgb)


def test_chroma_alternating_by_column_becomes_its_mean_and_luma_stays():
    """Columns alternating between two colours: every 2 x 2 block holds one of each, so both
    chroma planes become the two colours' mean everywhere while each pixel keeps its luma."""
    a, b = np.array([200.0, 40.0, 90.0]), np.array([60.0, 180.0, 120.0])
    rgb = np.zeros((6, 8, 3), dtype=np.uint8)
    rgb[:, 0::2], rgb[:, 1::2] = a, b
    ycc = rgb.astype(np.float64) @ JFIF.T
    ycc[..., 1:] = ((a @ JFIF.T + b @ JFIF.T) / 2)[1:]
    expected = np.clip(np.rint(ycc @ np.linalg.inv(JFIF).T), 0, 255).astype(np.uint8)
    out = chroma420.subsample_420(rgb)
    assert np.array_equal(out, expected)
    assert not np.array_equal(out, rgb)


def _run(args, **kw):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=300, check=False, **kw)


def test_probe_points_are_the_files_rate_and_the_subsampled_decode(tmp_path):
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:24, 0:20]
    planes = [120 + 80 * np.sin(x / 3), 100 + 60 * np.cos(y / 4), 90 + 40 * np.sin((x + y) / 5)]
    image = np.stack(planes, axis=-1)
    image = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    (tmp_path / "orig").mkdir()
    Image.fromarray(image).save(tmp_path / "orig" / "tiny.png")
    run = tmp_path / "run"
    (run / "tiny" / "latent").mkdir(parents=True)
    result = sirencodec.encode(image, lam=1e-3, latent_steps=40)
    (run / "tiny" / "latent" / "a.srn").write_bytes(result.data)
    with open(run / "results.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "codec", "setting", "file", "bytes", "bpp", "psnr"])
        w.writerow(["tiny", "latent", "lam=0.001", "tiny/latent/a.srn", len(result.data), 0.0, 0.0])
        w.writerow(["tiny", "jpeg", "quality=50", "tiny/jpeg/q.jpg", 1, 0.0, 0.0])
    proc = _run([run, tmp_path / "orig"])
    assert proc.returncode == 0, proc.stderr
    (point,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert point["image"] == "tiny" and point["bpp"] == 8 * len(result.data) / (24 * 20)
    decoded = sirencodec.decode(result.data)
    assert point["psnr_444"] == pytest.approx(psnr(image, decoded))
    assert point["psnr"] == pytest.approx(psnr(image, chroma420.subsample_420(decoded)))
    assert point["psnr"] != pytest.approx(point["psnr_444"])

    ceiling = _run(["--ceiling", tmp_path / "orig"])
    assert ceiling.returncode == 0 and ceiling.stdout.startswith("tiny: 4:2:0 round trip ")
    expected = psnr(image, chroma420.subsample_420(image))
    assert f"{expected:.2f} dB RGB PSNR" in ceiling.stdout

    (tmp_path / "orig" / "tiny.png").rename(tmp_path / "orig" / "other.png")
    missing = _run([run, tmp_path / "orig"])
    assert missing.returncode != 0 and missing.stderr.count("\n") == 1 and "tiny" in missing.stderr
