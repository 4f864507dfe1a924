"""srnbench: anchors, the sweep runner (real files, resume), summary, plots and the CLI."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sirencodec
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


def _saturated(size: int = 64) -> np.ndarray:
    """Fine red/blue stripes at constant luma-ish: chroma detail that 4:2:0 cannot keep."""
    x = np.arange(size)[None, :] % 2
    red = np.broadcast_to(x * 220 + 20, (size, size))
    return np.stack([red, np.full((size, size), 60), 240 - red], axis=2).astype(np.uint8)


@pytest.mark.parametrize("name", ["jpeg", "avif"])
def test_chroma_modes_are_swept_on_colour_only(name: str):
    codecs, notes = make_codecs([name])
    if not codecs:
        pytest.skip(notes[0])
    codec = codecs[0]
    sweep = codec.default_sweep()
    assert {s.get("chroma") for s in sweep} == {"420", "444"}
    assert len(sweep) == 2 * len(codec.sweep_values)
    colour, gray = _saturated(), _saturated()[..., 1]
    assert codec.for_image({"quality": 90, "chroma": "444"}, colour) == {"quality": 90, "chroma": "444"}
    assert codec.for_image({"quality": 90, "chroma": "444"}, gray) is None
    assert codec.for_image({"quality": 90, "chroma": "420"}, gray) == {"quality": 90}
    # 4:2:0 averages the stripes' chroma away: its PSNR stalls where 4:4:4 keeps climbing.
    psnrs = {mode: metrics.psnr(colour, codec.decode(codec.encode(colour, {"quality": 90, "chroma": mode}), 3))
             for mode in ("420", "444")}
    assert psnrs["444"] > psnrs["420"] + 5, psnrs
    with pytest.raises(InputError, match="chroma mode"):
        codec.encode(colour, {"quality": 90, "chroma": "422x"})


def test_jpeg_chroma_modes_set_the_sampling_factors():
    from PIL import JpegImagePlugin

    (codec,), _ = make_codecs(["jpeg"])
    for mode, sampling in (("420", 2), ("444", 0)):  # Pillow's codes: 2 = 4:2:0, 0 = 4:4:4
        with Image.open(io.BytesIO(codec.encode(_saturated(), {"quality": 50, "chroma": mode}))) as decoded:
            assert JpegImagePlugin.get_sampling(decoded) == sampling


def test_runner_sweeps_chroma_modes_per_image(tmp_path: Path):
    Image.fromarray(_image(20, 24)).save(tmp_path / "g.png")
    Image.fromarray(_image(20, 24, channels=3)).save(tmp_path / "c.png")
    out = tmp_path / "out"
    argv = [str(tmp_path / "g.png"), str(tmp_path / "c.png"), "-o", str(out), "--codecs", "jpeg,webp",
            "--anchor-sweep", "jpeg=50,90", "--anchor-sweep", "webp=50,90", "--no-plot"]
    assert main(argv) == 0
    settings = {(r["image"], r["codec"]): sorted(r2["setting"] for r2 in _rows(out)
                                                 if (r2["image"], r2["codec"]) == (r["image"], r["codec"]))
                for r in _rows(out)}
    assert settings[("g", "jpeg")] == ["quality=50", "quality=90"]
    assert settings[("c", "jpeg")] == ["quality=50,chroma=420", "quality=50,chroma=444",
                                       "quality=90,chroma=420", "quality=90,chroma=444"]
    assert settings[("c", "webp")] == ["quality=50", "quality=90"]
    rows = _rows(out)
    assert all(r["psnr_ycbcr"] == "" for r in rows if r["image"] == "g")
    assert all(float(r["psnr_ycbcr"]) > 0 for r in rows if r["image"] == "c")


def test_psnr_ycbcr_weighs_jfif_planes_6_1_1():
    a = _image(16, 16, channels=3)
    b = a.astype(np.int16)
    b[..., 0] += np.where(a[..., 0] < 250, 4, -4)  # red off by 4 everywhere, green and blue exact
    b = b.astype(np.uint8)
    # ITU-T T.871: a red error d moves Y by 0.299 d, Cb by -0.1687 d, Cr by 0.5 d.
    planes = [10 * np.log10(255**2 / (k * 4) ** 2) for k in (0.299, 0.168736, 0.5)]
    assert metrics.psnr_ycbcr(a, b) == pytest.approx((6 * planes[0] + planes[1] + planes[2]) / 8, abs=1e-3)
    assert np.isnan(metrics.psnr_ycbcr(a[..., 0], b[..., 0]))
    assert metrics.psnr_ycbcr(a, a) == float("inf")


def test_jpeg2000_codes_colour_through_the_component_transform():
    (codec,), _ = make_codecs(["jpeg2000"])
    for channels, mct in ((3, 1), (1, 0)):
        data = codec.encode(_image(32, 40, channels), {"bpp": 1.0})
        cod = data.index(b"\xff\x52")  # ISO 15444-1 A.6.1: COD = marker, Lcod, Scod, order, layers (2), MCT
        assert data[cod + 8] == mct


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
            assert sweep.settings["siren"] and "jpeg" in sweep.codecs and "siren" in sweep.codecs
            assert all("bits" in s and "prune" in s for s in sweep.settings["siren"])
    widths = get_sweep("widths", False).settings["siren"]
    assert {s["hidden_width"] for s in widths} == {25, 32, 45, 55, 64}
    assert {s["hidden_layers"] for s in widths} == set(range(2, 13))
    assert all(s["bits"] == 16 and s["prune"] == 0 for s in widths)
    # The thesis's full factors (../shared/docs/thesis.md sections 3 and 4), every combination once.
    agp = get_sweep("agp", False).settings["siren"]
    assert sorted((s["prune"], s["agp_dt"]) for s in agp) == sorted(
        (p, dt) for p in (0.15, 0.2, 0.25, 0.3, 0.35, 0.4) for dt in (50, 100, 200))
    qat = get_sweep("qat", False).settings["siren"]
    assert sorted((s["bits"], s["range_update_every"], s["qat_lr"]) for s in qat) == sorted(
        (b, k, lr) for b in (4, 7, 8, 9, 16) for k in (2, 5, 10, 25) for lr in (1e-4, 7.5e-5, 5.5e-5))
    for s in agp + qat:  # hidden-layer matrices only; first hidden 10-20 %, middle 25-40 %, last 45-55 %
        profile = s["layer_prune"]
        assert profile[0] == profile[-1] == 0 and 0.10 <= profile[1] <= 0.20 and profile[5] >= 0.45
        assert all(0.25 <= r <= 0.40 for r in profile[2:5]) and (s["hidden_width"], s["hidden_layers"]) == (64, 5)
    from sirencodec.ratecontrol import QUALITY_LEVELS

    # The standard sweep: srnenc's default network (latent) at every quality level, against
    # every anchor; the SIREN at the same levels when asked for.
    full = get_sweep(None, False)
    assert full.codecs == ("jpeg", "webp", "jpeg2000", "avif", "latent")
    for codec in ("latent", "siren"):
        assert full.settings[codec] == tuple({"quality": q} for q in range(1, QUALITY_LEVELS + 1))
    quick = get_sweep(None, True).settings
    assert all(set(s) == {"quality", "steps"} for s in quick["latent"])
    assert all(set(s) == {"quality"} for s in quick["siren"])


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
    argv = [str(gray_png), "-o", str(out), "--codecs", "latent", "--device", "cpu",
            "--settings", "lam=0.002,steps=40"]
    assert main(argv) == 0
    (row,) = _rows(out)
    data = (out / row["file"]).read_bytes()
    assert data[3] == 6 and int(row["bytes"]) == len(data)  # latent grids, learned upsampling: version 6
    assert row["codec"] == "latent" and row["file"].startswith("tiny/latent/")
    assert row["preset"] == "latent" and float(row["lam"]) == 0.002 and int(row["steps"]) == 40
    out2 = tmp_path / "bench2"
    assert main([str(gray_png), "-o", str(out2), "--codecs", "latent", "--device", "cpu",
                 "--settings", "quality=3,steps=40"]) == 0
    (row,) = _rows(out2)
    assert (out2 / row["file"]).read_bytes()[3] == 6 and int(row["quality"]) == 3
    assert float(row["lam"]) == 2e-3  # quality 3's rate weight
    # The network's and training's fields, and --effort, reach the encoder and the CSV.
    out3 = tmp_path / "bench3"
    assert main([str(gray_png), "-o", str(out3), "--codecs", "latent", "--device", "cpu",
                 "--settings", "lam=0.002,steps=40,context=3,arm_hidden=5/4;lam=0.002,effort=fast,steps=30"]) == 0
    rows = {r["setting"]: r for r in _rows(out3)}
    custom, fast = rows["lam=0.002,steps=40,context=3,arm_hidden=5/4"], rows["lam=0.002,effort=fast,steps=30"]
    assert (int(custom["context"]), custom["arm_hidden"], custom["effort"]) == (3, "(5, 4)", "default")
    assert sirencodec.unpack((out3 / custom["file"]).read_bytes()).network.context == 3  # the file's K
    assert (fast["effort"], int(fast["steps"])) == ("fast", 30)
    for bad in ("lam=0.002,quality=3", "lam=0.002,bits=8", "lam=0.002,target_bpp=1", "steps=x",
                "lam=0.002,context=17", "lam=0.002,effort=slow", "lam=0.002,arm_hidden=x"):
        assert main([*argv[:-1], bad]) == 2
    # --settings names the points of one sirencodec codec
    assert main([str(gray_png), "-o", str(tmp_path / "b3"), "--codecs", "latent,siren", "--settings", "quality=3"]) == 2


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
    assert summary["test_codecs"] == ["siren"] and "jpeg" in summary["images"]["tiny"]["bd_siren_vs"]
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
    pytest.importorskip("sirencodec.encoder")
    base = [str(gray_png), "-o", str(tmp_path / "o"), "--codecs", "siren", "--preset", "test"]
    assert main([*base, "--settings", "bitz=8"]) == 2
    assert "bitz" in _one_error_line(capsys)
    assert main([*base, "--settings", "bits=eight"]) == 2
    assert "bits" in _one_error_line(capsys)
    assert main([*base[:-1], "nope", "--settings", "bits=8"]) == 2
    assert "preset" in _one_error_line(capsys)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("setting, message", [
    ("lam=0.002,noise=laplace", "noise must be one of"), ("lam=0.002,upsampling=bogus", "upsampling must be one of"),
    ("lam=0.002,context=17", "context must be"), ("lam=0.002,effort=slow", "unknown effort"),
])
def test_cli_bad_latent_value_fails_before_work(gray_png: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                setting: str, message: str):
    """A latent setting's value out of its range stops srnbench before any codec runs."""
    pytest.importorskip("sirencodec.encoder")
    argv = [str(gray_png), "-o", str(tmp_path / "o"), "--codecs", "jpeg,latent", "--settings", setting]
    assert main(argv) == 2
    assert message in _one_error_line(capsys)
    assert not (tmp_path / "o").exists()


