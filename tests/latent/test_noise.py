"""The soft stage's quantization noise (``LatentConfig.noise``): uniform in [-1/2, 1/2);
Gaussian with its standard deviation annealed linearly from 0.25 to 0.1 over the soft stage
(Cool-chic's ``c3x_intra`` preset: ``noise_parameter=(0.25, 0.1)``, linear in the iteration);
or Kumaraswamy with its mode at the centre and its shape annealed linearly from 2 to 1
(Cool-chic's ``c3x`` preset: ``noise_parameter=(2.0, 1.0)``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sirencodec
import sirencodec.latent.fit as fit
from sirencodec.errors import InputError
from sirencodec.latent.config import LatentConfig
from sirencodec.latent.model import LatentModel, soft_round
from tests.latent.test_batch import _image


def test_gaussian_draws_are_standard_normal_and_uniform_ones_unit_uniform():
    model = LatentModel(64, 64, LatentConfig(), 1, [0, 1])
    for gaussian in (False, True):
        noise = fit._Noise(model, [0, 1], torch.device("cpu"), kind="gaussian" if gaussian else "uniform")
        draws = torch.cat([torch.cat([d.flatten(1) for d in noise.draw()], 1) for _ in range(8)], 1)
        assert draws.shape[0] == 2 and draws.shape[1] > 40000
        if gaussian:  # N(0, 1): mean within 5 standard errors, variance within 5 %, tails beyond 3
            assert abs(draws.mean().item()) < 5 / draws.numel() ** 0.5
            assert abs(draws.var().item() - 1) < 0.05
            assert (draws.abs() > 3).any()
        else:
            assert draws.min() >= 0 and draws.max() < 1 and abs(draws.mean().item() - 0.5) < 0.01
        assert not torch.equal(draws[0], draws[1])  # each network its own stream


def test_kumaraswamy_noise_has_the_kumaraswamy_cdf_with_its_mode_at_the_centre():
    """x = kumaraswamy_noise(u, a) + 1/2 for uniform u follows the CDF 1 - (1 - x^a)^b, whose
    density a b x^(a-1) (1 - x^a)^(b-1) peaks at x^a = (a - 1) / (a b - 1): at x = 1/2 for
    b = (2^a (a - 1) + 1) / a. a = 1 is the uniform noise u - 1/2."""
    u = torch.rand(400000, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(fit.kumaraswamy_noise(u, 1.0), u - 0.5, rtol=0, atol=1e-6)
    for a in (2.0, 1.5):
        b = (2**a * (a - 1) + 1) / a
        assert ((a - 1) / (a * b - 1)) ** (1 / a) == pytest.approx(0.5)
        x = fit.kumaraswamy_noise(u, torch.tensor(a)) + 0.5
        assert x.min() >= 0 and x.max() <= 1
        for t in (0.1, 0.3, 0.5, 0.7, 0.9):
            assert (x < t).float().mean().item() == pytest.approx(1 - (1 - t**a) ** b, abs=3e-3)
        counts = torch.histc(x, bins=10, min=0, max=1)
        assert int(counts.argmax()) in (4, 5)  # the bins either side of 1/2
        assert x.std().item() < (1 / 12) ** 0.5 - 0.02  # narrower than the uniform noise


@pytest.mark.parametrize("kind", ["uniform", "gaussian", "kumaraswamy"])
def test_soft_stage_noise_schedule(monkeypatch, kind):
    """Each soft step gets the noise parameter 0.25 + (0.1 - 0.25) * s / (soft steps - 1)
    (Gaussian), 2 + (1 - 2) * s / (soft steps - 1) (Kumaraswamy) or none (uniform); the hard
    steps none."""
    seen = []
    real = fit._HostSteps.step

    def step(self, lr, temp, sigma=None):
        seen.append((temp is not None, sigma))
        return real(self, lr, temp, sigma)

    monkeypatch.setattr(fit._HostSteps, "step", step)
    fit.fit_latent(_image(12, 10, 0), LatentConfig(steps=40, hard_fraction=0.25, noise=kind))
    soft = [sigma for is_soft, sigma in seen if is_soft]
    assert len(soft) == 30 and [s for is_soft, s in seen if not is_soft] == [None] * 10
    if kind == "uniform":
        assert soft == [None] * 30
    elif kind == "gaussian":
        assert soft == pytest.approx([0.25 - 0.15 * s / 29 for s in range(30)], abs=1e-12)
    else:
        assert soft == pytest.approx([2 - s / 29 for s in range(30)], abs=1e-12)


@pytest.mark.parametrize("kind", ["gaussian", "kumaraswamy"])
def test_a_soft_step_adds_the_noise_of_its_kind(kind):
    """One soft step's (MSE, bpp) are those of latents soft_round(y) + sigma * n, n the
    network's next standard normal draw (Gaussian), or soft_round(y) + kumaraswamy_noise(u, a),
    u its next uniform draw (Kumaraswamy): rate on those values, image from their soft rounding."""
    image = _image(12, 10, 1)
    cfg = LatentConfig(noise=kind)
    target = fit._planes([image], "cpu")
    for sigma in ((0.0, 0.25) if kind == "gaussian" else (1.0, 2.0)):
        model = LatentModel(12, 10, cfg)
        with torch.no_grad():
            for y in model.latents:
                y.normal_(0, 2, generator=torch.Generator().manual_seed(7))
        noise = fit._Noise(model, [0], torch.device("cpu"), kind=kind)
        again = fit._Noise(model, [0], torch.device("cpu"), kind=kind)
        draws = again.draw()
        with torch.no_grad():
            if kind == "gaussian":
                noisy = [soft_round(y, 0.2) + sigma * n for y, n in zip(model.latents, draws)]
            else:  # the inverse CDF of Kumaraswamy(a, b), written out here
                b = (2**sigma * (sigma - 1) + 1) / sigma
                noisy = [soft_round(y, 0.2) + (1 - (1 - u) ** (1 / b)) ** (1 / sigma) - 0.5
                         for y, u in zip(model.latents, draws)]
            want_mse = torch.mean((model.synthesize([soft_round(v, 0.2) for v in noisy]) - target) ** 2)
            want_bpp = model.rate_bits(noisy, noisy) / (12 * 10)
        opt = torch.optim.SGD(model.parameters(), lr=0.0)
        mse, bpp = fit._step(model, opt, target, 1e-3, 0.0, 0.2, noise, sigma)
        assert mse.item() == pytest.approx(want_mse.item(), rel=1e-6)
        assert bpp.item() == pytest.approx(want_bpp.item(), rel=1e-6)
        if kind == "gaussian" and sigma:  # the noise moved the rate: the test would notice it dropped
            zero = [soft_round(y, 0.2) for y in model.latents]
            assert abs(model.rate_bits(zero, zero).item() / 120 - bpp.item()) > 1e-3
        if kind == "kumaraswamy" and sigma != 1:  # the shape moved the rate from the uniform noise's
            uniform = [soft_round(y, 0.2) + u - 0.5 for y, u in zip(model.latents, draws)]
            assert abs(model.rate_bits(uniform, uniform).item() / 120 - bpp.item()) > 1e-3


def test_gaussian_batches_and_device_steps_train_as_networks_alone(monkeypatch):
    """With Gaussian noise, too, a network trains in a batch as alone, and the GPU's steps (sigma
    in a device tensor) as the CPU's."""
    images = [_image(24, 20, s) for s in range(2)]
    configs = [LatentConfig(steps=150, lam=lam, seed=seed, noise="gaussian") for lam, seed in ((1e-4, 0), (1e-5, 3))]
    batch = fit.fit_latent_batch(images, configs)
    alone = [fit.fit_latent(image, config) for image, config in zip(images, configs)]
    monkeypatch.setattr(fit, "_HostSteps", lambda model, target, noise, lr: fit._DeviceSteps(
        model, target, noise, lr, graphs=False))
    device = fit.fit_latent_batch(images, configs)
    for got, want, dev in zip(batch, alone, device):
        assert sum(int(np.count_nonzero(g)) for g in want.grids) > 0
        for other in (got, dev):
            assert sum(int(np.count_nonzero(a != b)) for a, b in zip(other.grids, want.grids)) <= 2
            for (ow, _), (ww, _) in zip(other.model.layer_params(), want.model.layer_params()):
                torch.testing.assert_close(ow, ww, rtol=0, atol=1e-3)
    uniform = fit.fit_latent(images[0], LatentConfig(steps=150, lam=1e-4))
    assert any(not np.array_equal(a, b) for a, b in zip(uniform.grids, alone[0].grids))


def test_noise_option_reaches_training_and_is_checked():
    image = _image(16, 20, 2)
    files = {kind: bytes(sirencodec.encode(image, lam=0.01, latent_steps=40, latent_options={"noise": kind}).data)
             for kind in ("uniform", "gaussian", "kumaraswamy")}
    assert files["uniform"] == bytes(sirencodec.encode(image, lam=0.01, latent_steps=40).data)
    assert files["gaussian"] != files["uniform"] and files["kumaraswamy"] != files["uniform"]
    decoded = sirencodec.decode(files["gaussian"])
    assert decoded.shape == image.shape
    with pytest.raises(InputError, match="noise must be one of"):
        sirencodec.encode(image, lam=0.01, latent_steps=2, latent_options={"noise": "laplace"})
