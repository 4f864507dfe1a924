"""Learned upsampling (format version 6): the x2 steps of format_spec.md section 10 against
torch's bicubic interpolation and against a direct step-by-step evaluation, the encoder's torch
model against the numpy decoder, and the option through the encoder to a version 6 file."""

import struct
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import sirencodec
from sirencodec import FormatError, InputError
from sirencodec.format import QuantizedTensor, latent_v4
from sirencodec.latent import synthesis
from sirencodec.latent.config import effort_config
from sirencodec.latent.export import export
from sirencodec.latent.fit import fit_latent
from sirencodec.metrics import psnr
from tests.netgen import random_latent_network


def steps_by_hand(x: np.ndarray, n: int, level: int, filters: np.ndarray) -> np.ndarray:
    """The spec's x2 steps along axis 0, one after another, written from its formula."""
    for s in range(level, 0, -1):
        h = filters[s - 1]
        n_out = -(-n // 2 ** (s - 1))
        y = np.zeros((n_out,) + x.shape[1:])
        for j in range(n_out):
            i = j // 2
            for t in range(4):
                if j % 2 == 0:
                    y[j] += h[t] * x[min(max(i - 2 + t, 0), len(x) - 1)]
                else:
                    y[j] += h[3 - t] * x[min(max(i - 1 + t, 0), len(x) - 1)]
        x = y
    return x


def test_keys_taps_are_the_cubic_weights_at_a_quarter_sample():
    """Keys' cubic kernel (a = -0.75) at distances 1.75, 0.75, 0.25, 1.25: -9, 67, 225, -27 / 256."""
    a = -0.75
    far = lambda u: a * u**3 - 5 * a * u**2 + 8 * a * u - 4 * a  # noqa: E731
    near = lambda u: (a + 2) * u**3 - (a + 3) * u**2 + 1  # noqa: E731
    assert np.array_equal(synthesis.cubic_x2(), [far(1.75), near(0.75), near(0.25), far(1.25)])
    assert np.array_equal(synthesis.cubic_x2() * 256, [-9, 67, 225, -27])


@pytest.mark.parametrize("height,width,level", [(40, 56, 3), (37, 29, 2), (9, 5, 3), (64, 64, 6), (3, 11, 1)])
def test_keys_filters_are_torch_bicubic_twice_over(height, width, level):
    """With Keys' taps each step is torch's x2 bicubic (align_corners=False), cropped to the
    next level's size; ``level`` steps of it are the composed taps."""
    h, w = latent_v4.grid_shapes(height, width, [level])[0]
    g = np.random.default_rng(level).normal(size=(h, w))
    filters = np.tile(synthesis.cubic_x2(), (level, 1))
    taps = (synthesis.learned_taps(height, level, filters), synthesis.learned_taps(width, level, filters))
    want = torch.from_numpy(g)[None, None]
    for s in range(level, 0, -1):
        size = latent_v4.grid_shapes(height, width, [s - 1])[0]
        want = F.interpolate(want, scale_factor=2, mode="bicubic", align_corners=False)[..., :size[0], :size[1]]
    assert np.abs(synthesis.upsample(g, height, width, taps=taps) - want[0, 0].numpy()).max() < 1e-12


@pytest.mark.parametrize("n,level", [(1, 2), (2, 3), (13, 3), (64, 5), (100, 6), (257, 8)])
def test_composed_taps_are_the_steps_one_after_another(n, level):
    rng = np.random.default_rng(n)
    filters = synthesis.cubic_x2() + rng.normal(0, 0.2, (level, 4))
    x = rng.normal(size=(-(-n // 2**level), 3))
    idx, w = synthesis.learned_taps(n, level, filters)
    assert w.shape[1] <= 7  # the spec's bound on the samples one output reaches
    got = sum(w[:, k, None] * x[idx[:, k]] for k in range(w.shape[1]))
    assert np.abs(got - steps_by_hand(x, n, level, filters)).max() < 1e-12


@pytest.mark.parametrize("n,level", [(1, 2), (2, 3), (13, 3), (64, 5), (100, 6), (257, 8)])
def test_steps_one_after_another_are_the_spec_formula(n, level):
    """The decoder's columns: ``x2_steps`` along the last axis is the spec's steps by hand."""
    rng = np.random.default_rng(n + 1)
    filters = synthesis.cubic_x2() + rng.normal(0, 0.2, (level, 4))
    x = rng.normal(size=(3, -(-n // 2**level)))
    got = synthesis.x2_steps(x, n, filters)
    assert got.shape == (3, n)
    assert np.abs(got - steps_by_hand(x.T, n, level, filters).T).max() < 1e-12


def test_taps_of_all_levels_in_one_pass_are_each_levels_own():
    rng = np.random.default_rng(5)
    filters = synthesis.cubic_x2() + rng.normal(0, 0.2, (6, 4))
    both = synthesis.learned_taps_levels(100, [2, 5, 6], filters)
    assert sorted(both) == [2, 5, 6]
    for level, (idx, w) in both.items():
        x = rng.normal(size=(-(-100 // 2**level), 2))
        got = sum(w[:, k, None] * x[idx[:, k]] for k in range(w.shape[1]))
        assert np.abs(got - steps_by_hand(x, 100, level, filters)).max() < 1e-12


@pytest.mark.parametrize("height,width", [(37, 29), (1, 40), (40, 1), (64, 96)])
def test_rendered_learned_grids_are_the_steps_by_hand(height, width):
    """Every grid of a level 0 .. 6 network, as ``render`` upsamples it (a single linear layer
    reads one grid's values), is the spec's steps by hand along rows and then columns."""
    rng = np.random.default_rng(height * width)
    levels = tuple(range(7))
    grids = [rng.integers(-9, 10, s) for s in latent_v4.grid_shapes(height, width, levels)]
    filters = synthesis.cubic_x2() + rng.normal(0, 0.1, (6, 4))
    for k, (grid, level) in enumerate(zip(grids, levels)):
        weight = np.zeros((1, 7))
        weight[0, k] = 1 / 64  # pixels = 255 * value / 64, rounded: within range for |value| < 32
        image = synthesis.render(grids, [(weight, np.array([0.5]))], None, height, width, levels, filters)
        want = grid.astype(np.float64)
        if grid.shape[0] != height:
            want = steps_by_hand(want, height, level, filters)
        if grid.shape[1] != width:
            want = steps_by_hand(want.T, width, level, filters).T
        expected = np.clip(np.round(255 * (want / 64 + 0.5)), 0, 255)
        assert np.array_equal(image, expected), (k, level)


def test_model_defines_the_decoders_image():
    """The torch model with the file's quantized filters, weights and latents computes the numpy
    decoder's image (up to float32 rounding); random latents at every level, so that each
    level's upsampling shows in the pixels."""
    from sirencodec.latent.fit import LatentFit
    from sirencodec.latent.model import LatentModel

    height, width = 13, 18
    cfg = effort_config("default", {"upsampling": "learned", "latent_channels": "1/2"})
    model = LatentModel(height, width, cfg, channels=3)
    rng = np.random.default_rng(3)
    with torch.no_grad():
        for y in model.latents:
            y.copy_(torch.from_numpy(rng.integers(-3, 4, y.shape)).float())
        for p in [*model.syn_weights, *model.syn_biases]:
            p.copy_(torch.from_numpy(rng.normal(0, 0.3, p.shape)).float())
        model.syn_biases[-1].add_(0.5)
        model.up_residual.copy_(torch.from_numpy(rng.normal(0, 0.1, model.up_residual.shape)).float())
    assert max(model.grid_levels) == model.up_residual.shape[1] == 5  # levels 0..5: 13x18 .. 1x1
    grids = [y.detach()[0].numpy().astype(np.int64) for y in model.latents]
    net = export(LatentFit(model=model, grids=grids, seconds=0.0, lam=0.0), 16)
    with torch.no_grad():
        model.up_residual.copy_(torch.from_numpy(net.upsampling.dequantize())[None])
        for w, b, ly in zip(model.syn_weights, model.syn_biases, net.synthesis):
            w.copy_(torch.from_numpy(ly.weight.dequantize())[None])
            b.copy_(torch.from_numpy(ly.bias)[None])
        got = model.synthesize([torch.from_numpy(g).float()[None] for g in grids])[0]
    want = synthesis.render_network(net)
    assert len(np.unique(want)) > 50
    assert np.abs(np.clip(np.round(255 * got.numpy()), 0, 255).transpose(1, 2, 0) - want).max() <= 1


def test_training_moves_the_filters():
    img = (np.random.default_rng(5).random((12, 16)) * 255).astype(np.uint8)
    fit = fit_latent(img, effort_config("default", {"steps": 30, "upsampling": "learned"}))
    trained = fit.model.up_residual.detach()[0].numpy()
    assert trained.shape == (4, 4) and np.abs(trained).max() > 1e-3
    stored = export(fit, 12).upsampling  # the file keeps them, to within half a 12-bit step
    assert np.abs(stored.dequantize() - trained).max() <= np.abs(trained).max() / 2047 * 0.51


def test_encoder_writes_version_6_and_reports_the_decoded_psnr():
    img = (np.random.default_rng(4).random((16, 20)) * 255).astype(np.uint8)
    result = sirencodec.encode(img, lam=0.01, latent_steps=30)  # the default network's filters are learned
    data = bytes(result.data)
    assert data[3] == 6
    net = sirencodec.unpack(data).network
    assert net.upsampling.shape == (max(net.grid_levels), 4)
    assert result.report["psnr"] == pytest.approx(psnr(img, sirencodec.decode(data)))
    assert sirencodec.inspect(data)["upsampling"]["filters"] == max(net.grid_levels)
    plain = sirencodec.encode(img, lam=0.01, latent_steps=30, latent_options={"upsampling": "bicubic"})
    assert bytes(plain.data)[3] == 4 and sirencodec.inspect(bytes(plain.data))["upsampling"] == "bicubic"
    with pytest.raises(InputError, match="upsampling"):
        sirencodec.encode(img, lam=0.01, latent_steps=3, latent_options={"upsampling": "nearest"})


def _with(net, **kw):
    fields = dict(width=net.width, height=net.height, channels=net.channels, grids=net.grids,
                  synthesis=net.synthesis, conv=net.conv, arm=net.arm, levels=net.levels, upsampling=net.upsampling)
    fields.update(kw)
    return latent_v4.LatentNetwork(**fields)


def test_version_6_round_trip_and_lowest_version():
    rng = np.random.default_rng(60)
    for levels in [(0, 1, 2), (1, 1, 3), (2,), (0, 2, 1, 2)]:
        net = random_latent_network(rng, width=int(rng.integers(8, 20)), height=int(rng.integers(5, 12)),
                                    channels=int(rng.choice([1, 3])), grid_levels=levels, upsampling_bits=7)
        data = latent_v4.pack(net)
        assert data[3] == 6
        got = sirencodec.unpack(data).network
        assert np.array_equal(got.upsampling.q, net.upsampling.q) and got.upsampling.scale == net.upsampling.scale
        assert latent_v4.pack(got) == data
        assert np.array_equal(sirencodec.decode(data), sirencodec.render(net))
        assert latent_v4.pack(_with(net, upsampling=None))[3] in (4, 5)
    # the filters change the image: the same network with Keys' taps (residuals at the zero point)
    keys = QuantizedTensor(np.full_like(net.upsampling.q, 64), net.upsampling.mask, 7, net.upsampling.scale, 64)
    assert not np.array_equal(sirencodec.render(_with(net, upsampling=keys)), sirencodec.render(net))


def test_version_6_filters_are_checked():
    net = random_latent_network(np.random.default_rng(61), width=12, height=8, grid_levels=(0, 1, 3),
                                upsampling_bits=6)
    t = net.upsampling
    wrong_count = QuantizedTensor(t.q[:2], t.mask[:2], t.bits, t.scale, t.zero_point)
    with pytest.raises(FormatError, match="upsampling filters of shape"):
        latent_v4.pack(_with(net, upsampling=wrong_count))
    level0 = random_latent_network(np.random.default_rng(62), width=12, height=8, grid_levels=(0, 0))
    with pytest.raises(FormatError, match="level 0"):
        latent_v4.pack(_with(level0, upsampling=QuantizedTensor(t.q[:0], t.mask[:0], 6, t.scale, 32)))
    data = latent_v4.pack(net)
    at = 10 + 1 + 3 + 6 + sum(r.bytes for r in latent_v4.unpack(data).records)  # the upsampling record
    assert data[at] == 3
    for pos, value, message in [(at, 2, "coarsest level"), (at, 4, "coarsest level"), (at + 1, 1, "bit width"),
                                (at + 2, 3, "unknown model")]:
        bad = data[:pos] + bytes([value]) + data[pos + 1:]
        bad = bad[:-4] + struct.pack("<I", zlib.crc32(bad[:-4]))
        with pytest.raises(FormatError, match=message):
            sirencodec.unpack(bad)
