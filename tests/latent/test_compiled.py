"""The CPU's compiled training steps (sirencodec.latent.fit, ``compiled``): the soft stage's
loss through ``torch.compile`` trains the networks the eager steps train, up to float rounding;
a compilation that fails trains on eagerly, exactly as eager steps would."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sirencodec.latent.fit as fit
from sirencodec.latent.config import LatentConfig
from sirencodec.latent.fit import fit_latent_batch
from tests.latent.test_batch import _image


def _same_networks(a, b, latents: int = 2, atol: float = 5e-3) -> None:
    for x, y in zip(a, b):
        assert sum(int(np.count_nonzero(g)) for g in x.grids) > 0  # latents to compare
        assert sum(int(np.count_nonzero(p != q)) for p, q in zip(x.grids, y.grids)) <= latents
        for (xw, xb), (yw, yb) in zip(x.model.layer_params(), y.model.layer_params()):
            torch.testing.assert_close(xw, yw, rtol=0, atol=atol)
            torch.testing.assert_close(xb, yb, rtol=0, atol=atol)


@pytest.mark.parametrize("images, lams", [
    ([_image(24, 20, 0)], [1e-4]),                                   # a network alone (srnenc's one image)
    ([_image(20, 16, s, 3) for s in range(2)], [1e-4, 1e-5]),        # a batch, colour
])
def test_compiled_steps_train_as_eager_steps(images, lams):
    """Learned filters, uniform noise and a hard stage: every rounded latent the same but two,
    weights within 5e-3 (they move by about 0.1)."""
    configs = [LatentConfig(steps=150, hard_fraction=0.1, lam=lam) for lam in lams]
    eager = fit_latent_batch(images, configs, compiled=False)
    compiled = fit_latent_batch(images, configs, compiled=True)
    assert {f.engine for f in eager} == {"eager"} and {f.engine for f in compiled} == {"compiled"}
    _same_networks(eager, compiled)
    assert not torch.equal(eager[0].model.syn_weights[0], compiled[0].model.syn_weights[0])  # it did compile


@pytest.mark.parametrize("message, shown", [("no C++ compiler\nsecond line", "no C++ compiler"), ("", "")])
def test_a_failed_compilation_trains_eagerly(monkeypatch, message, shown):
    def failing(fn, **options):
        def run(*args):
            raise RuntimeError(message)
        return run

    monkeypatch.setattr(fit.torch, "compile", failing)
    images, configs = [_image(24, 20, 1)], [LatentConfig(steps=60, lam=1e-4)]
    got, = fit_latent_batch(images, configs, compiled=True)
    want, = fit_latent_batch(images, configs, compiled=False)
    assert got.engine == f"eager (compilation failed: RuntimeError: {shown})"
    for g, w in zip(got.grids, want.grids):
        np.testing.assert_array_equal(g, w)
    for (gw, gb), (ww, wb) in zip(got.model.layer_params(), want.model.layer_params()):
        assert torch.equal(gw, ww) and torch.equal(gb, wb)


def test_compiling_is_chosen_by_the_soft_stage_work(monkeypatch):
    """By default a training compiles when its soft steps x networks x pixels reach
    COMPILE_MIN_WORK, and never when COMPILE is off."""
    monkeypatch.setattr(fit.torch, "compile", lambda fn, **options: fn)  # (no compilation: its choice is tested)
    image, config = _image(8, 10, 2), LatentConfig(steps=20, hard_fraction=0.5, lam=1e-3)  # 10 soft steps
    monkeypatch.setattr(fit, "COMPILE_MIN_WORK", 10 * 8 * 10 * 2)
    assert fit_latent_batch([image], [config])[0].engine == "eager"
    assert fit_latent_batch([image] * 2, [config] * 2)[0].engine == "compiled"
    monkeypatch.setattr(fit, "COMPILE_MIN_WORK", 10 * 8 * 10)
    assert fit_latent_batch([image], [config])[0].engine == "compiled"
    monkeypatch.setattr(fit, "COMPILE", False)
    assert fit_latent_batch([image], [config])[0].engine == "eager"
