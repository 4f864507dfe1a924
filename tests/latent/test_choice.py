"""Per-image choice among latent networks (``--effort best``): which networks are tried, and
that the kept file is the one doing best at the encode's aim, scored from the real file's
bytes and the real decoder's image (the costs recomputed here from their definitions)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from click.testing import CliRunner

import sirencodec
from sirencodec.bench.cli import main as srnbench
from sirencodec.cli.srnenc import srnenc
from sirencodec.encoder import plan
from sirencodec.errors import InputError
from sirencodec.imageio import save_image
from sirencodec.latent.choice import choose
from sirencodec.latent.config import EFFORTS
from sirencodec.result import EncodeResult

GRIDS2 = (1, 2, 2, 2, 2, 2, 2)


def _image(h: int, w: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    planes = [np.sin(x / (2 + c)) * np.cos(y / (3 + c)) * 90 + 128 + rng.normal(0, 12, (h, w))
              for c in range(channels)]
    image = np.clip(np.stack(planes, -1), 0, 255).astype(np.uint8)
    return image[..., 0] if channels == 1 else image


def _cost(image: np.ndarray, data: bytes, decoded: np.ndarray, lam: float) -> float:
    """The training loss of a file: MSE of pixels in [0, 1] + lam * bpp (bpp = 8 bytes / pixels)."""
    error = image.astype(np.float64) / 255 - decoded.astype(np.float64) / 255
    return float(np.mean(error**2)) + lam * 8 * len(data) / (image.shape[0] * image.shape[1])


def test_best_tries_rgb_ycbcr_and_more_grids_of_the_max_network():
    """--effort best: max's network with RGB synthesis, YCbCr synthesis, and two latent grids at
    every level but the finest; options the caller sets hold for every candidate; the other
    levels choose nothing."""
    best = plan(effort="best")
    assert best.config == EFFORTS["max"]
    tried = {(c.colour, c.latent_channels) for c in best.candidates}
    assert tried == {("rgb", ()), ("ycbcr", ()), ("rgb", GRIDS2)}
    assert all(dataclasses.replace(c, colour="rgb", latent_channels=()) == EFFORTS["max"] for c in best.candidates)
    # a caller's colour holds: two candidates left, both YCbCr
    fixed = plan(effort="best", latent_options={"colour": "ycbcr"}, latent_steps=7)
    assert {(c.colour, c.latent_channels, c.steps) for c in fixed.candidates} == {("ycbcr", (), 7), ("ycbcr", GRIDS2, 7)}
    # ... and with both fixed there is nothing to choose
    assert plan(effort="best", latent_options={"colour": "ycbcr", "latent_channels": "1/2"}).candidates == ()
    for level in ("fast", "default", "max"):
        assert plan(effort=level).candidates == ()
    # a gray image has one plane: RGB and YCbCr synthesis are the same network there
    assert len(best.networks(_image(8, 8, 1))) == 2 and len(best.networks(_image(8, 8, 3))) == 3


def _result(image: np.ndarray, nbytes: int, mse: float, lam: float) -> EncodeResult:
    """A fake encode: ``nbytes`` of file, a decode off by a constant with this MSE (in 0..255 units)."""
    decoded = np.clip(image.astype(np.float64) + np.sqrt(mse), 0, 255).astype(np.uint8)
    psnr = 10 * np.log10(255**2 / np.mean((decoded.astype(float) - image) ** 2))
    report = {"bytes": nbytes, "bpp": 8 * nbytes / image.size, "psnr": psnr, "lam": lam,
              "config": {"distortion": "rgb", "colour": "rgb", "lam": lam, "id": nbytes},
              "seconds": {"total": 2.0}}
    return EncodeResult(b"\0" * nbytes, decoded, report)


@pytest.mark.parametrize("lam, mode, kept", [
    # A: 10 bytes, MSE 100; B: 40 bytes, MSE 49 (10 x 10 pixels). Cost MSE/255^2 + lam * 8 bytes / 100:
    # at lam 1e-3 A 0.00234 < B 0.00395; at lam 1e-5 A 0.00155 > B 0.00078.
    (1e-3, "lam", 0), (1e-5, "lam", 1), (1e-3, "quality", 0), (1e-5, "quality", 1),
    (1e-3, "target_bpp", 1),  # the higher PSNR within the budget
    (1e-5, "target_psnr", 0),  # the fewer bytes at the target
])
def test_choose_keeps_the_best_at_the_encodes_aim(lam, mode, kept):
    image = np.full((10, 10), 100, np.uint8)
    for flip in (False, True):
        outcomes = [_result(image, 10, 100.0, lam), _result(image, 40, 49.0, lam)]
        want = outcomes[kept]
        order = outcomes[::-1] if flip else outcomes
        got = choose(image, list(order), mode)
        assert got is want
        assert got.report["choice"]["chosen"] == list(order).index(want)
        assert got.report["seconds"]["total"] == 4.0 and got.report["seconds"]["chosen"] == 2.0
        listed = got.report["choice"]["candidates"]
        assert [c["bytes"] for c in listed] == [r.report["bytes"] for r in order]


def test_choose_skips_candidates_that_failed_and_raises_when_all_did():
    image = np.full((10, 10), 100, np.uint8)
    good = _result(image, 10, 100.0, 1e-3)
    first, second = InputError("target out of reach"), InputError("over the cost limit")
    got = choose(image, [first, good], "target_psnr")
    assert got is good and got.report["choice"]["candidates"][0] == {"error": "target out of reach"}
    with pytest.raises(InputError, match="target out of reach"):
        choose(image, [first, second], "lam")


def test_best_keeps_the_lowest_cost_file_of_its_networks():
    """Each candidate encoded on its own gives the file best's report lists for it; best keeps
    the one of lowest MSE + lam * bpp, computed here from the files and their decodes."""
    image, lam, steps = _image(24, 24), 4e-3, 60
    got = sirencodec.encode(image, effort="best", lam=lam, latent_steps=steps)
    alone = [sirencodec.encode(image, effort="max", lam=lam, latent_steps=steps, latent_options=opts)
             for opts in ({}, {"colour": "ycbcr"}, {"latent_channels": GRIDS2})]
    listed = got.report["choice"]["candidates"]
    assert [c["bytes"] for c in listed] == [len(r.data) for r in alone]
    costs = [_cost(image, r.data, sirencodec.decode(r.data), lam) for r in alone]
    assert got.data == alone[int(np.argmin(costs))].data
    assert np.allclose([c["cost"] for c in listed], costs, rtol=1e-9)
    assert np.array_equal(got.decoded, sirencodec.decode(got.data))
    assert got.report["config"]["colour"] == ("ycbcr" if np.argmin(costs) == 1 else "rgb")


def test_batched_best_keeps_each_images_lowest_cost_file():
    """encode_many at effort best: every image's (image, network) pairs train in batches, and
    each image keeps its lowest-cost candidate; a gray image tries two networks."""
    images, lam = [_image(16, 16, 3, 1), _image(16, 16, 1, 2)], 2e-3
    results = sirencodec.encode_many(images, effort="best", lam=lam, latent_steps=40)
    for image, result, tried in zip(images, results, (3, 2)):
        listed = result.report["choice"]["candidates"]
        assert len(listed) == tried
        # each listed cost from its PSNR and bytes: 10^(-PSNR/10) + lam * 8 bytes / pixels
        costs = [10 ** (-c["psnr"] / 10) + lam * 8 * c["bytes"] / 256 for c in listed]
        assert result.report["choice"]["chosen"] == int(np.argmin(costs))
        assert len(result.data) == listed[int(np.argmin(costs))]["bytes"]
        assert np.array_equal(result.decoded, sirencodec.decode(result.data))


def test_srnenc_and_srnbench_at_effort_best(tmp_path):
    """srnenc --effort best writes the kept file and lists the networks it tried; srnbench's
    effort=best setting keeps the same choice and records the kept network's fields."""
    src = tmp_path / "in.png"
    save_image(_image(16, 16), str(src))
    out = tmp_path / "out.srn"
    run = CliRunner().invoke(srnenc, [str(src), "-o", str(out), "--effort", "best", "--lam", "0.002",
                                      "--latent-steps", "30", "--json"])
    assert run.exit_code == 0, run.output
    report = json.loads(run.output)
    assert len(report["choice"]["candidates"]) == 3 and report["bytes"] == out.stat().st_size
    text = CliRunner().invoke(srnenc, [str(src), "-o", str(tmp_path / "o2.srn"), "--effort", "best", "--lam",
                                       "0.002", "--latent-steps", "30"])
    assert text.exit_code == 0 and "kept the best by cost of 3 networks" in text.output
    bench = tmp_path / "bench"
    assert srnbench([str(src), "-o", str(bench), "--codecs", "latent", "--device", "cpu", "--no-plot",
                     "--settings", "lam=0.002,effort=best,steps=30"]) == 0
    import csv

    (row,) = list(csv.DictReader(open(bench / "results.csv")))
    chosen = json.loads((bench / (row["file"] + ".report.json")).read_text())
    assert int(row["bytes"]) == (bench / row["file"]).stat().st_size
    assert row["colour"] == chosen["config"]["colour"] and row["effort"] == "best"
    assert len(chosen["choice"]["candidates"]) == 3


