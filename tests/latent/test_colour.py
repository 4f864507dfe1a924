"""Colour in the latent network. The distortion it trains on (``distortion="rgb"`` or
``"ycbcr"``): its definition from ITU-T T.871's conversion, and that training, rate control's
refinement and the choice of bit widths all use it. The planes its synthesis computes
(``colour="ycbcr"``, ``"ycbcr-split"``): folded into an ordinary RGB file, and with split
planes, luma and chroma on separate latents."""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pytest
import torch

import sirencodec
from sirencodec import metrics
from sirencodec.bench.codecs import LatentCodec
from sirencodec.encoder import plan
from sirencodec.errors import InputError
from sirencodec.latent import export as latent_export
from sirencodec.latent.config import LatentConfig, effort_config
from sirencodec.latent.fit import LatentFit, fit_latent, fit_latent_batch, refine_latent
from sirencodec.latent.model import LatentModel
from sirencodec.latent.synthesis import render_network

# ITU-T T.871 section 7: Y = 0.299 R + 0.587 G + 0.114 B, Cb = (B - Y) / 1.772, Cr = (R - Y) / 1.402.
Y = np.array([0.299, 0.587, 0.114])
CB = (np.array([0.0, 0.0, 1.0]) - Y) / 1.772
CR = (np.array([1.0, 0.0, 0.0]) - Y) / 1.402


def _ycbcr_611(error: np.ndarray) -> float:
    """(6 MSE_Y + MSE_Cb + MSE_Cr) / 8 of per-pixel RGB errors [..., 3]."""
    return float((6 * np.mean((error @ Y) ** 2) + np.mean((error @ CB) ** 2) + np.mean((error @ CR) ** 2)) / 8)


