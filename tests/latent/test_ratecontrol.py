"""Rate control of latent-grid networks (sirencodec.latent.ratecontrol) and srnenc's choice of network:
real files, small images, few training steps."""

import dataclasses
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from sirencodec.latent import ratecontrol as lr
from sirencodec.format import pack_latent
from sirencodec.cli import srnenc
from sirencodec.decoder import decode
from sirencodec.errors import InputError
from sirencodec.latent.config import LatentConfig
from sirencodec.latent.export import choose_bits
from sirencodec.latent.fit import fit_latent
from sirencodec.latent.synthesis import render_network
from sirencodec.metrics import psnr
from sirencodec.ratecontrol import DEFAULT_QUALITY
from tests import ROOT

SAMPLES = ROOT / "sample_images"


def crop(n=96):
    """An n x n crop of the bundled cameraman: real texture, small enough for tests."""
    return np.asarray(Image.open(SAMPLES / "cameraman256.png").convert("L"))[64:64 + n, 64:64 + n].copy()


def tiny(h=24, w=32):
    y, x = np.mgrid[0:h, 0:w]
    return np.clip(128 + 60 * np.sin(x / 3.0) * np.cos(y / 4.0) + 40 * (x > w // 2), 0, 255).astype(np.uint8)


# Rate control's mechanics on small crops in a few hundred steps: the narrower network of
# --effort fast (synthesis 16, 8 neighbours), Keys' filters and a 10 % hard stage, whose short
# trainings follow lam closely; the default network's width, learned filters and 456-step hard
# stage are tuned for its full 12,000 steps (docs/results/levers/README.md).
QUICK = LatentConfig(steps=500, hard_fraction=0.1, upsampling="bicubic", context=8, hidden=(16,))


def test_quality_levels_are_monotone_in_bytes_and_psnr():
    results = [lr.encode_quality(tiny(), q, dataclasses.replace(QUICK, steps=400), "cpu") for q in (1, 4, 8)]
    sizes = [len(r.data) for r in results]
    quality = [r.report["psnr"] for r in results]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3, sizes
    assert quality == sorted(quality), quality
    assert [r.report["quality"] for r in results] == [1, 4, 8]
    assert [r.report["lam"] for r in results] == [lr.QUALITY_LAMS[0], lr.QUALITY_LAMS[3], lr.QUALITY_LAMS[7]]


def test_quality_ladder_halves_lam():
    assert all(b == a / 2 for a, b in zip(lr.QUALITY_LAMS, lr.QUALITY_LAMS[1:]))
    with pytest.raises(InputError, match="quality"):
        lr.quality_lam(0)


@pytest.mark.parametrize("bpp", [0.55, 0.7])
def test_target_bpp_lands_in_the_band_and_never_above(bpp):
    image = crop()
    result = lr.encode_target_bpp(image, bpp, QUICK, "cpu")
    budget = math.floor(bpp * 96 * 96 / 8)  # the budget's definition, not the code's byte_budget
    assert result.report["budget_bytes"] == budget
    assert (1 - lr.TARGET_TOLERANCE) * budget <= len(result.data) <= budget, result.report["search"]
    search = result.report["search"]
    for entry, after in zip(search, search[1:]):  # a trained file over the budget is not refined: that adds bytes
        if entry["stage"] == "trained" and entry["bytes"] > budget:
            assert after["stage"] != "refine", search
    assert result.report["bytes"] == len(result.data)
    assert result.report["psnr"] == pytest.approx(psnr(image, decode(result.data)), abs=1e-9)


def test_target_bpp_trains_again_at_a_higher_lam_while_every_file_is_over_the_budget(monkeypatch):
    """When no trained file fits, even coarsened, --target-bpp trains again at a lam above the
    one that was too rich, three trainings in all, then gives up with an error. Every training
    here returns one rich network (far above the budget, which is just above an empty file's)."""
    image = tiny()
    rich = fit_latent(image, dataclasses.replace(QUICK, steps=60, lam=1e-6))

    def train(img, cfg, device=None, progress=None, control=None):
        fitted = dataclasses.replace(rich, lam=cfg.lam)
        if control is not None:
            control(fitted, cfg.lam, 0)  # the first control point: it may restart the training
        return fitted

    logs = []
    run_init = lr._Run.__init__

    def logged(self, *args, **kwargs):
        run_init(self, *args, **kwargs)
        logs.append(self.log)

    monkeypatch.setattr(lr, "fit_latent", train)
    monkeypatch.setattr(lr._Run, "__init__", logged)
    with pytest.raises(InputError, match="no latent network found within 110 bytes"):
        lr.encode_target_bpp(image, 1.15, QUICK, "cpu")  # floor(1.15 * 24 * 32 / 8) = 110 bytes
    stages = [(entry["stage"], entry["lam"]) for entry in logs[0] if entry["stage"] in ("trained", "retrain")]
    assert [stage for stage, _ in stages] == ["trained", "retrain"] * 3, logs[0]  # the last: none left
    assert all(stages[k + 1][1] > stages[k][1] for k in (0, 2, 4)), stages  # each retrain richer in lam


def test_a_retrain_after_files_over_the_budget_never_lowers_lam():
    """Starts whose bytes rose with lam (noise at the first control point) point the secant
    below the lam whose trained file was too large; the retrain takes at least the lam that
    file's bytes call for at the typical slope, bytes ~ lam ** -RATE_SLOPE, aiming at AIM x budget."""
    starts = [(1e-3, 300), (2e-3, 320)]
    secant = lr._secant_lam(starts, 280, lr.RATE_SLOPE, lr.START_SLOPE_RANGE, 2e-3, lr.START_REACH)
    assert secant < 2e-3  # the case in point
    wanted = 2e-3 * (700 / (lr.AIM * 600)) ** (1 / lr.RATE_SLOPE)
    assert lr._retrain_lam(starts, 280, 2e-3, 700, 600) == pytest.approx(wanted, rel=1e-12)
    assert lr._retrain_lam(starts, 280, 2e-3, 700, 600) > 2e-3


@pytest.fixture(scope="module")
def fitted():
    image = crop(64)
    fit = fit_latent(image, LatentConfig(steps=200, lam=1e-3, hard_fraction=0.04))  # (an 8-step hard stage)
    return image, fit, choose_bits(fit, image, fit.lam, pack_latent)


def test_fit_budget_and_fill_budget_move_the_real_file(fitted):
    image, fit, chosen = fitted
    quick, real = lr.quick_pack(chosen[1]), pack_latent(chosen[1])
    assert len(real) <= len(quick) <= len(real) + 3 and np.array_equal(decode(quick), decode(real))
    size = len(chosen[2])
    smaller = lr.fit_budget(fit, image, size - 40, chosen, max_loss_db=math.inf)
    assert smaller is not None and len(smaller[2]) <= size - 40
    assert len(pack_latent(smaller[1])) == len(smaller[2])
    assert lr.fit_budget(fit, image, 10, chosen, max_loss_db=math.inf) is None  # not even 2-bit layers fit 10 bytes
    # a cap on the PSNR it may cost: below what 40 bytes cost, it gives up; above, it fits
    before, after = psnr(image, render_network(chosen[1])), psnr(image, render_network(smaller[1]))
    assert before > after
    assert lr.fit_budget(fit, image, size - 40, chosen, max_loss_db=0.5 * (before - after)) is None
    assert lr.fit_budget(fit, image, size - 40, chosen, max_loss_db=before - after + 1e-6) is not None
    larger = lr.fill_budget(fit, image, size + 20, size + 60, chosen)
    assert size + 20 <= len(larger[2]) <= size + 60
    assert sum(larger[0]) > sum(chosen[0])


def test_target_psnr_reaches_the_target():
    image = crop()
    result = lr.encode_target_psnr(image, 22.0, QUICK, "cpu")
    assert psnr(image, decode(result.data)) >= 22.0
    assert result.report["target_psnr"] == 22.0 and result.report["search"][-1]["stage"] != "control"


def test_target_bpp_below_an_empty_network_fails_fast():
    with pytest.raises(InputError, match="at least about"):
        lr.encode_target_bpp(tiny(), 0.05, LatentConfig(steps=5000), "cpu")  # 4 bytes: refused before training


def test_target_psnr_out_of_reach_is_an_error():
    with pytest.raises(InputError, match="try a lower target"):
        lr.encode_target_psnr(tiny(), 80.0, LatentConfig(steps=60), "cpu")


def test_rgb_latent_round_trip():
    from sirencodec.latent.encode import encode_latent

    rgb = np.stack([tiny(), tiny()[::-1], 255 - tiny()], -1)
    result = encode_latent(rgb, LatentConfig(steps=300, lam=1e-3), "cpu")
    decoded = decode(result.data)
    assert decoded.shape == rgb.shape and np.array_equal(decoded, result.decoded)
    assert result.report["channels"] == 3 and result.data[3] == 6
    flat = np.broadcast_to(rgb.reshape(-1, 3).mean(0).round().astype(np.uint8), rgb.shape)
    assert result.report["psnr"] > psnr(rgb, flat) + 6


def run(args):
    return CliRunner().invoke(srnenc, [str(a) for a in args])


def test_cli_default_network_is_latent_and_siren_options_pick_a_siren(tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(tiny()).save(src)
    out = tmp_path / "o.srn"
    r = run([src, "-o", out, "--latent-steps", "40", "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert out.read_bytes()[3] == 6 and report["kind"] == "latent" and report["quality"] == DEFAULT_QUALITY
    r = run([src, "-o", out, "--preset", "test", "--json"])
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[3] == 3 and "hidden_width" in json.loads(r.output)
    r = run([src, "-o", out, "--latent-steps", "40", "--target-bpp", "40"])
    assert r.exit_code == 0 and "target 40 bpp" in r.output and "layer bits" in r.output, r.output


@pytest.mark.parametrize("args, message", [
    (["--network", "latent", "--width", "20"], "--width set a SIREN"),
    (["--bits", "8", "--lam", "0.01"], "--lam applies to the latent network"),
    (["--latent", "--network", "siren"], "contradict"),
    (["--quality", "3", "--lam", "0.01"], "--quality and --lam cannot be combined"),
    (["--target-psnr", "30", "--target-bpp", "1"], "cannot be combined"),
])
def test_cli_network_conflicts_one_line_exit_2(tmp_path, args, message):
    src = tmp_path / "in.png"
    Image.fromarray(tiny()).save(src)
    out = tmp_path / "o.srn"
    r = run([src, "-o", out, *args])
    assert r.exit_code == 2 and message in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert not out.exists()


def test_secant_lam_measures_the_slope_and_lands_on_the_aim():
    """From one point the assumed slope, then the slope measured between the points tried: on
    a rate curve steeper than assumed the search overshoots once and then lands within 1 % of
    the aim, never beyond ``reach`` of the centre."""
    def size(lam):
        return 5000 * (lam / 1e-3) ** -0.15

    def next_lam(tried, aim):
        return lr._secant_lam(tried, aim, lr.REFINE_RATE_SLOPE, lr.SLOPE_RANGE, 1e-3, lr.REFINE_LAM_REACH)

    aim, tried = 5100, [(1e-3, size(1e-3))]
    assert next_lam(tried, aim) == pytest.approx(1e-3 * (5000 / 5100) ** (1 / lr.REFINE_RATE_SLOPE))
    for _ in range(3):
        lam = next_lam(tried, aim)
        assert 1e-3 / lr.REFINE_LAM_REACH <= lam <= 1e-3 * lr.REFINE_LAM_REACH
        tried.append((lam, size(lam)))
    assert tried[1][1] > aim  # the assumed slope overshoots
    assert abs(tried[-1][1] / aim - 1) < 0.01
    # a target out of reach: clamped to the range
    assert next_lam([(1e-3, 5000)], 50000) == pytest.approx(1e-3 / lr.REFINE_LAM_REACH)


def test_target_bpp_restarts_a_start_that_misses(monkeypatch):
    """A first guess 30x too large: the bytes at the first control point miss the aim, so
    training restarts at a smaller lam (and ends in the band, never above the budget)."""
    monkeypatch.setattr(lr, "REF_LAM", lr.REF_LAM * 30)
    image = crop()
    result = lr.encode_target_bpp(image, 0.7, QUICK, "cpu")
    budget = math.floor(0.7 * 96 * 96 / 8)
    starts = [e for e in result.report["search"] if e["stage"] == "start"]
    assert len(starts) >= 2 and starts[1]["lam"] < starts[0]["lam"] / 2, starts
    assert abs(math.log(starts[0]["bytes"] / (lr.START_AIM * lr.POINT0_BYTES * budget))) > lr.START_TOLERANCE
    assert (1 - lr.TARGET_TOLERANCE) * budget <= len(result.data) <= budget, result.report["search"]


def test_target_bpp_parallel_starts(monkeypatch):
    """Where a batch costs what one network does (a GPU; forced here on the CPU), the first
    start is three networks side by side at the guess and twice and half of it; the one whose
    bytes at the first control point are nearest the aim goes on, alone, to a file in the band."""
    monkeypatch.setattr(lr, "PARALLEL_STARTS", {"cpu": 3})
    image = crop()
    budget = math.floor(0.7 * 96 * 96 / 8)
    aim = lr.START_AIM * lr.POINT0_BYTES * budget
    result = lr.encode_target_bpp(image, 0.7, QUICK, "cpu")
    search = result.report["search"]
    first = search[:3]
    assert [e["stage"] for e in first] == ["start"] * 3 and all(e["parallel"] == 3 for e in first)
    guess = first[1]["lam"]
    assert [e["lam"] for e in first] == pytest.approx([guess / 2, guess, 2 * guess])
    assert first[0]["bytes"] >= first[1]["bytes"] >= first[2]["bytes"] and first[0]["bytes"] > first[2]["bytes"]
    nearest = min(first, key=lambda e: abs(math.log(e["bytes"] / aim)))
    trained = next(e for e in search if e["stage"] == "trained")
    if abs(math.log(nearest["bytes"] / aim)) <= lr.START_TOLERANCE:  # it went on
        assert trained["lam"] == nearest["lam"] and search.index(trained) == 3
    assert (1 - lr.TARGET_TOLERANCE) * budget <= len(result.data) <= budget, search