@pytest.mark.parametrize("rate, by", [({"target_bpp": 2.0}, "psnr"), ({"target_psnr": 30.0}, "bytes")])
def test_rate_control_runs_for_every_network_and_keeps_the_best_at_the_target(monkeypatch, rate, by):
    """At --target-bpp / --target-psnr each candidate goes through rate control; the kept file is
    the highest PSNR / the fewest bytes, and a candidate whose rate control fails is left out."""
    from sirencodec.encoder import Encoding

    image = np.full((10, 10), 100, np.uint8)
    fakes = {  # (colour, latent_channels) -> (bytes, MSE) or an error
        ("rgb", ()): (30, 64.0), ("ycbcr", ()): InputError("target out of reach"), ("rgb", GRIDS2): (20, 100.0)}
    seen = []

    def fake_one(self, img, config, progress):
        seen.append((self.mode, config.colour, config.latent_channels))
        outcome = fakes[(config.colour, config.latent_channels)]
        if isinstance(outcome, InputError):
            raise outcome
        return _result(img, outcome[0], outcome[1], 1e-3)

    monkeypatch.setattr(Encoding, "_encode_one", fake_one)
    got = plan(effort="best", **rate).run(np.dstack([image] * 3))
    mode = next(iter(rate))
    assert sorted(seen) == sorted((mode, c, g) for c, g in fakes)
    assert got.report["choice"]["by"] == by
    assert got.report["bytes"] == (30 if by == "psnr" else 20)
    assert got.report["choice"]["candidates"][1] == {"error": "target out of reach"}


def test_batched_choice_leaves_out_networks_that_cannot_train():
    """A candidate refused before training (here lam 0) is listed with its error and the image
    keeps the other; an image none of whose candidates can train raises that error, untrained."""
    from sirencodec.latent.choice import encode_choices_many
    from sirencodec.latent.config import LatentConfig

    image = _image(12, 12, 1)
    good, bad = LatentConfig(lam=2e-3, steps=20), LatentConfig(lam=0.0, steps=20)
    (result,) = encode_choices_many([image], [[bad, good]], "lam", "cpu")
    assert "error" in result.report["choice"]["candidates"][0] and result.report["choice"]["chosen"] == 1
    assert np.array_equal(sirencodec.decode(result.data), result.decoded)
    with pytest.raises(InputError, match="lam > 0"):
        encode_choices_many([image, image], [[good], [bad]], "lam", "cpu")
