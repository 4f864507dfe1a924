"""srnbench: anchors, the sweep runner (real files, resume), summary, plots and the CLI."""

from __future__ import annotations

import csv
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sirencodec import metrics
from sirencodec.bench.cli import main
from sirencodec.bench.codecs import ANCHORS, make_codecs, setting_label
from sirencodec.bench.run import run_benchmark, safe_name
from sirencodec.bench.sweeps import EXPERIMENTS, get_sweep, parse_settings
from sirencodec.errors import InputError


def _image(height: int = 20, width: int = 24, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A smooth gradient with a little noise: compresses like a photo, not like noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = 40 + 150 * (x / width) * (0.6 + 0.4 * np.sin(y / 3.0))
    if channels == 3:
        base = np.stack([base, base[::-1] * 0.8 + 30, 255 - base], axis=2)
    return np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture()
def gray_png(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.png"
    Image.fromarray(_image()).save(path)
    return path


def _rows(outdir: Path) -> list[dict[str, str]]:
    with (outdir / "results.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _mtimes(outdir: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in outdir.rglob("*") if p.is_file() and p.suffix != ".png"
            and p.name not in ("summary.json", "README.md")}


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("srnbench: error:")
    return lines[0]


# --- metrics and anchors ------------------------------------------------------------------

def test_psnr_matches_definition():
    a = _image()
    b = a.copy()
    b[0, 0] = a[0, 0] ^ 8  # one sample off by 8
    mse = 64.0 / a.size
    assert metrics.psnr(a, b) == pytest.approx(10 * np.log10(255**2 / mse))
    assert metrics.psnr(a, a) == float("inf")
    assert metrics.ssim(a, a) == pytest.approx(1.0)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", sorted(ANCHORS))
def test_anchor_round_trip(name: str, channels: int):
    codecs, notes = make_codecs([name])
    if not codecs:
        pytest.skip(notes[0])
    codec = codecs[0]
    image = _image(32, 40, channels)
    sweep = codec.default_sweep()
    assert len(sweep) >= 8
    data = codec.encode(image, sweep[len(sweep) // 2])
    decoded = codec.decode(data, channels)
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    assert metrics.psnr(image, decoded) > 20


def test_jpeg2000_hits_its_target_rate():
    (codec,), _ = make_codecs(["jpeg2000"])
    image = _image(128, 128)
    for bpp in (0.5, 1.0, 2.0):
        size = len(codec.encode(image, {"bpp": bpp}))
        assert 8 * size / image.size == pytest.approx(bpp, rel=0.15)


def test_parse_settings_and_labels():
    assert parse_settings("bits=8, prune=0.2; ;bits=10") == ({"bits": "8", "prune": "0.2"}, {"bits": "10"})
    for bad in ("", " ; ", "bits", "bits=8,bits=9"):
        with pytest.raises(InputError):
            parse_settings(bad)
    assert setting_label({"bits": 8, "prune": 0.2}) == "bits=8,prune=0.2"
    assert safe_name("bits=8,prune=0.2") == "bits-8_prune-0.2"


def test_experiments_are_real_file_sweeps():
    for name in EXPERIMENTS:
        for quick in (True, False):
            sweep = get_sweep(name, quick)
            assert sweep.settings and "jpeg" in sweep.codecs and "siren" in sweep.codecs
            assert all("bits" in s and "prune" in s for s in sweep.settings)
    widths = get_sweep("widths", False)
    assert {s["hidden_width"] for s in widths.settings} == {25, 32, 45, 55, 64}
    assert {s["hidden_layers"] for s in widths.settings} == set(range(2, 13))
    assert all(s["bits"] == 16 and s["prune"] == 0 for s in widths.settings)
    assert {s["bits"] for s in get_sweep("qat", False).settings} == {4, 7, 8, 9, 16}
    from sirencodec.ratecontrol import QUALITY_LEVELS

    assert get_sweep(None, False).settings == tuple({"quality": q} for q in range(1, QUALITY_LEVELS + 1))
    assert all(set(s) == {"quality"} for s in get_sweep(None, True).settings)


# --- the runner with anchors only ---------------------------------------------------------

def test_runner_writes_real_files_and_resumes(gray_png: Path, tmp_path: Path):
    out = tmp_path / "out"
    codecs, _ = make_codecs(["jpeg", "jpeg2000"])
    sweeps = {"jpeg": [{"quality": 30}, {"quality": 80}], "jpeg2000": [{"bpp": 1.0}, {"bpp": 2.0}]}
    first = run_benchmark([gray_png], codecs, out, sweeps, plot=False, log=lambda _: None)
    assert (first.computed, first.reused) == (4, 0)
    rows = _rows(out)
    assert len(rows) == 4
    for row in rows:
        assert float(row["bpp"]) == 8 * (out / row["file"]).stat().st_size / (20 * 24)
    before = _mtimes(out)
    (out / rows[0]["file"]).unlink()  # a lost file is recomputed, nothing else
    second = run_benchmark([gray_png], codecs, out, sweeps, plot=False, log=lambda _: None)
    assert (second.computed, second.reused) == (1, 3)
    after = _mtimes(out)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {str(out / rows[0]["file"]), str(out / "results.csv")}
    assert len(_rows(out)) == 4


# --- the CLI end to end with a real sirencodec point --------------------------------------

def test_siren_rate_control_settings(gray_png: Path, tmp_path: Path):
    out = tmp_path / "bench"
    argv = [str(gray_png), "-o", str(out), "--codecs", "siren", "--preset", "test",
            "--settings", "quality=3;target_bpp=6", "--device", "cpu"]
    assert main(argv) == 0
    rows = {r["setting"]: r for r in _rows(out)}
    assert set(rows) == {"quality=3", "target_bpp=6"}
    # The CSV records the network rate control chose, not the preset's.
    assert int(rows["quality=3"]["quality"]) == 3 and int(rows["quality=3"]["bits"]) == 8
    assert 8 * (out / rows["target_bpp=6"]["file"]).stat().st_size <= 6 * 20 * 24
    assert main([*argv[:-4], "--settings", "quality=2,target_bpp=1", "--device", "cpu"]) == 2


def test_latent_grid_settings(gray_png: Path, tmp_path: Path):
    out = tmp_path / "bench"
    argv = [str(gray_png), "-o", str(out), "--codecs", "siren", "--device", "cpu",
            "--settings", "lam=0.002,latent_steps=40"]
    assert main(argv) == 0
    (row,) = _rows(out)
    data = (out / row["file"]).read_bytes()
    assert data[3] == 4 and int(row["bytes"]) == len(data)  # a version 4 (latent-grid) file
    assert row["preset"] == "latent" and float(row["lam"]) == 0.002 and int(row["steps"]) == 40
    out2 = tmp_path / "bench2"
    assert main([str(gray_png), "-o", str(out2), "--codecs", "siren", "--device", "cpu",
                 "--settings", "latent_quality=3,latent_steps=40"]) == 0
    (row,) = _rows(out2)
    assert (out2 / row["file"]).read_bytes()[3] == 4 and int(row["latent_quality"]) == 3
    assert float(row["lam"]) == 2e-3  # quality 3's rate weight
    for bad in ("lam=0.002,quality=3", "latent_steps=40", "lam=0.002,bits=8", "lam=0.002,latent_quality=3"):
        assert main([*argv[:-1], bad]) == 2


def test_cli_end_to_end_with_siren(gray_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "bench"
    argv = [str(gray_png), "-o", str(out), "--codecs", "jpeg,siren", "--preset", "test",
            "--settings", "bits=8,prune=0.2", "--anchor-sweep", "jpeg=20,90", "--device", "cpu"]
    assert main(argv) == 0
    assert "3 point(s) computed, 0 reused" in capsys.readouterr().out
    rows = _rows(out)
    assert sorted(r["codec"] for r in rows) == ["jpeg", "jpeg", "siren"]
    for row in rows:
        path = out / row["file"]
        assert path.is_file()
        assert float(row["bpp"]) == 8 * path.stat().st_size / (20 * 24)
        assert np.isfinite(float(row["psnr"]))
    siren = next(r for r in rows if r["codec"] == "siren")
    assert siren["setting"] == "bits=8,prune=0.2" and siren["file"].endswith(".srn")
    assert siren["preset"] == "test" and int(siren["bits"]) == 8
    # PSNR is that of the real decoder on the real file.
    import sirencodec

    decoded = sirencodec.decode((out / siren["file"]).read_bytes())
    assert float(siren["psnr"]) == pytest.approx(metrics.psnr(_image(), decoded), abs=1e-9)
    summary = json.loads((out / "summary.json").read_text())
    assert "jpeg" in summary["images"]["tiny"]["bd_siren_vs"]
    assert (out / "rd_tiny.png").stat().st_size > 1000
    readme = (out / "README.md").read_text()
    assert "srnbench " + " ".join(argv[:1]) in readme and "| jpeg |" in readme and "CPU cores" in readme

    before = _mtimes(out)
    assert main(argv) == 0
    assert "0 point(s) computed, 3 reused" in capsys.readouterr().out
    assert _mtimes(out) == before


# --- bad input: one line, exit 2, no traceback --------------------------------------------

def test_cli_unknown_codec(gray_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main([str(gray_png), "-o", str(tmp_path / "o"), "--codecs", "jpeg,h266"]) == 2
    assert "unknown codec 'h266'" in _one_error_line(capsys)


@pytest.mark.parametrize("option", [["--settings", ";"], ["--settings", ""], ["--codecs", ","],
                                    ["--anchor-sweep", "jpeg="]])
def test_cli_empty_sweep(option: list[str], gray_png: Path, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]):
    assert main([str(gray_png), "-o", str(tmp_path / "o"), *option]) == 2
    assert "empty" in _one_error_line(capsys)


def test_cli_unreadable_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    assert main([str(bad), "-o", str(tmp_path / "o"), "--codecs", "jpeg"]) == 2
    assert "bad.png" in _one_error_line(capsys)
    assert main([str(tmp_path / "missing.png"), "-o", str(tmp_path / "o"), "--codecs", "jpeg"]) == 2
    assert "missing.png" in _one_error_line(capsys)


def test_cli_usage_errors(gray_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main([str(gray_png)]) == 2  # no -o
    _one_error_line(capsys)
    assert main([str(gray_png), "-o", str(tmp_path / "o"), "--experiment", "nope"]) == 2
    assert "widths" in _one_error_line(capsys)
    both = ["--experiment", "qat", "--settings", "bits=8"]
    assert main([str(gray_png), "-o", str(tmp_path / "o"), *both]) == 2
    _one_error_line(capsys)


def test_cli_missing_matplotlib(gray_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    argv = [str(gray_png), "-o", str(tmp_path / "o"), "--codecs", "jpeg", "--anchor-sweep", "jpeg=50,90"]
    assert main(argv) == 2
    assert "pip install matplotlib" in _one_error_line(capsys)
    assert not (tmp_path / "o").exists()  # failed before doing any work
    assert main([*argv, "--no-plot"]) == 0
    assert (tmp_path / "o" / "results.csv").is_file()


def test_cli_bad_siren_setting(gray_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    pytest.importorskip("sirencodec.codec")
    base = [str(gray_png), "-o", str(tmp_path / "o"), "--codecs", "siren", "--preset", "test"]
    assert main([*base, "--settings", "bitz=8"]) == 2
    assert "bitz" in _one_error_line(capsys)
    assert main([*base, "--settings", "bits=eight"]) == 2
    assert "bits" in _one_error_line(capsys)
    assert main([*base[:-1], "nope", "--settings", "bits=8"]) == 2
    assert "preset" in _one_error_line(capsys)
    assert not (tmp_path / "o").exists()


def test_cli_missing_cuda_fails_before_work(gray_png: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]):
    torch = pytest.importorskip("torch")
    pytest.importorskip("sirencodec.codec")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    argv = [str(gray_png), "-o", str(tmp_path / "o"), "--codecs", "jpeg,siren", "--preset", "test",
            "--settings", "bits=8", "--device", "cuda"]
    assert main(argv) == 2
    assert "cuda" in _one_error_line(capsys).lower()
    assert not (tmp_path / "o").exists()


def _benchmark_script(name: str):
    """A script of benchmarks/ loaded as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(__file__).parent.parent / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compare_runs_reports_a_lever(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from sirencodec.bench.run import write_results

    compare_runs = _benchmark_script("compare_runs")

    def run(name: str, rate_factor: float) -> Path:
        rows = [{"image": "img", "codec": "siren", "setting": f"q{i}", "file": f"img/{i}.srn",
                 "bytes": 100, "bpp": bpp * rate_factor, "psnr": psnr, "ssim": 0.9, "encode_s": 1.0,
                 "decode_s": 0.1, "width": 8, "height": 8, "channels": 1}
                for i, (bpp, psnr) in enumerate([(0.3, 27.0), (0.6, 30.0), (1.2, 33.0), (2.4, 36.0)])]
        rows += [{**r, "codec": "jpeg", "file": f"img/{i}.jpg"} for i, r in enumerate(rows)]  # ignored here
        (tmp_path / name).mkdir()
        write_results(tmp_path / name / "results.csv", rows)
        return tmp_path / name

    before, after = run("before", 1.0), run("after", 0.8)
    assert compare_runs.main([str(before), str(after)]) == 0
    out = capsys.readouterr().out
    assert "img: BD-rate -20.0 %" in out and "mean: BD-rate -20.0 %" in out
    assert compare_runs.main([str(before), str(tmp_path)]) == 2  # no common image
    # Probe points (JSON lines) against every codec of a run.
    probe = tmp_path / "probe.jsonl"
    probe.write_text("".join(json.dumps({"image": "x/img.png", "bpp": bpp * 0.5, "psnr": psnr}) + "\n"
                             for bpp, psnr in [(0.3, 27.0), (0.6, 30.0), (1.2, 33.0), (2.4, 36.0)]))
    assert compare_runs.main([str(before), "--probe", str(probe)]) == 0
    out = capsys.readouterr().out
    assert "img: vs jpeg -50.0 %, vs siren -50.0 %" in out and "mean: vs jpeg -50.0 %" in out
    with pytest.raises(SystemExit):
        compare_runs.main([str(before)])  # neither AFTER_DIR nor --probe
    # A run in progress: an image with one point so far is skipped with a note, not a traceback.
    from sirencodec.bench.run import read_results

    rows = list(read_results(after / "results.csv").values())
    rows += [{**rows[0], "image": "late", "file": "late/0.srn"}]
    (tmp_path / "partial").mkdir()
    write_results(tmp_path / "partial" / "results.csv", rows)
    before_rows = list(read_results(before / "results.csv").values())
    write_results(before / "results.csv", before_rows + [{**r, "image": "late", "file": f"late/{i}.srn"}
                                                         for i, r in enumerate(before_rows)])
    assert compare_runs.main([str(before), str(tmp_path / "partial")]) == 0
    captured = capsys.readouterr()
    assert "img: BD-rate -20.0 %" in captured.out and "late skipped" in captured.err


def test_probe_reports_the_real_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from sirencodec.bitstream import pack
    from sirencodec.config import PRESETS
    from sirencodec.fit import fit_network

    probe = _benchmark_script("probe")
    img = (np.indices((12, 16)).sum(axis=0) * 9 % 256).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "p.png")
    assert probe.main([str(tmp_path / "p.png"), "bits=5", "prune=0.0", "--preset", "test"]) == 0
    line = json.loads(capsys.readouterr().out)
    config = dataclasses.replace(PRESETS["test"], bits=5, prune=0.0)
    size = len(pack(fit_network(img, config, torch.device("cpu")).network))
    assert line["bytes"] == size and line["bpp"] == round(8 * size / img.size, 4)
    assert set(line["stage_psnr"]) == {"fit", "prune", "qat"}
    assert probe.main([str(tmp_path / "p.png"), "bits=5", "prune=0.0", "--preset", "test",
                       "--out", str(tmp_path / "p.srn")]) == 0
    assert (tmp_path / "p.srn").stat().st_size == json.loads(capsys.readouterr().out)["bytes"] == size
    with pytest.raises(SystemExit):
        probe.main([str(tmp_path / "p.png"), "no_such_field=1"])
    with pytest.raises(InputError):
        probe.config_from("test", ["quality=3"])
    assert probe.config_from("test", ["layer_prune=0.1/0.2", "first_bits=None"]).layer_prune == (0.1, 0.2)


@pytest.mark.parametrize("arch, extra", [("siren", ["--pe", "2"]), ("finer", ["--first-bias", "1"]),
                                         ("grid", ["--grid", "2x4"])])
def test_float_probe_runs_every_architecture(tmp_path: Path, capsys: pytest.CaptureFixture[str], arch, extra):
    probe = _benchmark_script("float_probe")
    img = (np.indices((8, 8)).sum(axis=0) * 15 % 256).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "f.png")
    assert probe.main([str(tmp_path / "f.png"), arch, "6", "3", "--steps", "8", *extra]) == 0
    out = capsys.readouterr().out
    assert out.count(" psnr ") == 4 + (5 if arch == "grid" else 0)


def test_allocation_probe_estimates_savings(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    probe = _benchmark_script("allocation_probe")
    img = (np.indices((8, 8)).sum(axis=0) * 15 % 256).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "a.png")
    tiny = ["hidden_width=6", "hidden_layers=2", "fit_steps=6", "prune_steps=8", "qat_steps=4"]
    assert probe.main([str(tmp_path / "a.png"), *tiny]) == 0
    out = capsys.readouterr().out
    assert out.count("kept,") == 4 and "per row" in out
    # The high-rate model: steps already at S^2 ~ N / a save nothing; others save bits.
    kept, sens = np.array([10.0, 40.0]), np.array([2.0, 1.0])
    optimal = np.sqrt(kept / sens)
    assert probe.saving_bits(kept, sens, optimal) == pytest.approx(0.0, abs=1e-9)
    assert probe.saving_bits(kept, sens, np.array([1.0, 1.0])) > 0


def test_latent_probe_codes_its_latents(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    probe = _benchmark_script("latent_probe")
    img = (np.indices((12, 16)).sum(axis=0) * 9 % 256).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "l.png")
    args = [str(tmp_path / "l.png"), "--steps", "150", "--lr", "0.05", "--levels", "3", "--hidden", "6"]
    assert probe.main(args + ["--lam", "1e-4", "--json"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["latents_round_trip"] is True
    # The integer ARM's table costs little against the float ARM's exact Laplace.
    assert 0.8 * line["float_arm_latent_bytes"] <= line["latent_bytes"] <= 1.25 * line["float_arm_latent_bytes"] + 8
    parts = ("latent_bytes", "synthesis_bytes", "arm_bytes", "header_bytes")
    assert line["bytes"] == sum(line[k] for k in parts)
    assert line["bpp"] == round(8 * line["bytes"] / img.size, 4)
    assert len(line["nonzero_latents"]) == 3 and sum(line["nonzero_latents"]) > 0 and 20 < line["psnr"] < 99
    # A heavy rate weight drives every latent to zero: fewer latent bytes, lower PSNR.
    assert probe.main(args + ["--lam", "3", "--json"]) == 0
    heavy = json.loads(capsys.readouterr().out)
    assert sum(heavy["nonzero_latents"]) == 0
    assert heavy["latent_bytes"] < line["latent_bytes"] and heavy["psnr"] < line["psnr"]
    # Without the full-resolution grid the finest latents are 6 x 8.
    net = probe.LatentNet(12, 16, 2, [4], True, 8, 8, finest=1)
    assert [tuple(y.shape[-2:]) for y in net.latents] == [(6, 8), (3, 4)]


def test_coding_bounds_orders_its_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from netgen import random_network
    from sirencodec.bitstream import pack

    bounds = _benchmark_script("coding_bounds")
    rng = np.random.default_rng(8)
    net = random_network(rng, hidden_width=20, hidden_layers=2, bits=8, sparsity=0.3, distribution="laplace")
    for layer in net.layers[1:-1]:
        t = layer.weight
        b = bounds.layer_bounds(t.q, t.mask, t.zero_point)
        assert b["kept"] == int(t.mask.sum())
        # The symmetric histogram is the best symmetric i.i.d. model of its own data; the
        # thinned Gaussian includes the plain one; oracle rates never cost more than one rate.
        assert b["empirical"] <= b["gap"] <= b["gauss"] + 1e-9
        assert b["mask_row"] <= b["mask"] + 1e-9 and b["mask_col"] <= b["mask"] + 1e-9
        # A Gaussian model of Laplace-distributed integers costs more than their histogram.
        assert b["gauss"] > b["empirical"]
    (tmp_path / "n.srn").write_bytes(pack(net))
    assert bounds.main([str(tmp_path / "n.srn")]) == 0
    out = capsys.readouterr().out
    assert "n.srn" in out and out.count("\n") >= 5 and "empirical" in out and "per-row scales at 4 bits" in out


def test_meta_probe_moves_the_start_and_encodes_from_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from sirencodec.model import Siren

    meta = _benchmark_script("meta_probe")
    start_file = tmp_path / "start.pt"
    assert meta.main(["train", "--width", "6", "--layers", "1", "--outer", "3", "--inner", "3", "--pool", "2",
                      "--held", "1", "--size", "16", "--batch", "64", "--eval-every", "3",
                      "--out", str(start_file)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["outer"] == 0 and lines[-1]["outer"] == 3
    learned = torch.load(start_file)["params"]
    usual = list(Siren(6, 1, 1, generator=torch.Generator().manual_seed(0)).parameters())
    assert [tuple(p.shape) for p in learned] == [tuple(p.shape) for p in usual]
    assert any(not torch.equal(a, b) for a, b in zip(learned, usual))  # Reptile moved it

    # encode starts from the given values: an independent draw, so that its first layer (which
    # a few test-preset steps barely move) correlates with them only if the fit started there.
    other = [p.detach() for p in Siren(6, 1, 1, generator=torch.Generator().manual_seed(123)).parameters()]
    torch.save({"width": 6, "layers": 1, "params": other}, start_file)
    image = tmp_path / "i.png"
    Image.fromarray(_image(16, 16)).save(image)
    for extra in ([], ["--random"]):
        assert meta.main(["encode", str(image), "hidden_width=6", "hidden_layers=1", "--preset", "test",
                          "--init", str(start_file), *extra]) == 0
        record = json.loads(capsys.readouterr().out)
        assert record["bytes"] > 0 and 0 < record["psnr"] < 100 and len(record["layers"]) == 3
        if not extra:
            assert record["layers"][0]["corr"] > 0.9
        else:
            assert record["init"] == "random"


def test_calibrate_estimate_recovers_the_bits_behind_the_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from sirencodec import ratecontrol as rc
    from sirencodec.bench.run import write_results

    calibrate = _benchmark_script("calibrate_estimate")
    # Files whose sizes the estimate gives at 6.2 and 7.4 bits per hidden weight must calibrate back to them.
    rows = []
    for quality, width, bits in ((3, 20, 6.2), (6, 30, 7.4)):
        config = calibrate.level_config(quality, width)
        size = rc.estimate_bytes(config, 128, 128, 1, hidden_bits=bits)
        for image in ("a", "b"):
            rows.append({"image": image, "codec": "siren", "setting": f"quality={quality}", "file": f"{image}/{quality}.srn",
                         "bytes": size, "bpp": 8 * size / 128 ** 2, "psnr": 30.0, "ssim": 0.9, "encode_s": 1.0,
                         "decode_s": 0.1, "width": 128, "height": 128, "channels": 1, "quality": quality,
                         "hidden_width": width, "hidden_layers": config.hidden_layers})
    write_results(tmp_path / "results.csv", rows)
    assert calibrate.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    table = eval(out.strip().splitlines()[-1].split("=", 1)[1])  # the printed tuple of pairs
    assert [x for x, _ in table] == sorted(x for x, _ in table) and len(table) == 2
    assert abs(table[0][1] - 6.2) < 0.02 and abs(table[1][1] - 7.4) < 0.02
    write_results(tmp_path / "results.csv", [{**r, "codec": "jpeg"} for r in rows])
    assert calibrate.main([str(tmp_path)]) == 2


def test_vs_curve_places_points_against_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from sirencodec.bench.run import write_results

    vs_curve = _benchmark_script("vs_curve")
    curve = [(0.25, 27.0), (0.5, 30.0), (1.0, 33.0)]  # 3 dB per doubling
    write_results(tmp_path / "results.csv", [
        {"image": "img", "codec": "siren", "setting": f"q{i}", "file": f"img/{i}.srn", "bytes": 100, "bpp": b,
         "psnr": p, "ssim": 0.9, "encode_s": 1.0, "decode_s": 0.1, "width": 8, "height": 8, "channels": 1}
        for i, (b, p) in enumerate(curve)])
    d_db, d_rate = vs_curve.compare({"bpp": 0.5, "psnr": 31.5}, curve)
    assert d_db == pytest.approx(1.5) and d_rate == pytest.approx(100 * (2 ** -0.5 - 1))
    d_db, d_rate = vs_curve.compare({"bpp": 2.0, "psnr": 36.0}, curve)  # on the extended end segment
    assert d_db == pytest.approx(0.0) and d_rate == pytest.approx(0.0, abs=1e-9)
    probe = tmp_path / "p.jsonl"
    probe.write_text(json.dumps({"image": "x/img.png", "bytes": 90, "bpp": 0.5, "psnr": 30.0, "tag": "t"}) + "\n"
                     + json.dumps({"image": "other.png", "bytes": 90, "bpp": 0.5, "psnr": 30.0}) + "\n")
    assert vs_curve.main([str(tmp_path), str(probe)]) == 0
    captured = capsys.readouterr()
    assert "+0.00 dB  +0.0 % rate" in captured.out and "other has fewer than two points" in captured.err