def _image(h: int, w: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    planes = [128 + 100 * np.sin(x / (2 + 2 * c) + rng.uniform(0, 3)) * np.cos(y / (3 + c)) for c in range(channels)]
    img = np.clip(np.stack(planes, -1), 0, 255).astype(np.uint8)
    return img[..., 0] if channels == 1 else img


def test_distortion_weighs_the_jfif_planes_6_1_1():
    a = _image(8, 8)
    b = a.astype(np.int16)
    b[..., 0] += np.where(a[..., 0] < 250, 4, -4)  # red off by 4, green and blue exact
    b = b.astype(np.uint8)
    d = 4.0
    # a red error d moves Y by 0.299 d, Cb by -0.168736 d, Cr by 0.5 d
    assert metrics.distortion(a, b, "ycbcr") == pytest.approx((6 * (0.299 * d) ** 2 + (0.168736 * d) ** 2
                                                              + (0.5 * d) ** 2) / 8, rel=1e-5)
    assert metrics.distortion(a, b, "rgb") == pytest.approx(d**2 / 3) == metrics.mse(a, b)
    assert metrics.distortion(a[..., 0], b[..., 0], "ycbcr") == pytest.approx(d**2)  # gray: the MSE
    rng = np.random.default_rng(1)
    c = rng.integers(0, 256, a.shape, dtype=np.uint8)
    assert metrics.distortion(a, c, "ycbcr") == pytest.approx(_ycbcr_611(a.astype(float) - c), rel=1e-9)
    with pytest.raises(InputError, match="unknown distortion"):
        metrics.distortion(a, b, "yuv")


@pytest.mark.parametrize("kind", ["rgb", "ycbcr"])
def test_training_minimises_the_chosen_distortion(kind):
    """The loss of the first step (rounded latents, all zero at the start) is the distortion of
    the initial network's image, by T.871's formula for ``ycbcr``."""
    image = _image(10, 12)
    cfg = LatentConfig(lam=1e-3, steps=1, hard_fraction=0.9, distortion=kind)  # the one step is a hard one
    model = LatentModel(10, 12, cfg, channels=3)
    with torch.no_grad():
        start = model.synthesize([torch.zeros_like(y) for y in model.latents])[0].permute(1, 2, 0).double().numpy()
    error = start - image / 255.0
    expected = _ycbcr_611(error) if kind == "ycbcr" else float(np.mean(error**2))
    seen = []
    fit_latent(image, cfg, progress=lambda stage, step, total, psnr: seen.append(psnr), progress_every=1)
    assert seen[0] == pytest.approx(-10 * math.log10(expected), abs=1e-4)


@pytest.mark.parametrize("engine", ["host", "device"])
def test_a_batch_trains_each_network_on_the_chosen_distortion(monkeypatch, engine):
    """Two networks in one batch, on the host's steps or the GPU's (device-tensor scalars, run
    here on the CPU): the first step's loss is the mean of their ``ycbcr`` distortions, and
    each network leaves training with it (bit widths are chosen by it)."""
    from sirencodec.latent import fit

    if engine == "device":
        monkeypatch.setattr(fit, "_HostSteps", lambda model, target, noise, lr: fit._DeviceSteps(
            model, target, noise, lr, graphs=False))
    images = [_image(10, 12, seed=s) for s in range(2)]
    configs = [LatentConfig(lam=1e-3, steps=1, hard_fraction=0.9, distortion="ycbcr", seed=s) for s in range(2)]
    model = LatentModel(10, 12, configs[0], channels=3, seeds=[0, 1])
    with torch.no_grad():
        start = model.synthesize([torch.zeros_like(y) for y in model.latents]).permute(0, 2, 3, 1).double().numpy()
    expected = np.mean([_ycbcr_611(start[b] - images[b] / 255.0) for b in range(2)])
    seen = []
    fits = fit.fit_latent_batch(images, configs, progress=lambda stage, step, total, psnr: seen.append(psnr),
                                progress_every=1)
    assert seen[0] == pytest.approx(-10 * math.log10(expected), abs=1e-4)
    assert [f.model.distortion for f in fits] == ["ycbcr", "ycbcr"]
    planes = np.stack([np.sqrt(6 / 8) * Y, np.sqrt(1 / 8) * CB, np.sqrt(1 / 8) * CR])  # what refinement trains on
    for f in fits:
        np.testing.assert_allclose(f.model.mix.numpy(), planes, rtol=1e-6)


def test_refinement_and_bit_widths_use_the_training_distortion(monkeypatch):
    image = _image(12, 12)
    fitted = fit_latent(image, LatentConfig(lam=1e-3, steps=30, distortion="ycbcr"))
    as_rgb = copy.copy(fitted)
    as_rgb.model = copy.deepcopy(fitted.model)
    as_rgb.model.distortion, as_rgb.model.mix = "rgb", None  # the same network, trained on the RGB MSE
    moved = [refine_latent(f, image, 1e-3, 3, 1e-3).model.syn_weights[-1].detach() for f in (fitted, as_rgb)]
    assert not torch.equal(*moved)  # the ycbcr refinement follows another gradient
    kinds = []
    measure = latent_export.distortion
    monkeypatch.setattr(latent_export, "distortion", lambda a, b, kind: kinds.append(kind) or measure(a, b, kind))
    latent_export.choose_bits(fitted, image, 1e-3, lambda net: b"x" * 10)
    assert kinds and set(kinds) == {"ycbcr"}


def test_distortion_option_reaches_the_encoder_and_is_checked():
    opts = {"distortion": "ycbcr"}
    assert plan().config.distortion == "rgb"
    assert plan(latent_options=opts).config.distortion == "ycbcr"
    assert effort_config("max", opts) == dataclasses.replace(effort_config("max"), distortion="ycbcr")
    with pytest.raises(InputError, match="distortion must be one of rgb, ycbcr"):
        plan(latent_options={"distortion": "yuv"})
    assert LatentCodec().options({"lam": "0.01", **opts})["latent_options"] == opts
    result = sirencodec.encode(_image(16, 16, seed=2), lam=3e-3, latent_steps=200, latent_options=opts)
    assert result.report["config"]["distortion"] == "ycbcr"


def _random_model(colour: str, channels: int = 3, seed: int = 5) -> LatentModel:
    """A network with random integer latents and a non-zero convolution."""
    model = LatentModel(20, 24, LatentConfig(colour=colour, latent_channels=(1, 2, 2)), channels)
    torch.manual_seed(seed)
    with torch.no_grad():
        for y in model.latents:
            y.copy_(torch.round(2 * torch.randn_like(y)))
        model.conv_weight.normal_(0, 0.1)
        model.conv_bias.normal_(0, 0.05)
    return model


def _rgb(model: LatentModel, latents: list[torch.Tensor] | None = None) -> np.ndarray:
    """The model's image [H, W, C] in [0, 1], float64."""
    with torch.no_grad():
        out = model.synthesize(list(model.latents) if latents is None else latents)[0]
    return out.permute(1, 2, 0).double().numpy()


@pytest.mark.parametrize("colour", ["ycbcr", "ycbcr-split"])
def test_ycbcr_synthesis_is_written_as_an_ordinary_rgb_file(colour):
    """The file's layers hold the conversion to RGB: the reference decoder's image from a
    16-bit export is the trained model's, rounded to 8 bits."""
    model = _random_model(colour)
    grids = [y.detach()[0].numpy().astype(np.int64) for y in model.latents]
    net = latent_export.export(LatentFit(model, grids, 0.0, 1e-3), 16)
    decoded = sirencodec.decode(sirencodec.format.latent_v4.pack(net)).astype(np.float64)  # the real decoder
    expected = np.clip(np.round(255 * _rgb(model)), 0, 255)
    assert np.abs(decoded - expected).max() <= 1 and np.mean(decoded != expected) < 0.01
    assert len(net.synthesis) == 2 and net.channels == 3 and net.conv is not None


def test_split_planes_keep_luma_and_chroma_on_their_own_latents():
    model = _random_model("ycbcr-split")
    assert model.grid_levels == (0, 1, 1, 2, 2, 3, 4, 5)  # chroma: the second grid of levels 1 and 2
    chroma = [2, 4]
    base = _rgb(model)
    for moved, still in ((chroma, [0]), ([0, 1, 3, 5, 6, 7], [1, 2])):  # planes: 0 = Y, 1 = Cb, 2 = Cr
        latents = [y + 3 if k in moved else y for k, y in enumerate(model.latents)]
        change = np.abs((_rgb(model, latents) - base) @ np.stack([Y, CB, CR]).T).max(axis=(0, 1))
        assert change[still].max() < 1e-5 and np.delete(change, still).min() > 1e-2
    first = model.layer_params()[0][0].detach().numpy()  # [hidden, 8 grids]: 2 chroma grids, 6 luma
    hidden = first.shape[0]
    chroma_units = max(1, hidden // 4)  # a quarter of the layer computes chroma
    assert np.count_nonzero(first == 0) == (hidden - chroma_units) * 2 + chroma_units * 6


def test_colour_options_are_checked(tmp_path):
    gray = _image(16, 16, channels=1)
    for bad, text in (({"colour": "yuv"}, "colour must be"),
                      ({"colour": "ycbcr-split"}, "two grids"),
                      ({"colour": "ycbcr-split", "latent_channels": "1/2", "hidden": "16/1"}, "2 wide")):
        with pytest.raises(InputError, match=text):
            sirencodec.encode(_image(16, 16), lam=1e-3, latent_steps=1, latent_options=bad)
    # a gray image has one plane: the option changes nothing
    files = {c: sirencodec.encode(gray, lam=3e-3, latent_steps=60, latent_options={"colour": c}).data
             for c in ("rgb", "ycbcr-split")}
    assert files["rgb"] == files["ycbcr-split"]
    assert LatentCodec().options({"lam": "0.01", "colour": "ycbcr"})["latent_options"] == {"colour": "ycbcr"}


def test_a_batch_of_ycbcr_networks_writes_each_one_folded():
    images = [_image(12, 16, seed=s) for s in range(2)]
    configs = [LatentConfig(lam=1e-3, steps=20, colour="ycbcr-split", latent_channels=(1, 2), seed=s)
               for s in range(2)]
    for fitted in fit_latent_batch(images, configs):
        assert fitted.model.ycbcr
        decoded = render_network(latent_export.export(fitted, 16)).astype(np.float64)
        latents = [torch.from_numpy(g).float()[None] for g in fitted.grids]
        assert np.abs(decoded - np.clip(np.round(255 * _rgb(fitted.model, latents)), 0, 255)).max() <= 1
