"""The latent-grid encoder (latent.encode.encode_latent, srnenc --latent) on tiny images, few steps:
the report comes from the real file, the rate weight steers the rate, bad input is refused."""

import dataclasses
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import sirencodec
from sirencodec.cli import srndec, srnenc, srninfo
from sirencodec.latent.encode import encode_latent
from sirencodec.errors import InputError
from sirencodec.latent.config import LatentConfig
from sirencodec.metrics import psnr


STEPS = 400  # a 32 x 24 image reaches ~29 dB (its mean alone: 17 dB)


def photo(h=24, w=32):
    y, x = np.mgrid[0:h, 0:w]
    img = 128 + 60 * np.sin(x / 3.0) * np.cos(y / 4.0) + 40 * (x > w // 2)
    return np.clip(img, 0, 255).astype(np.uint8)


def run(cmd, args, **kw):
    return CliRunner().invoke(cmd, [str(a) for a in args], **kw)


@pytest.fixture(scope="module")
def encoded():
    return {lam: encode_latent(photo(), LatentConfig(lam=lam, steps=STEPS), device="cpu") for lam in (2e-4, 2e-2)}


def test_report_is_measured_on_the_real_file(encoded):
    result = encoded[2e-4]
    decoded = sirencodec.decode(result.data)
    assert np.array_equal(decoded, result.decoded)
    assert result.report["bytes"] == len(result.data) and result.data[3] == 6  # learned upsampling: version 6
    assert result.report["psnr"] == pytest.approx(psnr(photo(), decoded), abs=1e-9)
    flat = np.full_like(photo(), int(round(photo().mean())))
    assert result.report["psnr"] > psnr(photo(), flat) + 6  # it learned the image, not its mean


def test_larger_rate_weight_gives_a_smaller_file(encoded):
    assert len(encoded[2e-2].data) < len(encoded[2e-4].data)
    assert encoded[2e-2].report["psnr"] < encoded[2e-4].report["psnr"]


def test_same_seed_same_file(encoded):
    again = encode_latent(photo(), LatentConfig(lam=2e-4, steps=STEPS), device="cpu")
    assert again.data == encoded[2e-4].data


def test_encoder_refuses_what_it_cannot_encode():
    with pytest.raises(InputError, match="1 or 3 channels"):
        encode_latent(np.zeros((8, 8, 2), np.uint8), LatentConfig(steps=1))
    with pytest.raises(InputError):
        encode_latent(np.zeros((8, 8), np.float32), LatentConfig(steps=1))


def test_cli_latent_round_trip(tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(photo()).save(src)
    out = tmp_path / "out.srn"
    r = run(srnenc, [src, "-o", out, "--latent", "--latent-steps", "60", "--lam", "0.002", "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["bytes"] == out.stat().st_size and report["config"]["lam"] == 0.002
    png = tmp_path / "dec.png"
    assert run(srndec, [out, "-o", png]).exit_code == 0
    assert report["psnr"] == pytest.approx(psnr(photo(), np.asarray(Image.open(png))), abs=1e-9)
    info = run(srninfo, [out])
    # the default network's learned upsampling filters make it a version 6 file (format_spec.md section 10)
    assert info.exit_code == 0 and "latent grids" in info.output and "format version 6" in info.output


@pytest.mark.parametrize("args, message", [
    (["--latent", "--width", "20"], "--width set a SIREN"),
    (["--preset", "test", "--lam", "0.01"], "--lam applies to the latent network"),
    (["--preset", "test", "--effort", "max"], "--effort applies to the latent network"),
    (["--effort", "slow"], "'slow' is not one of"),
    (["--latent", "--lam", "0"], "x>0"),
])
def test_cli_latent_refuses_bad_options(tmp_path, args, message):
    src = tmp_path / "in.png"
    Image.fromarray(photo()).save(src)
    out = tmp_path / "out.srn"
    r = run(srnenc, [src, "-o", out, *args])
    assert r.exit_code == 2 and message in r.output
    assert not out.exists()


def test_cli_default_steps_are_the_configs():
    """srnenc without --latent-steps trains LatentConfig's steps, and its help says how many."""
    from sirencodec.encoder import plan

    assert plan().config.steps == LatentConfig().steps == plan(latent_steps=None).config.steps
    assert plan(latent_steps=7).config.steps == 7
    assert f"(default {LatentConfig().steps})" in " ".join(CliRunner().invoke(srnenc, ["--help"]).output.split())


def test_context_index_gathers_the_causal_neighbours():
    """The training ARM's one index_select reads, for every latent, the neighbours arm.OFFSETS
    name (zero outside the grid), grid after grid: the same contexts the coder uses."""
    import torch
    from sirencodec.format import arm as sarm
    from sirencodec.latent.model import context_index
    rng = np.random.default_rng(0)
    shapes = [(5, 7), (3, 4), (1, 1)]
    grids = [rng.integers(-9, 10, s) for s in shapes]
    flat = torch.cat([torch.nn.functional.pad(torch.from_numpy(g), (3, 3, 3, 0)).reshape(-1) for g in grids])
    got = flat.index_select(0, context_index(shapes, 12)).reshape(12, -1).numpy()
    want = []
    for g in grids:
        h, w = g.shape
        for r in range(h):
            for c in range(w):
                want.append([g[r + dy, c + dx] if 0 <= r + dy < h and 0 <= c + dx < w else 0
                             for dy, dx in sarm.OFFSETS[:12]])
    assert np.array_equal(got.T, np.array(want))


def test_context_index_gathers_the_channel_inputs():
    """With channel inputs, the rows after the neighbours hold each latent's co-located latent in
    the j-th nearest grid before it at its level, 0 where there is none (format_spec.md section 10)."""
    import torch
    from sirencodec.format import arm as sarm
    from sirencodec.latent.model import context_index
    rng = np.random.default_rng(1)
    levels = (0, 1, 1, 1, 2)
    shapes = [(6, 7), (3, 4), (3, 4), (3, 4), (2, 2)]
    grids = [rng.integers(-9, 10, s) for s in shapes]
    flat = torch.cat([torch.nn.functional.pad(torch.from_numpy(g), (3, 3, 3, 0)).reshape(-1) for g in grids])
    got = flat.index_select(0, context_index(shapes, 4, sarm.channel_sources(levels, 2))).reshape(6, -1).numpy()
    before = {0: [], 1: [], 2: [1], 3: [2, 1], 4: []}  # grid: the grids before it at its level, nearest first
    want = []
    for i, g in enumerate(grids):
        for r in range(g.shape[0]):
            for c in range(g.shape[1]):
                want.append([grids[before[i][j]][r, c] if j < len(before[i]) else 0 for j in range(2)])
    assert np.array_equal(got[4:].T, np.array(want))


def test_effort_levels_and_their_order():
    """--effort picks a level of latent.config.EFFORTS; fast trains less than default, max more;
    --latent-steps and --seed still replace the level's own."""
    from sirencodec.encoder import plan
    from sirencodec.latent.config import EFFORTS

    assert plan().config == EFFORTS["default"] == plan(effort="default").config
    default, fast, best = EFFORTS["default"], plan(effort="fast").config, plan(effort="max").config
    assert fast.steps < default.steps and best != default
    # max trains at least as long, a network at least as large, as the default
    assert best.steps >= default.steps and best.context >= default.context
    assert sum(best.arm_hidden) >= sum(default.arm_hidden) and sum(best.hidden) >= sum(default.hidden)
    # max is the default network trained longer: it decodes as fast as the default
    assert dataclasses.replace(best, steps=default.steps, hard_fraction=default.hard_fraction) == default
    # ... but no longer on rounded latents: that stage loses rate after a few hundred steps
    for level in (default, best):
        assert 400 <= round(level.steps * level.hard_fraction) <= 500
    assert plan(effort="max", latent_steps=9, seed=3).config == \
        dataclasses.replace(EFFORTS["max"], steps=9, seed=3)
    with pytest.raises(InputError, match="unknown effort"):
        plan(effort="slow")


@pytest.mark.parametrize("field, ok, bad", [
    # format_spec.md section 10: K 1..16, ARM hidden widths 1..32 (at most 4 layers), synthesis
    # hidden widths 1..64 (at most 4 layers).
    ("context", 16, 17), ("context", 1, 0), ("channel_context", 3, 4), ("channel_context", 0, -1),
    ("arm_hidden", (32, 32, 32), (33,)), ("arm_hidden", (), (8, 8, 8, 8)),
    ("hidden", (64, 64, 64), (65,)), ("hidden", (), (8, 8, 8, 8)),
    ("levels", 1, 0), ("steps", 1, 0), ("hard_fraction", 0.0, 1.0),
    # version 5: 1..32 grids in all; a level may hold none
    ("latent_channels", (0, 2, 1), (1, -1)), ("latent_channels", (4, 4, 4, 4, 4, 4, 8), (4, 4, 4, 4, 4, 4, 9)),
])
def test_latent_options_are_checked_against_the_format(field, ok, bad):
    from sirencodec.encoder import plan

    assert getattr(plan(latent_options={field: ok}).config, field) == ok
    with pytest.raises(InputError, match=field):
        plan(latent_options={field: bad})


def test_a_single_width_may_be_given_as_a_number():
    """hidden=20 is the one-layer (20,), as "20" and [20] are; a boolean is not a width."""
    from sirencodec.encoder import plan

    for value in (20, "20", [20], (20,)):
        assert plan(latent_options={"hidden": value}).config.hidden == (20,)
    assert plan(latent_options={"arm_hidden": 12}).config.arm_hidden == (12,)
    with pytest.raises(InputError, match="hidden"):
        plan(latent_options={"hidden": True})


def test_latent_channels_give_several_grids_per_level():
    """latent_channels=1/2 on a 20 x 16 image (levels 0..5: 16x20, 8x10, 4x5, 2x3, 1x2, 1x1): one
    grid at level 0, two at level 1, one at each level the option does not list; the file is
    version 5 and holds those grids; its PSNR is that of the decoded file."""
    result = sirencodec.encode(photo(16, 20), lam=0.01, latent_steps=30,
                               latent_options={"latent_channels": "1/2", "upsampling": "bicubic"})
    data = bytes(result.data)
    assert data[3] == 5
    net = sirencodec.unpack(data).network
    assert net.grid_levels == (0, 1, 1, 2, 3, 4, 5)
    assert [g.shape for g in net.grids] == [(16, 20), (8, 10), (8, 10), (4, 5), (2, 3), (1, 2), (1, 1)]
    assert net.synthesis[0].weight.shape[1] == 7  # one synthesis input per grid
    assert result.report["psnr"] == pytest.approx(psnr(photo(16, 20), sirencodec.decode(data)))
    with pytest.raises(InputError, match="no latent grid"):
        sirencodec.encode(photo(1, 1), lam=0.01, latent_steps=2, latent_options={"latent_channels": "0/1"})


def test_channel_context_reaches_the_file():
    """channel_context=1 with two grids at levels 1 and 2 trains an ARM with one more input and
    writes a version 7 file; with one grid per level that input is always 0, and the file is the
    version 6 one of an ARM without it. Bicubic upsampling cannot carry it."""
    image = photo(16, 20)
    result = sirencodec.encode(image, lam=0.01, latent_steps=30,
                               latent_options={"latent_channels": "1/2/2", "channel_context": 1})
    data = bytes(result.data)
    net = sirencodec.unpack(data).network
    context = LatentConfig().context  # the default network's causal neighbours
    assert (data[3], net.channel_context, net.context) == (7, 1, context)
    assert net.arm[0].weight.shape[1] == context + 1
    assert result.report["psnr"] == pytest.approx(psnr(image, sirencodec.decode(data)))
    alone = bytes(sirencodec.encode(image, lam=0.01, latent_steps=30, latent_options={"channel_context": 1}).data)
    net = sirencodec.unpack(alone).network
    assert (alone[3], net.channel_context, net.arm[0].weight.shape[1]) == (6, 0, context)
    with pytest.raises(InputError, match="channel_context"):
        sirencodec.encode(image, lam=0.01, latent_steps=2, latent_options={"channel_context": 1, "upsampling": "bicubic"})


def test_latent_options_reach_the_file():
    """A network set through latent_options is the one the file holds (its shape record)."""
    from sirencodec.format import latent_v4

    result = sirencodec.encode(photo(16, 20), lam=0.01, latent_steps=20,
                               latent_options={"context": 5, "arm_hidden": "6/4", "hidden": (12, 9)})
    net = latent_v4.unpack(bytes(result.data)).network
    shapes = [ly.weight.shape for ly, _ in latent_v4.latent_layers(net)]
    assert [s[0] for s in shapes] == [12, 9, 1, 1, 6, 4, 2]  # outputs: synthesis, conv, ARM
    assert shapes[4][1] == 5  # the ARM reads 5 neighbours
