"""The Python API: ``sirencodec.encode`` is srnenc (same defaults, same options, same bytes),
and the README's Python example runs as written."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import sirencodec
from sirencodec.cli import srnenc
from sirencodec.encoder import SIREN_OPTIONS, plan
from sirencodec.errors import InputError
from sirencodec.latent.config import LatentConfig
from sirencodec.ratecontrol import DEFAULT_QUALITY
from tests import ROOT


def _image(h=24, w=20):
    y, x = np.mgrid[0:h, 0:w]
    return (127 + 80 * np.sin(x / 3.0) * np.cos(y / 4.0)).astype(np.uint8)


def _srnenc(tmp_path, args) -> bytes:
    src, out = tmp_path / "in.png", tmp_path / "out.srn"
    Image.fromarray(_image()).save(src)
    r = CliRunner().invoke(srnenc, [str(src), "-o", str(out), "--quiet", "--device", "cpu", *args])
    assert r.exit_code == 0, r.output
    return out.read_bytes()


def test_encode_defaults_are_srnencs():
    """No options: the latent network at quality 5 and LatentConfig's steps, as srnenc."""
    encoding = plan()
    assert (encoding.network, encoding.mode, encoding.value) == ("latent", "quality", DEFAULT_QUALITY)
    assert encoding.config == LatentConfig()


@pytest.mark.parametrize("args, options", [
    (["--quality", "3", "--latent-steps", "40"], dict(quality=3, latent_steps=40)),
    (["--lam", "0.004", "--latent-steps", "30", "--seed", "2"], dict(lam=0.004, latent_steps=30, seed=2)),
    (["--preset", "test", "--bits", "9", "--prune", "0.3", "--seed", "1"], dict(preset="test", bits=9, prune=0.3,
                                                                               seed=1)),
])
def test_encode_writes_the_file_srnenc_writes(tmp_path, args, options):
    data = _srnenc(tmp_path, args)
    result = sirencodec.encode(_image(), device="cpu", **options)
    assert result.data == data
    assert np.array_equal(result.decoded, sirencodec.decode(data))
    assert result.report["kind"] == ("siren" if "preset" in options else "latent")
    assert data[3] == (3 if "preset" in options else 6)  # SIREN: 3; latent grids, learned filters: 6


def test_every_siren_option_of_srnenc_is_a_keyword():
    """srnenc's options and encode()'s keywords are one list (click's names are the keywords)."""
    names = {p.name for p in srnenc.params}
    assert set(SIREN_OPTIONS) <= names
    assert names - set(SIREN_OPTIONS) == {"sources", "dst", "batch", "quality", "target_bpp", "target_psnr", "preset", "seed",
                                         "network", "latent", "lam", "effort", "latent_steps", "device", "quiet", "as_json"}


def test_encode_takes_a_path_and_reports_what_it_changed(tmp_path):
    rgba = np.dstack([_image(), _image(), _image(), np.full((24, 20), 200, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    result = sirencodec.encode(tmp_path / "a.png", lam=0.01, latent_steps=20, device="cpu")
    assert result.decoded.shape == (24, 20, 3) and result.report["warnings"] == ["alpha channel dropped"]


def test_bad_options_are_refused_before_any_work():
    with pytest.raises(TypeError, match="wdith"):
        plan(wdith=3)
    for bad in (dict(network="jpeg"), dict(network="latent", bits=8), dict(network="siren", lam=0.01),
                dict(quality=3, target_bpp=1.0), dict(target_psnr=30, width=20), dict(preset="huge"),
                dict(network="siren", bias_bits=1), dict(network="siren", layer_prune="a,b")):
        with pytest.raises(InputError):
            plan(**bad)
    with pytest.raises(InputError):
        sirencodec.encode(np.zeros((4, 4, 2), np.uint8), latent_steps=5)


def test_readme_python_example_runs(tmp_path):
    """Every ```python block of the README, run in order in a fresh interpreter."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks, "the README has a Python example"
    (tmp_path / "sample_images").symlink_to(ROOT / "sample_images")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", "\n".join(blocks)], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr


def test_readme_results_tables_are_what_their_commands_print(capsys):
    """Each of the README's results tables (gray crops, Kodak) is the output of the command
    it names, over the recorded runs."""
    from sirencodec.bench import compare

    readme = (ROOT / "README.md").read_text()
    commands = [m.group(1).split() for m in re.finditer(r"benchmarks/compare_runs\.py (--table [^\n]+)", readme)]
    assert len(commands) >= 2
    old = os.getcwd()
    os.chdir(ROOT)
    try:
        for command in commands:
            assert compare.main(command) == 0
            assert capsys.readouterr().out.strip() in readme
    finally:
        os.chdir(old)


def test_encode_many_batches_networks_of_one_shape(tmp_path):
    """encode_many: results in input order, each a real file; the two 24 x 20 images train in
    one batch, the 16 x 20 one alone; rate control encodes image after image."""
    a, b, c = _image(), _image()[::-1].copy(), _image(16, 20)
    path = tmp_path / "b.png"
    Image.fromarray(b).save(path)
    results = sirencodec.encode_many([a, path, c], lam=2e-3, latent_steps=40, device="cpu")
    assert [r.report["batch"] for r in results] == [2, 2, 1]
    assert [r.decoded.shape for r in results] == [a.shape, b.shape, c.shape]
    for image, result in zip((a, b, c), results):
        assert np.array_equal(sirencodec.decode(result.data), result.decoded)
        alone = sirencodec.encode(image, lam=2e-3, latent_steps=40, device="cpu")
        assert abs(len(result.data) / len(alone.data) - 1) <= 0.03
        assert abs(result.report["psnr"] - alone.report["psnr"]) <= 0.1
    assert sirencodec.encode_many([a], lam=2e-3, latent_steps=40, device="cpu", batch=1)[0].report["batch"] == 1
    with pytest.raises(InputError, match="batch"):
        sirencodec.encode_many([a], lam=2e-3, batch=0)
    seen = []
    controlled = sirencodec.plan(target_bpp=8.0, latent_steps=40, device="cpu").run_many(
        [a, c], on_result=lambda i, r: seen.append(i))
    assert seen == [0, 1] and all("batch" not in r.report for r in controlled)
    assert all(8 * len(r.data) <= 8.0 * r.decoded.size for r in controlled)
