"""What only a GPU can show: training on CUDA (graphs and eager steps), batched, and both
codecs' files from it. Skipped without a GPU; ``benchmarks/device_run.py`` runs them with
``pytest -m cuda``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sirencodec
from sirencodec.latent.config import LatentConfig
from sirencodec.latent.encode import encode_latent, encode_latent_many
from sirencodec.latent.fit import fit_latent_batch

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def _image(h: int, w: int, seed: int, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    planes = [128 + 90 * np.sin(x / (3 + c + seed)) * np.cos(y / 4) for c in range(channels)]
    img = np.clip(np.stack(planes, -1) + rng.normal(0, 6, (h, w, channels)), 0, 255).astype(np.uint8)
    return img[..., 0] if channels == 1 else img


@pytest.mark.parametrize("channels", [1, 3])
def test_graphs_train_as_eager_steps(channels):
    """A step replayed as a CUDA graph is the eager step: the same networks up to float order."""
    images = [_image(48, 40, s, channels) for s in range(2)]
    configs = [LatentConfig(steps=200, lam=lam, seed=s) for s, lam in enumerate((1e-4, 1e-5))]
    graphed = fit_latent_batch(images, configs, "cuda", graphs=True)
    eager = fit_latent_batch(images, configs, "cuda", graphs=False)
    assert graphed[0].engine == "cuda-graphs" and eager[0].engine == "eager"
    for g, e in zip(graphed, eager):
        assert sum(int(np.count_nonzero(g)) for g in g.grids) > 0
        for (gw, _), (ew, _) in zip(g.model.layer_params(), e.model.layer_params()):
            torch.testing.assert_close(gw, ew, rtol=0, atol=1e-3)


def test_batched_files_on_the_gpu_agree_with_files_alone():
    images = [_image(64, 64, s, 3) for s in range(3)]
    configs = [LatentConfig(steps=400, lam=lam) for lam in (4e-3, 1e-3, 2.5e-4)]
    batched = encode_latent_many(images, configs, "cuda")
    for image, config, got in zip(images, configs, batched):
        alone = encode_latent(image, config, "cuda")
        assert got.report["device"] == "cuda" and got.report["engine"] == "cuda-graphs"
        assert abs(got.report["bytes"] / alone.report["bytes"] - 1) <= 0.03
        assert abs(got.report["psnr"] - alone.report["psnr"]) <= 0.1


def test_gpu_files_match_cpu_files_in_rate_and_distortion():
    """The GPU draws other noise than the CPU, so files differ; their RD points stay close."""
    image = _image(64, 64, 0)
    cpu = sirencodec.encode(image, lam=1e-3, latent_steps=600, device="cpu").report
    gpu = sirencodec.encode(image, lam=1e-3, latent_steps=600, device="cuda").report
    assert abs(gpu["bytes"] / cpu["bytes"] - 1) <= 0.1
    assert abs(gpu["psnr"] - cpu["psnr"]) <= 0.5


def test_siren_encodes_on_the_gpu():
    image = _image(32, 32, 0)
    gpu = sirencodec.encode(image, preset="test", bits=9, prune=0.3, device="cuda")
    cpu = sirencodec.encode(image, preset="test", bits=9, prune=0.3, device="cpu")
    assert np.array_equal(sirencodec.decode(gpu.data), gpu.decoded)
    assert abs(gpu.report["psnr"] - cpu.report["psnr"]) <= 1.0


def test_batched_sirens_on_the_gpu_are_the_sirens_alone():
    import dataclasses

    from sirencodec.siren.batch import fit_network_batch
    from sirencodec.siren.config import PRESETS
    from sirencodec.siren.fit import fit_network

    base = dataclasses.replace(PRESETS["test"], fit_steps=60, prune_steps=40, qat_steps=30)
    images = [_image(32, 24, s) for s in range(3)]
    configs = [dataclasses.replace(base, seed=s, bits=b) for s, b in ((0, 8), (1, 6), (2, 9))]
    batched = fit_network_batch(images, configs, "cuda")
    for image, config, got in zip(images, configs, batched):
        alone = fit_network(image, config, torch.device("cuda"))
        for stage in ("fit", "prune", "qat"):
            assert got.stage_psnr[stage] == pytest.approx(alone.stage_psnr[stage], abs=0.02)
