"""Batched latent training (sirencodec.latent.fit.fit_latent_batch) and batched encoding
(sirencodec.batching, encode_latent_many): a network trained in a batch is the network trained
alone, up to floating-point order."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from sirencodec.batching import TRAIN_BYTES_PER_PIXEL, Finisher, batch_limit, batches
from sirencodec.latent.config import LatentConfig
from sirencodec.latent.encode import encode_latent, encode_latent_many
from sirencodec.latent.fit import fit_latent, fit_latent_batch


def _image(h: int, w: int, seed: int, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    planes = [128 + 90 * np.sin(x / (3 + c + seed) + rng.uniform(0, 3)) * np.cos(y / 4) for c in range(channels)]
    img = np.clip(np.stack(planes, -1) + rng.normal(0, 6, (h, w, channels)), 0, 255).astype(np.uint8)
    return img[..., 0] if channels == 1 else img


@pytest.mark.parametrize("channels", [1, 3])
def test_batched_networks_are_the_networks_alone(channels):
    """Each network of a batch (its own image, lam and seed: its own noise and initial weights)
    ends where it ends alone, up to the float order of the batch's matrix products: weights
    within 5e-3 (they move by about 0.1), every rounded latent the same."""
    images = [_image(24, 20, s, channels) for s in range(3)]
    configs = [LatentConfig(steps=150, lam=lam, seed=seed) for lam, seed in ((1e-4, 0), (3e-5, 5), (1e-5, 2))]
    batch = fit_latent_batch(images, configs)
    assert all(any(np.count_nonzero(g) for g in fitted.grids) for fitted in batch)  # latents to compare
    for image, config, got in zip(images, configs, batch):
        alone = fit_latent(image, config)
        assert got.lam == config.lam
        for g, a in zip(got.grids, alone.grids):
            np.testing.assert_array_equal(g, a)
        for (gw, gb), (aw, ab) in zip(got.model.layer_params(), alone.model.layer_params()):
            torch.testing.assert_close(gw, aw, rtol=0, atol=5e-3)
            torch.testing.assert_close(gb, ab, rtol=0, atol=5e-3)
    # the networks differ from one another: the test would notice a batch that mixed them up
    assert not all(np.array_equal(a, b) for a, b in zip(batch[0].grids, batch[1].grids))
    assert not torch.equal(batch[0].model.layer_params()[0][0], batch[1].model.layer_params()[0][0])


def test_batched_files_agree_with_files_alone():
    """At the machine's thread count (float order may differ): same file within a few per cent
    of bytes and 0.1 dB."""
    images = [_image(32, 32, s) for s in range(2)]
    configs = [LatentConfig(steps=150, lam=lam) for lam in (3e-3, 5e-4)]
    batched = encode_latent_many(images, configs, "cpu")
    for image, config, got in zip(images, configs, batched):
        alone = encode_latent(image, config, "cpu")
        assert got.report["batch"] == 2 and "batch" not in alone.report
        assert abs(got.report["bytes"] / alone.report["bytes"] - 1) <= 0.03
        assert abs(got.report["psnr"] - alone.report["psnr"]) <= 0.1
    assert batched[1].report["bytes"] > batched[0].report["bytes"]  # each kept its own lam


def test_finishing_on_worker_processes_writes_the_same_files():
    images = [_image(16, 16, s) for s in range(2)]
    configs = [LatentConfig(steps=30, lam=1e-3)] * 2
    serial = encode_latent_many(images, configs, "cpu", workers=1)
    parallel = encode_latent_many(images, configs, "cpu", workers=2)
    assert [r.data for r in serial] == [r.data for r in parallel]
    with Finisher(2) as finisher:
        futures = [finisher.submit(math.pow, *job) for job in [(2, 3), (3, 2), (5, 0)]]
        assert [f.result() for f in futures] == [8.0, 9.0, 1.0]


def test_a_batch_is_one_shape_and_one_training():
    config = LatentConfig(steps=5)
    with pytest.raises(ValueError, match="one shape"):
        fit_latent_batch([_image(8, 8, 0), _image(8, 9, 0)], [config, config])
    with pytest.raises(ValueError, match="lam and seed"):
        fit_latent_batch([_image(8, 8, 0)] * 2, [config, dataclasses.replace(config, steps=6)])
    with pytest.raises(ValueError, match="one config per image"):
        fit_latent_batch([_image(8, 8, 0)] * 2, [config])


def test_batches_group_by_shape_within_the_memory_limit(monkeypatch):
    shapes = [(4, 4), (5, 4), (4, 4), (4, 4), (5, 4)]
    assert batches(shapes, lambda shape: 2) == [[0, 2], [3], [1, 4]]
    # as many H x W networks as the memory budget holds at TRAIN_BYTES_PER_PIXEL, at least one
    monkeypatch.setattr("sirencodec.batching.memory_budget", lambda device: 10 * TRAIN_BYTES_PER_PIXEL * 64 * 32 + 1)
    cpu = torch.device("cpu")
    assert batch_limit(64, 32, cpu) == 10
    assert batch_limit(64, 32, cpu, limit=4) == 4
    assert batch_limit(640, 320, cpu) == 1


def test_device_scalar_steps_train_as_host_steps(monkeypatch):
    """The GPU's steps (learning rate, temperature and lam in device tensors, Adam's tensor
    learning rate), run on the CPU without graphs: the same networks up to float rounding."""
    import sirencodec.latent.fit as fit

    images = [_image(24, 20, s) for s in range(2)]
    configs = [LatentConfig(steps=150, lam=lam) for lam in (1e-4, 1e-5)]
    host = fit_latent_batch(images, configs)
    monkeypatch.setattr(fit, "_HostSteps", lambda model, target, noise, lr: fit._DeviceSteps(
        model, target, noise, lr, graphs=False))
    device = fit_latent_batch(images, configs)
    for h, d in zip(host, device):
        assert sum(int(np.count_nonzero(g)) for g in h.grids) > 0
        assert sum(int(np.count_nonzero(a != b)) for a, b in zip(h.grids, d.grids)) <= 2
        for (hw, _), (dw, _) in zip(h.model.layer_params(), d.model.layer_params()):
            torch.testing.assert_close(hw, dw, rtol=0, atol=1e-3)


def test_a_batch_narrowed_at_the_first_control_point_goes_on_as_the_networks_alone():
    """``choose`` keeps some networks at the first control point: each goes on from where it
    was (parameters, noise stream, Adam state) and ends where it ends trained alone."""
    images = [_image(24, 20, s) for s in range(3)]
    configs = [LatentConfig(steps=150, lam=lam, seed=s) for s, lam in enumerate((1e-4, 3e-5, 1e-5))]
    seen = []

    def choose(snapshots, lams):
        seen.append((len(snapshots), lams))
        return [2, 0]

    kept = fit_latent_batch(images, configs, choose=choose)
    assert seen == [(3, [1e-4, 3e-5, 1e-5])] and [k.lam for k in kept] == [1e-5, 1e-4]
    for index, got in zip((2, 0), kept):
        alone = fit_latent(images[index], configs[index])
        assert sum(int(np.count_nonzero(a != b)) for a, b in zip(got.grids, alone.grids)) <= 2
        for (gw, _), (aw, _) in zip(got.model.layer_params(), alone.model.layer_params()):
            torch.testing.assert_close(gw, aw, rtol=0, atol=5e-3)
    one = fit_latent_batch(images, configs, choose=lambda snapshots, lams: [1])
    assert len(one) == 1 and one[0].model.batch == 1
    with pytest.raises(ValueError, match="choose must name"):
        fit_latent_batch(images, configs, choose=lambda snapshots, lams: [3])


def test_encode_latent_many_batches_by_shape_and_limit():
    """Networks of one shape and one training train together, ``batch`` at most per batch;
    results in input order, each reported once as it is done."""
    from sirencodec.latent.encode import encode_latent_many

    images = [_image(16, 16, 0), _image(12, 16, 1), _image(16, 16, 2), _image(16, 16, 3)]
    configs = [LatentConfig(steps=10, lam=1e-3, seed=k) for k in range(4)]
    configs[3] = LatentConfig(steps=12, lam=1e-3)  # another training: another batch
    seen: list[int] = []
    results = encode_latent_many(images, configs, "cpu", batch=2, workers=2, on_result=lambda i, r: seen.append(i))
    assert sorted(seen) == [0, 1, 2, 3]
    assert [r.decoded.shape for r in results] == [im.shape for im in images]
    assert [r.report["batch"] for r in results] == [2, 1, 2, 1]
    assert [r.report["config"]["seed"] for r in results] == [0, 1, 2, 0]
