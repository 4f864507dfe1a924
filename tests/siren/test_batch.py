"""Many SIRENs trained together (sirencodec.siren.batch): each network of a batch is the
network trained alone, up to floating-point order."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import sirencodec
from sirencodec.format.siren_v3 import pack
from sirencodec.siren import batch as sbatch
from sirencodec.siren.config import PRESETS
from sirencodec.siren.fit import fit_network

CPU = torch.device("cpu")


def _image(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = 128 + 90 * np.sin(x / (3 + seed)) * np.cos(y / 4) + rng.normal(0, 6, (h, w))
    return np.clip(img, 0, 255).astype(np.uint8)


BASE = dataclasses.replace(PRESETS["test"], fit_steps=40, prune_steps=30, qat_steps=20)


@pytest.mark.parametrize("batch_pixels", [1 << 18, 200])  # the whole image; each network's own random pixels
def test_batched_sirens_are_the_sirens_alone(batch_pixels):
    images = [_image(24, 20, s) for s in range(3)]
    configs = [dataclasses.replace(BASE, seed=s, bits=b, prune=p, batch_pixels=batch_pixels, range_update_every=r)
               for s, b, p, r in ((0, 8, 0.2, 1), (1, 9, 0.3, 5), (2, 6, 0.1, 2))]
    batched = sbatch.fit_network_batch(images, configs, CPU)
    for image, config, got in zip(images, configs, batched):
        alone = fit_network(image, config, CPU)
        assert got.restarts == 0 and got.config == alone.config
        assert [ly.weight.bits for ly in got.network.layers] == [ly.weight.bits for ly in alone.network.layers]
        assert [ly.weight.mask.sum() for ly in got.network.layers] == [ly.weight.mask.sum() for ly in alone.network.layers]
        for stage in ("fit", "prune", "qat"):
            assert got.stage_psnr[stage] == pytest.approx(alone.stage_psnr[stage], abs=1e-3)
        assert abs(len(pack(got.network)) - len(pack(alone.network))) <= 2
    assert len({round(r.stage_psnr["qat"], 6) for r in batched}) == 3  # three different networks


def test_a_network_that_diverges_in_the_batch_is_trained_again_alone(monkeypatch):
    images = [_image(16, 16, s) for s in range(3)]
    configs = [dataclasses.replace(BASE, seed=s) for s in range(3)]
    forward = sbatch.forward

    def poisoned(models, coords):  # network 1's output turns NaN in the prune stage
        out = forward(models, coords)
        if len(models) == 3 and models[1].weights[0].grad is not None and models[1].mask(1).sum() < models[1].mask(1).numel():
            out = out.clone()
            out[1] = float("nan")
        return out

    alone_calls = []

    def fit_alone(image, config, device, progress=None):
        alone_calls.append(config.seed)
        return fit_network(image, config, device, progress)

    monkeypatch.setattr(sbatch, "forward", poisoned)
    monkeypatch.setattr(sbatch, "fit_network", fit_alone)
    results = sbatch.fit_network_batch(images, configs, CPU)
    assert alone_calls == [1]
    for image, config, got in zip(images, configs, results):
        assert np.isfinite(got.stage_psnr["qat"])
        assert got.stage_psnr["qat"] == pytest.approx(fit_network(image, config, CPU).stage_psnr["qat"], abs=1e-3)


def test_a_batch_shares_depth_and_stages():
    images = [_image(8, 8, 0)] * 2
    with pytest.raises(ValueError, match="must share"):
        sbatch.fit_network_batch(images, [BASE, dataclasses.replace(BASE, hidden_layers=3)], CPU)
    with pytest.raises(ValueError, match="must share"):
        sbatch.fit_network_batch(images, [BASE, dataclasses.replace(BASE, qat_steps=21)], CPU)
    with pytest.raises(ValueError, match="one shape"):
        sbatch.fit_network_batch([_image(8, 8, 0), _image(8, 9, 0)], [BASE, BASE], CPU)
    one = sbatch.fit_network_batch(images[:1], [BASE], CPU)[0]  # a batch of one is fit_network
    assert pack(one.network) == pack(fit_network(images[0], BASE, CPU).network)


def test_encode_many_batches_fixed_sirens():
    images = [_image(16, 16, 0), _image(16, 16, 1), _image(12, 16, 2)]
    results = sirencodec.encode_many(images, preset="test", bits=8, prune=0.2, device="cpu")
    assert [r.report["batch"] for r in results] == [2, 2, 1]
    for image, result in zip(images, results):
        assert result.report["kind"] == "siren" and result.decoded.shape == image.shape
        assert np.array_equal(sirencodec.decode(result.data), result.decoded)
        alone = sirencodec.encode(image, preset="test", bits=8, prune=0.2, device="cpu")
        assert abs(len(result.data) - len(alone.data)) <= 2
        assert result.report["psnr"] == pytest.approx(alone.report["psnr"], abs=0.01)


def _through_stacked_products(images, configs, alone, monkeypatch, pixels: int):
    """Check the GPU's batched products (run here on the CPU) against each network of ``alone``
    (their FitResults) on random coordinates, then train a batch through them: its results."""
    models = [r.model for r in alone]
    coords = torch.rand(len(models), pixels, 2) * 2 - 1
    torch.testing.assert_close(sbatch.stacked_forward(models, coords),
                               torch.stack([m(coords[k]) for k, m in enumerate(models)]), rtol=0, atol=1e-5)
    with monkeypatch.context() as patch:
        patch.setattr(sbatch, "forward", sbatch.stacked_forward)
        return sbatch.fit_network_batch(images, configs, CPU)


def test_stacked_forward_is_each_networks_forward(monkeypatch):
    """The GPU's batched products (run here on the CPU) compute each network's own output,
    and a batch trained through them ends where its networks end alone."""
    images = [_image(24, 20, s) for s in range(3)]
    configs = [dataclasses.replace(BASE, seed=s, bits=b) for s, b in ((0, 8), (1, 6), (2, 9))]
    results = sbatch.fit_network_batch(images, configs, CPU)
    stacked = _through_stacked_products(images, configs, results, monkeypatch, 50)
    for got, alone in zip(stacked, results):
        for stage in ("fit", "prune", "qat"):
            assert got.stage_psnr[stage] == pytest.approx(alone.stage_psnr[stage], abs=1e-3)


def test_networks_of_other_widths_train_as_masked_units_of_the_widest(monkeypatch):
    """Widths 5, 8 and 12 of one depth in one batch: through the GPU's padded, stacked products
    (run here on the CPU) each ends where it ends alone, and its file has its own width."""
    images = [_image(20, 16, s) for s in range(3)]
    configs = [dataclasses.replace(BASE, seed=s, hidden_width=w) for s, w in ((0, 5), (1, 8), (2, 12))]
    assert len({sbatch.batch_key(c) for c in configs}) == 1
    alone = [fit_network(image, config, CPU) for image, config in zip(images, configs)]
    stacked = _through_stacked_products(images, configs, alone, monkeypatch, 40)
    for got, one, config in zip(stacked, alone, configs):
        assert got.network.hidden_width == config.hidden_width == one.network.hidden_width
        for stage in ("fit", "prune", "qat"):
            assert got.stage_psnr[stage] == pytest.approx(one.stage_psnr[stage], abs=1e-3)
        assert abs(len(pack(got.network)) - len(pack(one.network))) <= 2
