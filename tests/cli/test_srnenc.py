"""srnenc end to end (tiny images, the 'test' preset) and its input handling."""

import io
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import sirencodec
from sirencodec.cli import srndec, srnenc, srninfo
from sirencodec.metrics import psnr


def run(cmd, args, **kw):
    return CliRunner().invoke(cmd, [str(a) for a in args], **kw)


def smooth_image(h, w, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    planes = [127 + 100 * np.sin(x / (2 + c) + rng.uniform(0, 3)) * np.cos(y / 3 + c) for c in range(channels)]
    img = np.clip(np.stack(planes, -1), 0, 255).astype(np.uint8)
    return img[..., 0] if channels == 1 else img


@pytest.mark.parametrize("h, w, channels", [(12, 16, 1), (16, 16, 3)])
def test_encode_decode_report_matches_real_file(tmp_path, h, w, channels):
    src = tmp_path / "in.png"
    img = smooth_image(h, w, channels)
    Image.fromarray(img).save(src)
    out = tmp_path / "out.srn"
    r = run(srnenc, [src, "-o", out, "--preset", "test", "--bits", "7", "--prune", "0.3", "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    size = out.stat().st_size
    assert report["bytes"] == size and report["bpp"] == 8 * size / (h * w)

    png = tmp_path / "dec.png"
    assert run(srndec, [out, "-o", png]).exit_code == 0
    decoded = np.asarray(Image.open(png))
    assert decoded.shape == img.shape
    assert report["psnr"] == pytest.approx(psnr(img, decoded), abs=1e-9)

    info = json.loads(run(srninfo, [out, "--json"]).output)
    assert [ly["bits"] for ly in info["layers"]] == [7] * len(info["layers"])
    assert info["pruned"] == round(0.3 * info["weights"])
    assert info["bpp"] == report["bpp"]


def test_same_seed_same_bytes(tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(smooth_image(9, 11)).save(src)
    outs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.srn"
        assert run(srnenc, [src, "-o", out, "--preset", "test", "--seed", "3", "-q"]).exit_code == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    out = tmp_path / "c.srn"
    assert run(srnenc, [src, "-o", out, "--preset", "test", "--seed", "4", "-q"]).exit_code == 0
    assert out.read_bytes() != outs[0]


def test_one_pixel_image(tmp_path):
    src = tmp_path / "one.png"
    Image.fromarray(np.array([[200]], dtype=np.uint8)).save(src)
    out = tmp_path / "one.srn"
    assert run(srnenc, [src, "-o", out, "--preset", "test", "-q"]).exit_code == 0
    assert sirencodec.decode(out.read_bytes()).shape == (1, 1)


@pytest.mark.parametrize("mode, warning, shape", [
    ("RGBA", "alpha channel dropped", (10, 12, 3)),
    ("LA", "alpha channel dropped", (10, 12)),
    ("P", None, (10, 12, 3)),
    ("I;16", "16-bit", (10, 12)),
    ("L", None, (10, 12)),
])
def test_image_modes(tmp_path, mode, warning, shape):
    rgb = smooth_image(10, 12, 3)
    if mode == "I;16":
        img = Image.fromarray((rgb[..., 0].astype(np.uint16) * 257))
    elif mode == "P":
        img = Image.fromarray(rgb).convert("P")
    else:
        img = Image.fromarray(rgb).convert(mode)
    src = tmp_path / "in.png"
    img.save(src)
    out = tmp_path / "o.srn"
    r = CliRunner().invoke(srnenc, [str(src), "-o", str(out), "--preset", "test", "-q"])
    assert r.exit_code == 0, r.output
    if warning:
        assert f"srnenc: warning: {warning}" in r.stderr
    else:
        assert "warning" not in r.stderr
    assert sirencodec.decode(out.read_bytes()).shape == shape


def test_exif_orientation_applied(tmp_path):
    img = Image.fromarray(smooth_image(6, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    src = tmp_path / "rot.jpg"
    img.save(src, exif=exif.tobytes())
    out = tmp_path / "o.srn"
    assert run(srnenc, [src, "-o", out, "--preset", "test", "-q"]).exit_code == 0
    assert sirencodec.decode(out.read_bytes()).shape == (10, 6)


def _png_bytes(h=8, w=8):
    buf = io.BytesIO()
    Image.fromarray(smooth_image(h, w)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"this is not an image", "cannot read image"),
    (_png_bytes(32, 32)[:60], "cannot read image"),
])
def test_bad_images_one_line_exit_2_no_output(tmp_path, content, message):
    src = tmp_path / "bad.png"
    src.write_bytes(content)
    out = tmp_path / "o.srn"
    r = run(srnenc, [src, "-o", out, "--preset", "test"])
    assert r.exit_code == 2
    assert r.output.startswith("srnenc: error: ") and message in r.output and r.output.count("\n") == 1
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.png"]


def test_missing_file_and_bad_options(tmp_path):
    r = run(srnenc, [tmp_path / "none.png", "-o", tmp_path / "o.srn"])
    assert r.exit_code == 2 and "no such image" in r.output
    src = tmp_path / "in.png"
    src.write_bytes(_png_bytes())
    for args, text in ((["--bits", "1"], "--bits"), (["--prune", "1.5"], "--prune"),
                       (["--preset", "nope"], "--preset"), (["--layer-prune", "a,b"], "--layer-prune")):
        r = run(srnenc, [src, "-o", tmp_path / "o.srn", "--preset", "test", *args] if args[0] != "--preset"
                else [src, "-o", tmp_path / "o.srn", *args])
        assert r.exit_code == 2 and text in r.output and r.output.count("\n") == 1, r.output
    assert not (tmp_path / "o.srn").exists()


def test_cuda_requested_without_gpu(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    src = tmp_path / "in.png"
    src.write_bytes(_png_bytes())
    r = run(srnenc, [src, "-o", tmp_path / "o.srn", "--preset", "test", "--device", "cuda"])
    assert r.exit_code == 2 and "CUDA" in r.output


def test_interrupt_leaves_no_file(tmp_path, monkeypatch):
    import sirencodec.siren.fit as fit

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(fit, "fit_network", interrupted)
    src = tmp_path / "in.png"
    src.write_bytes(_png_bytes())
    out = tmp_path / "o.srn"
    r = run(srnenc, [src, "-o", out, "--preset", "test"])
    assert r.exit_code == 130 and "interrupted" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_stdin_to_stdout(tmp_path):
    r = CliRunner().invoke(srnenc, ["-", "-o", "-", "--preset", "test", "--json"], input=_png_bytes())
    assert r.exit_code == 0
    data = r.stdout_bytes
    assert data[:3] == b"SRN"
    assert json.loads(r.stderr)["bytes"] == len(data)


def test_quant_noise_reaches_the_encoder(tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(smooth_image(12, 16, 1)).save(src)
    sizes = {}
    for share, expected in (("0.5", 0.5), ("0.001", 0.001), ("0", None)):
        out = tmp_path / f"{share}.srn"
        r = run(srnenc, [src, "-o", out, "--preset", "test", "--width", "10", "--depth", "3",
                         "--bit-allocation", "--quant-noise", share, "--json"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["config"]["quant_noise"] == expected
        sizes[share] = out.stat().st_size
    assert sizes["0.001"] > sizes["0.5"]  # less noise allowed: finer steps, more bytes
    r = run(srnenc, [src, "-o", tmp_path / "bad.srn", "--quant-noise", "-1"])
    assert r.exit_code == 2 and not (tmp_path / "bad.srn").exists()


def test_report_gives_the_learning_rate_trained_with(tmp_path):
    from sirencodec.siren.config import default_lr

    src = tmp_path / "in.png"
    Image.fromarray(smooth_image(12, 16, 1)).save(src)
    small = ["--preset", "default", "--width", "10", "--depth", "2", "--fit-steps", "20", "--prune-steps", "10",
             "--qat-steps", "5", "--json"]
    for extra, expected in (([], default_lr(10)), (["--lr", "0.0005"], 0.0005)):
        r = run(srnenc, [src, "-o", tmp_path / "o.srn", *small, *extra])
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["config"]["lr"] == expected


def test_bit_allocation_switch_reaches_the_encoder(tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(smooth_image(12, 16, 1)).save(src)
    for flag, expected in (("--bit-allocation", True), ("--no-bit-allocation", False)):
        out = tmp_path / f"{expected}.srn"
        r = run(srnenc, [src, "-o", out, "--preset", "test", "--width", "10", "--depth", "3", flag, "--json"])
        assert r.exit_code == 0, r.output
        report = json.loads(r.output)
        assert report["config"]["allocate_bits"] is expected
        bits = {ly["bits"] for ly in report["layers"]}
        assert (len(bits) > 1) is expected, bits  # allocation moved precision; off keeps --bits


def test_several_images_to_a_directory(tmp_path):
    """srnenc a b c -o DIR/: DIR/NAME.srn each, one JSON report per line; the two 16 x 16 images
    train in one batch."""
    names = ["a.png", "b.bmp", "c.png"]
    for name, (h, w, seed) in zip(names, [(16, 16, 0), (16, 16, 1), (12, 16, 2)]):
        Image.fromarray(smooth_image(h, w, seed=seed)).save(tmp_path / name)
    out = tmp_path / "out" / "nested"
    r = run(srnenc, [*(tmp_path / n for n in names), "-o", f"{out}/", "--lam", "0.002", "--latent-steps", "30",
                     "--device", "cpu", "--json"])
    assert r.exit_code == 0, r.output
    reports = [json.loads(line) for line in r.output.splitlines()]
    assert [rep["file"] for rep in reports] == [str(out / f"{n.split('.')[0]}.srn") for n in names]
    assert [rep["batch"] for rep in reports] == [2, 2, 1]
    for name, rep in zip(names, reports):
        data = (out / f"{name.split('.')[0]}.srn").read_bytes()
        assert len(data) == rep["bytes"]
        assert psnr(np.asarray(Image.open(tmp_path / name)), sirencodec.decode(data)) == pytest.approx(rep["psnr"])
    # one image and -o naming a directory: NAME.srn inside it
    r = run(srnenc, [tmp_path / "c.png", "-o", out, "--lam", "0.002", "--latent-steps", "5", "--device", "cpu", "-q"])
    assert r.exit_code == 0 and (out / "c.srn").is_file()


@pytest.mark.parametrize("args, message", [
    (["a.png", "sub/a.png", "-o", "out/"], "both be written as a.srn"),
    (["a.png", "-", "-o", "out/"], "stdin ('-') can be encoded on its own only"),
    (["a.png", "c.png", "-o", "-"], "cannot go to stdout"),
    (["-", "-o", "."], "stdin ('-') is encoded on its own, to -o FILE"),
    (["a.png", "c.png", "-o", "a.png"], "is not a directory"),
    (["a.png", "c.png", "-o", "out/", "--batch", "0"], "Invalid value for '--batch'"),
])
def test_several_images_bad_outputs(tmp_path, monkeypatch, args, message):
    """Refused before any training, one line, exit 2, nothing written."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    for name in ("a.png", "sub/a.png", "c.png"):
        Image.fromarray(smooth_image(8, 8)).save(tmp_path / name)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    r = run(srnenc, [*args, "--lam", "0.002", "--latent-steps", "5000", "--device", "cpu"])
    assert r.exit_code == 2 and message in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
