"""The latent-grid image's math (sirencodec.latent.synthesis): the upsampling is torch's bicubic, so
the encoder's torch model and the numpy decoder define the same image."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sirencodec.format import latent_v4
from sirencodec.latent import synthesis


@pytest.mark.parametrize("shape_in,shape_out", [((128, 128), (256, 256)), ((1, 1), (64, 64)), ((2, 3), (64, 96)),
                                                ((3, 5), (17, 33)), ((48, 64), (192, 256)), ((7, 7), (7, 7))])
def test_upsampling_is_torch_bicubic(shape_in, shape_out):
    g = np.random.default_rng(0).normal(size=shape_in)
    want = F.interpolate(torch.from_numpy(g)[None, None], size=shape_out, mode="bicubic", align_corners=False)[0, 0]
    assert np.abs(synthesis.upsample(g, *shape_out) - want.numpy()).max() < 1e-12


def test_upsample_rows_sum_to_one():
    for n_in, n_out in ((4, 256), (128, 256), (5, 9)):
        assert np.allclose(synthesis.upsample_matrix(n_in, n_out).sum(axis=1), 1.0)


def test_grid_shapes_halve_and_round_up():
    assert latent_v4.grid_shapes(256, 192, 3) == [(256, 192), (128, 96), (64, 48)]
    assert latent_v4.grid_shapes(5, 3, 4) == [(5, 3), (3, 2), (2, 1), (1, 1)]
    assert latent_v4.max_levels(5, 3) == 4 and latent_v4.max_levels(256, 256) == 9
    assert latent_v4.max_levels(1, 1) == 1 and latent_v4.grid_shapes(256, 256, 9)[-1] == (1, 1)


@pytest.mark.parametrize("channels", [1, 3])
def test_synthesis_matches_torch_layers(channels):
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(4, 9, 11))
    layers = [(rng.normal(size=(6, 4)), rng.normal(size=6)), (rng.normal(size=(channels, 6)), rng.normal(size=channels))]
    kernel = rng.normal(size=(channels, channels, 3, 3))
    conv = (kernel.reshape(channels, 9 * channels), rng.normal(size=channels))
    got = synthesis.synthesize(feats, layers, conv)
    x = torch.from_numpy(feats)[None]
    h = F.conv2d(x, torch.from_numpy(layers[0][0])[:, :, None, None], torch.from_numpy(layers[0][1]))
    h = F.conv2d(torch.relu(h), torch.from_numpy(layers[1][0])[:, :, None, None], torch.from_numpy(layers[1][1]))
    want = h + F.conv2d(h, torch.from_numpy(kernel), torch.from_numpy(conv[1]), padding=1)
    assert got.shape == (channels, 9, 11)
    assert np.abs(got - want[0].numpy()).max() < 1e-12


def test_render_clips_and_rounds_to_uint8():
    grids = [np.full((4, 4), 3), np.zeros((2, 2), dtype=np.int64)]
    layers = [(np.array([[0.1, 0.0]]), np.array([0.2]))]  # out = 0.1 * 3 + 0.2 = 0.5
    img = synthesis.render(grids, layers, None, 4, 4)
    assert img.dtype == np.uint8 and np.all(img == 128)  # round(127.5) = 128
    layers = [(np.array([[1.0, 0.0]]), np.array([0.0]))]
    assert np.all(synthesis.render(grids, layers, None, 4, 4) == 255)
