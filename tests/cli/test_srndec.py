"""srndec and srninfo, in-process through click's CliRunner."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import sirencodec
from sirencodec.cli import srndec, srninfo
from tests import GOLDEN
from tests.netgen import random_network


@pytest.fixture
def srn(tmp_path) -> Path:
    net = random_network(np.random.default_rng(5), width=19, height=11, channels=3, hidden_width=8,
                         hidden_layers=2, bits=9, sparsity=0.25, distribution="laplace")
    path = tmp_path / "x.srn"
    path.write_bytes(sirencodec.pack(net))
    return path


def run(cmd, args, **kw):
    return CliRunner().invoke(cmd, [str(a) for a in args], **kw)


def test_srndec_writes_png_equal_to_decode(srn, tmp_path):
    out = tmp_path / "x.png"
    r = run(srndec, [srn, "-o", out])
    assert r.exit_code == 0, r.output
    assert np.array_equal(np.asarray(Image.open(out)), sirencodec.decode(srn.read_bytes()))


@pytest.mark.parametrize("ext", [".bmp", ".tif", ".webp"])
def test_srndec_other_formats_by_extension(srn, tmp_path, ext):
    out = tmp_path / f"x{ext}"
    assert run(srndec, [srn, "-o", out]).exit_code == 0
    assert Image.open(out).size == (19, 11)


def test_srndec_stdin_stdout(srn):
    r = run(srndec, ["-", "-o", "-"], input=srn.read_bytes())
    assert r.exit_code == 0
    img = Image.open(__import__("io").BytesIO(r.stdout_bytes))
    assert img.format == "PNG" and img.size == (19, 11)


def test_srndec_size_and_scale(srn, tmp_path):
    out = tmp_path / "big.png"
    assert run(srndec, [srn, "-o", out, "--size", "40x30"]).exit_code == 0
    assert Image.open(out).size == (40, 30)
    assert run(srndec, [srn, "-o", out, "--scale", "0.5"]).exit_code == 0
    assert Image.open(out).size == (10, 6)


def test_render_at_double_size_samples_same_function():
    """A 2x render's pixel centres interleave the original grid: the smooth image agrees."""
    data = (GOLDEN / "wide_gray.srn").read_bytes()
    base = sirencodec.decode(data).astype(int)
    big = sirencodec.decode(data, scale=3).astype(int)  # 3x: every 3rd centre (offset 1) coincides
    assert big.shape == (3, 69)
    assert np.abs(big[1, 1::3] - base[0]).max() <= 1


@pytest.mark.parametrize("bad", [b"", b"hello world", b"SRN\x07" + bytes(40)])
def test_srndec_bad_input_one_line_exit_2_no_output(tmp_path, bad):
    src = tmp_path / "bad.srn"
    src.write_bytes(bad)
    out = tmp_path / "out.png"
    r = run(srndec, [src, "-o", out])
    assert r.exit_code == 2
    assert r.output.startswith("srndec: error: ") and r.output.count("\n") == 1
    assert "Traceback" not in r.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [src]  # no temporary file left behind either


def test_srndec_truncated_file_leaves_existing_output_untouched(srn, tmp_path):
    out = tmp_path / "keep.png"
    out.write_bytes(b"previous")
    src = tmp_path / "cut.srn"
    src.write_bytes(srn.read_bytes()[:-7])
    assert run(srndec, [src, "-o", out]).exit_code == 2
    assert out.read_bytes() == b"previous"


def test_srndec_missing_file_and_bad_options(srn, tmp_path):
    r = run(srndec, [tmp_path / "nope.srn", "-o", tmp_path / "o.png"])
    assert r.exit_code == 2 and "cannot read" in r.output
    r = run(srndec, [srn, "-o", tmp_path / "o.png", "--size", "big"])
    assert r.exit_code == 2 and "--size" in r.output
    r = run(srndec, [srn, "-o", tmp_path / "o.unknownext"])
    assert r.exit_code == 2 and "extension" in r.output
    r = run(srndec, [srn, "-o", tmp_path / "o.png", "--size", "30000x30000"])
    assert r.exit_code == 2 and "pixel cap" in r.output


def test_srninfo_breakdown_sums_to_file_size(srn):
    r = run(srninfo, [srn, "--json"])
    assert r.exit_code == 0
    info = json.loads(r.output)
    size = srn.stat().st_size
    assert info["total_bytes"] == size
    assert sum(info["bytes"].values()) == pytest.approx(size, abs=1e-6)
    assert info["bpp"] == 8 * size / (19 * 11)
    for layer in info["layers"]:
        assert layer["bits"] == 9
    assert sum(ly["pruned"] for ly in info["layers"]) == info["pruned"]
    per_layer = sum(sum(ly["bytes"].values()) for ly in info["layers"])
    # Per-layer bytes plus the fixed header, payload length field and CRC make the file.
    assert round(size - 16 - 4 - per_layer, 6) in (1, 2)  # the varint payload length


def test_srninfo_text(srn):
    r = run(srninfo, [srn])
    assert r.exit_code == 0
    assert "19x11 RGB" in r.output and "bpp" in r.output and "total" in r.output


def test_srninfo_marks_seeded_residuals():
    r = run(srninfo, [GOLDEN / "tiny_seeded.srn"])
    assert r.exit_code == 0 and "format version 3" in r.output
    assert "uniform*" in r.output and "q14*" in r.output and "seeded values" in r.output
    info = json.loads(run(srninfo, [GOLDEN / "tiny_seeded.srn", "--json"]).output)
    assert [ly["seeded_residual"] for ly in info["layers"]] == [True, False, False]
    assert [ly["bias_seeded_residual"] for ly in info["layers"]] == [True, True, False]
    r = run(srninfo, [GOLDEN / "tiny_gray.srn"])  # version 2: nothing seeded, no marks
    assert "*" not in r.output and "format version 2" in r.output


def test_srninfo_bad_file(tmp_path):
    src = tmp_path / "bad.srn"
    src.write_bytes(b"SRN\x01garbage")
    r = run(srninfo, [src])
    assert r.exit_code == 2 and r.output.startswith("srninfo: error:")


@pytest.mark.parametrize("golden", [None, "latent_gray.srn", "latent_rgb.srn"])
def test_decoding_does_not_import_torch(srn, tmp_path, golden):
    """Decoding, resampling and inspecting either kind of file stays numpy-only."""
    import subprocess
    import sys

    path = srn if golden is None else GOLDEN / golden
    code = ("import sys, sirencodec; from sirencodec.cli import srndec; "
            f"data = open({str(path)!r}, 'rb').read(); sirencodec.decode(data); "
            "sirencodec.decode(data, scale=1.5); sirencodec.inspect(data); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("golden", ["latent_gray.srn", "latent_rgb.srn"])
def test_latent_files_decode_the_same_without_the_compiled_decoder(tmp_path, golden):
    """Where the C extension was not built (no compiler, or a checkout used without installing
    it), a latent file still decodes, to the same pixels, through the numpy decoder."""
    import subprocess
    import sys

    path = GOLDEN / golden
    code = ("import sys; sys.modules['sirencodec.format._wavefront'] = None; import numpy as np, sirencodec; "
            f"pixels = sirencodec.decode(open({str(path)!r}, 'rb').read()); "
            f"np.save({str(tmp_path / 'p.npy')!r}, pixels); "
            "print(sys.modules['sirencodec.format._wavefront'] is None and 'sirencodec.format.wavefront' not in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
    expected = sirencodec.decode(path.read_bytes())
    assert np.array_equal(np.load(tmp_path / "p.npy"), expected)