def test_cli_missing_cuda_fails_before_work(gray_png: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]):
    torch = pytest.importorskip("torch")
    pytest.importorskip("sirencodec.encoder")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    argv = [str(gray_png), "-o", str(tmp_path / "o"), "--codecs", "jpeg,siren", "--preset", "test",
            "--settings", "bits=8", "--device", "cuda"]
    assert main(argv) == 2
    assert "cuda" in _one_error_line(capsys).lower()
    assert not (tmp_path / "o").exists()


def test_compare_runs_reports_a_lever(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from sirencodec.bench import compare as compare_runs
    from sirencodec.bench.run import write_results

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


def test_compare_table_gives_each_codec_against_the_anchors(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from sirencodec.bench import compare
    from sirencodec.bench.run import write_results

    curve = [(0.3, 27.0), (0.6, 30.0), (1.2, 33.0), (2.4, 36.0)]

    def rows(codec: str, image: str, rate_factor: float) -> list[dict]:
        return [{"image": image, "codec": codec, "setting": f"q{i}", "file": f"{image}/{codec}/{i}",
                 "bytes": 100, "bpp": bpp * rate_factor, "psnr": psnr, "ssim": 0.9, "encode_s": 1.0,
                 "decode_s": 0.1, "width": 8, "height": 8, "channels": 1} for i, (bpp, psnr) in enumerate(curve)]

    run = tmp_path / "run"
    run.mkdir()
    # The latent curve needs half JPEG's rate and twice WebP's on both images: -50 % and +100 %.
    write_results(run / "results.csv", [*rows("jpeg", "a", 1.0), *rows("webp", "a", 0.25), *rows("latent", "a", 0.5),
                                        *rows("jpeg", "b", 1.0), *rows("webp", "b", 0.25), *rows("latent", "b", 0.5)])
    assert compare.main(["--table", str(run)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| codec | images | vs JPEG | vs WebP |"
    assert out[2] == f"| latent (`{run}`) | 2 | -50.0 % | +100.0 % |"
    assert compare.main(["--table", str(tmp_path / "missing")]) == 2


def test_compare_metric_psnr_ycbcr_reads_the_ycbcr_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """The YCbCr axis: AFTER is level with BEFORE in RGB PSNR but needs 20 % fewer bytes for
    the same YCbCr PSNR; gray rows (no YCbCr PSNR) are left out, and a run without any fails."""
    from sirencodec.bench import compare
    from sirencodec.bench.run import write_results

    curve = [(0.3, 27.0), (0.6, 30.0), (1.2, 33.0), (2.4, 36.0)]

    def run(name: str, ycbcr_rate: float) -> Path:
        # PSNR rises 3 dB per doubling of the rate, so the YCbCr curve lifted by 3 log2(1 / r) dB
        # is the RGB curve at r times the rate
        rows = [{"image": "c", "codec": "latent", "setting": f"q{i}", "file": f"c/{i}.srn", "bytes": 100,
                 "bpp": bpp, "psnr": psnr, "psnr_ycbcr": psnr + 3 * np.log2(1 / ycbcr_rate),
                 "ssim": 0.9, "encode_s": 1.0, "decode_s": 0.1, "width": 8, "height": 8, "channels": 3}
                for i, (bpp, psnr) in enumerate(curve)]
        rows += [{**r, "image": "g", "file": f"g/{i}.srn", "psnr_ycbcr": None, "channels": 1}
                 for i, r in enumerate(rows)]
        (tmp_path / name).mkdir()
        write_results(tmp_path / name / "results.csv", rows)
        return tmp_path / name

    before, after = run("before", 1.0), run("after", 0.8)
    assert compare.main([str(before), str(after), "--bd-range", "0.6,1.2"]) == 0
    assert "mean: BD-rate +0.0 %" in capsys.readouterr().out  # RGB PSNR: the same curve
    assert compare.main([str(before), str(after), "--metric", "psnr_ycbcr", "--bd-range", "0.6,1.2"]) == 0
    out = capsys.readouterr().out
    assert "c: BD-rate -20.0 %" in out and "g:" not in out
    gray = tmp_path / "gray"
    gray.mkdir()
    write_results(gray / "results.csv", [r for r in read_rows(before) if r["image"] == "g"])
    assert compare.main(["--table", str(gray), "--metric", "psnr_ycbcr"]) == 2
    assert "colour images only" in capsys.readouterr().err


def read_rows(run: Path) -> list[dict]:
    from sirencodec.bench.run import read_results

    return list(read_results(run / "results.csv").values())


def test_compare_select_keeps_each_images_cheaper_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from sirencodec.bench import compare
    from sirencodec.bench.run import write_results

    def run(name: str, points: list[tuple[float, float, float]], image: str = "img") -> Path:
        rows = [{"image": image, "codec": "latent", "setting": f"lam={lam}", "file": f"{image}/{name}-{i}.srn",
                 "bytes": 100, "bpp": bpp, "psnr": psnr, "ssim": 0.9, "encode_s": 1.0, "decode_s": 0.1,
                 "width": 8, "height": 8, "channels": 1, "lam": lam} for i, (lam, bpp, psnr) in enumerate(points)]
        rows += [{**r, "codec": "jpeg", "file": f"{image}/{i}.jpg", "bpp": r["bpp"] * 2, "lam": None}
                 for i, r in enumerate(rows)]
        (tmp_path / name).mkdir()
        write_results(tmp_path / name / "results.csv", rows)
        return tmp_path / name

    # The same two files at two rate weights: (1.0 bpp, 30 dB) costs 1e-3 + lam, (0.5 bpp, 27 dB)
    # 10^-2.7 + lam / 2, so the smaller file is the cheaper one only for lam > 2 * (10^-2.7 - 1e-3).
    a = run("a", [(1e-2, 1.0, 30.0), (1e-4, 1.0, 30.0)])
    b = run("b", [(1e-2, 0.5, 27.0), (1e-4, 0.5, 27.0)])
    assert compare.main(["--select", str(a), str(b), "--json"]) == 0
    choices = json.loads(capsys.readouterr().out)["choices"]  # (two points: no BD-rate, a note on stderr)
    assert [(c["lam"], Path(c["run"]).name, c["bpp"]) for c in choices] == [(1e-4, "a", 1.0), (1e-2, "b", 0.5)]
    # One run's network better everywhere: the choice is its curve, 20 % fewer bytes than the other.
    curve = [(0.3, 27.0), (0.6, 30.0), (1.2, 33.0), (2.4, 36.0)]
    lams = [1e-2, 1e-3, 1e-4, 1e-5]
    c = run("c", [(lam, bpp, psnr) for lam, (bpp, psnr) in zip(lams, curve)])
    d = run("d", [(lam, bpp * 0.8, psnr) for lam, (bpp, psnr) in zip(lams, curve)])
    assert compare.main(["--select", str(c), str(d)]) == 0
    out = capsys.readouterr().out
    assert f"selection vs {c}: BD-rate -20.0 %" in out and f"selection vs {d}: BD-rate +0.0 %" in out
    assert "selection vs JPEG: BD-rate -60.0 %" in out  # the first run's anchor: twice c's rate
    # No rate weight that both runs trained, or a run without results: one error line, exit 2.
    e = run("e", [(lam * 3, bpp, psnr) for lam, (bpp, psnr) in zip(lams, curve)])
    for runs, message in [((c, e), "no image"), ((c, tmp_path / "missing"), "results.csv")]:
        assert compare.main(["--select", *map(str, runs)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("compare: error:") and message in err[0]


def test_summary_gives_each_sirencodec_codec_its_own_deltas():
    from sirencodec.bench.run import summarize

    curve = [(0.3, 27.0), (0.6, 30.0), (1.2, 33.0), (2.4, 36.0)]
    rows = [{"image": image, "codec": codec, "setting": f"s{i}", "bpp": bpp * factor, "psnr": psnr, "ssim": 0.9,
             "width": 8, "height": 8}
            for image in ("a", "b") for codec, factor in (("jpeg", 1.0), ("latent", 0.5), ("siren", 2.0))
            for i, (bpp, psnr) in enumerate(curve)]
    summary = summarize(rows)
    assert summary["test_codecs"] == ["latent", "siren"]
    image = summary["images"]["a"]
    assert image["bd_latent_vs"]["jpeg"]["bd_rate_percent"] == pytest.approx(-50.0)
    assert image["bd_latent_vs"]["siren"]["bd_rate_percent"] == pytest.approx(-75.0)
    assert image["bd_siren_vs"]["jpeg"]["bd_rate_percent"] == pytest.approx(100.0)
    assert [p["bpp"] for p in image["latent_front"]] == [bpp * 0.5 for bpp, _ in curve]
    assert summary["mean"]["siren"]["jpeg"]["bd_rate_percent"] == pytest.approx(100.0)
    assert summary["mean"]["latent"]["jpeg"]["images_bd_rate_percent"] == 2
    assert summarize([r for r in rows if r["codec"] != "siren"])["test_codecs"] == ["latent"]


def test_latent_points_train_together(tmp_path: Path):
    """Every latent point at a fixed rate weight (all lam of an image, all images of a size)
    trains in one batch; each row is still its own real file; a resumed run trains nothing."""
    paths = []
    for seed in (0, 1):
        paths.append(tmp_path / f"im{seed}.png")
        Image.fromarray(_image(seed=seed)).save(paths[-1])
    codecs, _ = make_codecs(["latent"], device="cpu")
    # Keys' filters and a 10 % hard stage: 30 steps of them follow lam (the default's are tuned for 12,000)
    sweeps = {"latent": parse_settings("lam=0.004,steps=30,hard_fraction=0.1,upsampling=bicubic;"
                                       "lam=0.0005,steps=30,hard_fraction=0.1,upsampling=bicubic")}
    lines: list[str] = []
    result = run_benchmark(paths, codecs, tmp_path / "out", sweeps, plot=False, log=lines.append)
    assert "training 4 latent networks together ..." in lines
    assert len(result.rows) == 4 and all(row["batch"] == 4 for row in result.rows)
    for row in result.rows:
        data = (tmp_path / "out" / row["file"]).read_bytes()
        assert data[3] == 4 and row["bytes"] == len(data)
    by_lam = {(r["image"], r["lam"]): r["bytes"] for r in result.rows}
    assert all(by_lam[(im, 0.0005)] > by_lam[(im, 0.004)] for im in ("im0", "im1"))
    lines.clear()
    again = run_benchmark(paths, codecs, tmp_path / "out", sweeps, plot=False, log=lines.append)
    assert again.reused == 4 and not any("training" in line for line in lines)


def test_fixed_siren_points_train_together(tmp_path: Path):
    paths = []
    for seed in (0, 1):
        paths.append(tmp_path / f"im{seed}.png")
        Image.fromarray(_image(seed=seed)).save(paths[-1])
    codecs, _ = make_codecs(["siren"], preset="test", device="cpu")
    sweeps = {"siren": parse_settings("bits=8;bits=6;quality=3")}
    lines: list[str] = []
    result = run_benchmark(paths, codecs, tmp_path / "out", sweeps, plot=False, log=lines.append)
    assert "training 4 siren networks together ..." in lines  # quality=3 is rate control: one by one
    batched = [r for r in result.rows if r["setting"] != "quality=3"]
    assert len(batched) == 4 and all(r["batch"] == 4 for r in batched)
    assert all(r["batch"] == 1 for r in result.rows if r["setting"] == "quality=3")
    for row in result.rows:
        data = (tmp_path / "out" / row["file"]).read_bytes()
        assert data[3] == 3 and row["bytes"] == len(data)


def test_summary_bd_range_keeps_only_the_test_curve_between_its_rates():
    """--bd-range: the deltas use the test curve's points inside the range only.  Inside
    0.2..0.4 bpp the latent curve needs exactly half JPEG's log-linear curve's rate (BD-rate
    -50 %, in closed form); its points outside the range need 0.2 or 3 times it, which the
    full curve averages in."""
    from sirencodec.bench.bdrate import parse_rate_range
    from sirencodec.bench.run import summarize

    anchor = [(0.1 * 2**k, 24.0 + 3.0 * k) for k in range(7)]  # 0.1 .. 6.4 bpp, log-linear
    test = [(bpp * (0.2 if bpp < 0.15 else 0.5 if bpp < 2.0 else 3.0), psnr) for bpp, psnr in anchor]
    rows = [{"image": "a", "codec": codec, "setting": f"s{i}", "bpp": bpp, "psnr": psnr, "ssim": 0.9,
             "width": 8, "height": 8}
            for codec, curve in (("jpeg", anchor), ("latent", test)) for i, (bpp, psnr) in enumerate(curve)]
    # Ends on test points whose neighbours are on the half-rate line too: pchip is linear there.
    ranged = summarize(rows, bd_range=parse_rate_range("0.2,0.4"))
    full = summarize(rows)
    assert ranged["images"]["a"]["bd_latent_vs"]["jpeg"]["bd_rate_percent"] == pytest.approx(-50.0, abs=1e-6)
    assert abs(full["images"]["a"]["bd_latent_vs"]["jpeg"]["bd_rate_percent"] + 50.0) > 5.0
    assert parse_rate_range(None) is None
    for bad in ("0.4,0.2", "0,1", "x"):
        with pytest.raises(sirencodec.InputError):
            parse_rate_range(bad)


def test_thesis_grids_make_valid_siren_configs():
    """Every point of the full AGP and QAT grids is a FitConfig the SIREN codec trains: the
    overall rate met exactly, hidden layers pruned deeper more, first and output layers whole."""
    from sirencodec.bench.codecs import SirenCodec
    from sirencodec.format.siren_v3 import layer_shapes
    from sirencodec.siren.fit import agp_schedule, prune_targets

    codec = SirenCodec(preset="default", device="cpu")
    for name in ("agp", "qat"):
        for point in get_sweep(name, False).settings["siren"]:
            config = codec.config(point)
            shapes = layer_shapes(config.hidden_width, config.hidden_layers, 1)
            pruned = prune_targets(config, shapes)
            total = sum(o * i for o, i in shapes)
            assert sum(pruned) == round(point["prune"] * total)
            rates = [p / (o * i) for p, (o, i) in zip(pruned, shapes)]
            assert rates[0] == rates[-1] == 0 and rates[1] < min(rates[2:5]) <= max(rates[2:5]) < rates[5]
            if name == "agp":
                t0, n, dt = agp_schedule(config)
                assert dt == point["agp_dt"] and t0 + n * dt <= config.prune_steps
            else:
                assert config.range_update_every == point["range_update_every"] and config.qat_lr == point["qat_lr"]


def test_every_tunable_latent_field_is_a_bench_setting():
    """srnbench --settings takes every field srnenc's API lets a caller set."""
    from sirencodec.bench.codecs import LATENT_SETTINGS
    from sirencodec.latent.config import TUNABLE

    assert set(TUNABLE) <= set(LATENT_SETTINGS)
