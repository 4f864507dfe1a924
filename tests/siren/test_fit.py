import dataclasses

import numpy as np
import pytest
import torch

from sirencodec.siren import allocate
from sirencodec.siren import fit as fit_module
from sirencodec.format import seeded
from sirencodec.siren.config import PRESETS, FitConfig
from sirencodec.errors import InputError
from sirencodec.siren.fit import FitResult, fit_network, layer_bits
from sirencodec.siren.grid import coordinates
from sirencodec.siren.model import Siren
from sirencodec.siren.quant import step_range as quant_range_at_step
from sirencodec.siren.network import dense_layers, forward, from_uint8, render, to_uint8
from sirencodec.siren.prune import layer_targets

CPU = torch.device("cpu")
TEST = PRESETS["test"]


def _image(h: int = 12, w: int = 16, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A smooth ramp plus a little noise: something a tiny SIREN can partly learn."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 128 + 80 * np.sin(x / 3.0) * np.cos(y / 4.0)
    img = base[..., None] + rng.normal(0, 10, (h, w, channels))
    img = np.clip(img, 0, 255).astype(np.uint8)
    return img[..., 0] if channels == 1 else img


CONFIG = dataclasses.replace(TEST, first_bits=10, bias_dtype="float16", first_bias_dtype="float32",
                             bias_bits=9, first_bias_bits=13)


@pytest.fixture(scope="module")
def result() -> FitResult:
    return fit_network(_image(), CONFIG, CPU)


def test_network_is_valid_and_quantized_as_configured(result):
    net = result.network
    net.validate()
    assert (net.width, net.height, net.channels) == (16, 12, 1)
    assert [layer.weight.bits for layer in net.layers] == [10, 6, 6, 6]
    assert [layer.bias_dtype for layer in net.layers] == ["quantized", "quantized", "quantized", "float16"]
    # Seeded residuals (the default): the first layer's weights and the quantized biases code
    # their residual from the seeded values; a bias keeps the step its configured bit width
    # gives over the seeded range, and its residual's smaller range takes fewer bits.
    assert net.layers[0].weight.offset is not None
    assert all(layer.weight.offset is None for layer in net.layers[1:])
    for i, (layer, nominal) in enumerate(zip(net.layers[:-1], [13, 9, 9])):
        code, fan_in = layer.bias_code, net.layer_shapes()[i][1]
        assert code.offset is not None
        assert code.scale == float(np.float32(2 * seeded.bias_bound(fan_in) / ((1 << nominal) - 1)))
        assert 2 <= code.bits < nominal
    for layer in net.layers:
        t = layer.weight
        assert t.q.min() >= 0 and t.q.max() < (1 << t.bits)  # every stored integer, pruned or not
    assert set(result.stage_seconds) == {"fit", "prune", "qat"}
    assert result.restarts == 0
    assert all(np.isfinite(v) for v in result.stage_psnr.values())


def test_without_seeded_residuals_biases_keep_their_bit_widths():
    net = fit_network(_image(), dataclasses.replace(CONFIG, seeded_residuals=False), CPU).network
    assert [layer.bias_code.bits for layer in net.layers[:-1]] == [13, 9, 9]
    assert all(layer.weight.offset is None for layer in net.layers)
    assert all(layer.bias_code.offset is None for layer in net.layers[:-1])


def test_seeded_first_layer_is_never_pruned():
    # No hidden layer: the default profile's spill-over goes to the output layer alone.
    net = fit_network(_image(), dataclasses.replace(CONFIG, hidden_layers=0, prune=0.2), CPU).network
    assert net.layers[0].weight.mask.all() and net.layers[0].weight.offset is not None
    assert int((~net.layers[1].weight.mask).sum()) == round(0.2 * net.num_weights)
    with pytest.raises(InputError, match="first layer 0"):
        fit_network(_image(), dataclasses.replace(CONFIG, layer_prune=(0.1, 0.2, 0.2, 0.0)), CPU)


def test_seeded_residuals_start_from_the_seeded_values_and_code_small_residuals(result):
    net = result.network
    first = net.layers[0].weight
    start = seeded.first_weights(first.shape)
    # The trained weights stay close to their seeded start: the residual spans far fewer
    # levels than the weights themselves would at the same step.
    residual_levels = int(first.q.max() - first.q.min())
    weight_levels = float((first.dequantize().max() - first.dequantize().min()) / first.scale)
    assert residual_levels < weight_levels / 4
    assert np.array_equal(first.dequantize(), start + (first.q - first.zero_point).astype(np.float32)
                          * np.float32(first.scale))


def test_pruned_counts_are_exact(result):
    net = result.network
    targets = layer_targets(net.layer_shapes(), TEST.prune)
    pruned = [int((~layer.weight.mask).sum()) for layer in net.layers]
    assert pruned == targets
    assert sum(pruned) == round(TEST.prune * net.num_weights)
    assert sum(pruned) > 0


def test_masked_weights_are_zero_everywhere(result):
    model = result.model
    for i, layer in enumerate(result.network.layers):
        mask = torch.from_numpy(layer.weight.mask)
        assert bool((model.weights[i].detach()[~mask] == 0).all())  # the float parameters
        assert bool((layer.weight.q[~layer.weight.mask] == layer.weight.zero_point).all())
        assert np.all(layer.weight.dequantize()[~layer.weight.mask] == 0)


def test_exported_weights_equal_last_forward_exactly(result):
    model = result.model
    for i, layer in enumerate(result.network.layers):
        assert torch.equal(torch.from_numpy(layer.weight.dequantize()), model.effective_weight(i).detach())
        assert torch.equal(torch.from_numpy(layer.bias), model.effective_bias(i).detach())
    # ... so the decoder renders what the training saw (up to sin ulps).
    with torch.no_grad():
        seen = model(torch.from_numpy(coordinates(12, 16))).numpy()
    seen_pixels = to_uint8(seen).reshape(12, 16)
    rendered = render(result.network)
    diff = np.abs(rendered.astype(int) - seen_pixels.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.05


def test_float_biases_when_bias_bits_are_none():
    config = dataclasses.replace(CONFIG, bias_bits=None, first_bias_bits=None)
    net = fit_network(_image(), config, CPU).network
    net.validate()
    assert [layer.bias_dtype for layer in net.layers] == ["float32", "float16", "float16", "float16"]
    assert all(layer.bias_code is None for layer in net.layers)


def test_deterministic(result):
    config = CONFIG
    again = fit_network(_image(), config, CPU)
    for a, b in zip(result.network.layers, again.network.layers):
        assert np.array_equal(a.weight.q, b.weight.q) and np.array_equal(a.weight.mask, b.weight.mask)
        assert (a.weight.scale, a.weight.zero_point) == (b.weight.scale, b.weight.zero_point)
        assert np.array_equal(a.bias, b.bias)
    other = fit_network(_image(), dataclasses.replace(config, seed=1), CPU)
    pairs = zip(result.network.layers, other.network.layers)
    assert any(not np.array_equal(a.weight.q, b.weight.q) for a, b in pairs)


def test_minibatch_rgb_and_progress():
    calls = []
    config = dataclasses.replace(
        TEST, batch_pixels=50, layer_prune=(0.0, 0.2, 0.5, 0.1), range_update_every=3
    )
    img = _image(channels=3)
    res = fit_network(img, config, CPU, progress=lambda *a: calls.append(a))
    assert res.network.channels == 3 and render(res.network).shape == (12, 16, 3)
    assert [c[:3] for c in calls] == (
        [("fit", t, TEST.fit_steps) for t in range(1, TEST.fit_steps + 1)]
        + [("prune", t, TEST.prune_steps) for t in range(1, TEST.prune_steps + 1)]
        + [("qat", t, TEST.qat_steps) for t in range(1, TEST.qat_steps + 1)]
    )
    psnrs = [c[3] for c in calls]
    assert psnrs[9] is not None and np.isfinite(psnrs[9]) and psnrs[0] is None
    assert calls[-1][3] is not None  # the last step of a stage always reports
    pruned = [int((~layer.weight.mask).sum()) for layer in res.network.layers]
    assert pruned == layer_targets(res.network.layer_shapes(), TEST.prune, config.layer_prune)
    again = fit_network(img, config, CPU)
    pairs = zip(res.network.layers, again.network.layers)
    assert all(np.array_equal(a.weight.q, b.weight.q) for a, b in pairs)


def _spoil_loss(monkeypatch, call: int, factor: float) -> None:
    """Multiply the training loss by ``factor`` at the ``call``-th loss evaluation only."""
    real = fit_module.mse_loss
    state = {"calls": 0}

    def spoiled(pred, target):
        state["calls"] += 1
        loss = real(pred, target)
        return loss * factor if state["calls"] == call else loss

    monkeypatch.setattr(fit_module, "mse_loss", spoiled)


def test_divergence_restarts_stage_at_half_rate(monkeypatch):
    _spoil_loss(monkeypatch, TEST.fit_steps + 3, float("nan"))  # prune stage, step 3
    res = fit_network(_image(), TEST, CPU)
    assert res.restarts == 1
    assert res.stage_lr["fit"] == TEST.lr
    assert res.stage_lr["prune"] == pytest.approx(TEST.lr * fit_module.PRUNE_LR_FACTOR / 2)
    assert res.stage_lr["qat"] == TEST.qat_lr
    res.network.validate()
    for layer in res.network.layers:
        assert np.all(np.isfinite(layer.weight.dequantize())) and np.all(np.isfinite(layer.bias))
    assert sum(int((~layer.weight.mask).sum()) for layer in res.network.layers) == round(
        TEST.prune * res.network.num_weights
    )


def test_never_converging_raises(monkeypatch):
    def exploding(pred, target):
        return ((pred - target) ** 2).mean() * float("inf")

    monkeypatch.setattr(fit_module, "mse_loss", exploding)
    with pytest.raises(InputError, match="diverged in the fit stage"):
        fit_network(_image(), dataclasses.replace(TEST, max_restarts=2), CPU)


def test_huge_learning_rate_still_gives_a_valid_network():
    res = fit_network(_image(), dataclasses.replace(TEST, lr=1e3, qat_lr=1e3), CPU)
    res.network.validate()
    assert all(np.all(np.isfinite(layer.weight.dequantize())) for layer in res.network.layers)


def test_bad_inputs_raise_input_error():
    with pytest.raises(InputError):
        fit_network(_image().astype(np.float32), TEST, CPU)
    with pytest.raises(InputError):
        fit_network(np.zeros((4, 4, 2), np.uint8), TEST, CPU)
    with pytest.raises(InputError):
        fit_network(_image(), dataclasses.replace(TEST, bits=1), CPU)
    with pytest.raises(InputError):
        fit_network(_image(), dataclasses.replace(TEST, prune=0.3, prune_steps=3, agp_n=5, agp_dt=1), CPU)
    with pytest.raises(InputError):
        fit_network(_image(), dataclasses.replace(TEST, omega0=30.01), CPU)
    for bad in (0.0, -0.1, float("nan"), float("inf")):
        with pytest.raises(InputError, match="quant_noise"):
            fit_network(_image(), dataclasses.replace(TEST, quant_noise=bad), CPU)


def test_learning_rate_follows_the_width_unless_given():
    from sirencodec.siren.config import LR_NARROW, LR_WIDE, LR_WIDE_FROM, default_lr

    assert default_lr(LR_WIDE_FROM - 1) == LR_NARROW > LR_WIDE == default_lr(LR_WIDE_FROM)
    assert PRESETS["default"].lr is None and default_lr(PRESETS["default"].hidden_width) == LR_WIDE
    config = dataclasses.replace(TEST, lr=None)  # 8 wide: the narrow rate
    res = fit_network(_image(), config, CPU)
    assert res.config.lr == LR_NARROW and res.stage_lr["fit"] == LR_NARROW
    assert res.stage_lr["prune"] == pytest.approx(LR_NARROW * fit_module.PRUNE_LR_FACTOR)
    given = fit_network(_image(), dataclasses.replace(TEST, lr=5e-4), CPU)
    assert given.config.lr == 5e-4 and given.stage_lr["fit"] == 5e-4


def test_presets_are_valid():
    assert {"fast", "default", "test"} <= set(PRESETS)
    for config in PRESETS.values():
        assert isinstance(config, FitConfig)
        fit_module._check_config(config, 1)
        fit_module._check_config(config, 3)
        assert len(layer_bits(config, config.hidden_layers + 2)) == config.hidden_layers + 2


def test_collapse_without_nan_restarts_fit_stage(monkeypatch):
    # A loss that jumps to 100x (20 dB) its earlier value without becoming NaN is a collapse.
    _spoil_loss(monkeypatch, 2 * fit_module.PSNR_EVERY, 100.0)
    config = dataclasses.replace(TEST, fit_steps=3 * fit_module.PSNR_EVERY)
    res = fit_network(_image(), config, CPU)
    assert res.restarts == 1 and res.stage_lr["fit"] == config.lr / 2


def test_divergence_goes_back_to_the_last_checkpoint(monkeypatch):
    # Checkpoints every 20 steps; the loss read back at step 30 is NaN: the stage resumes
    # from step 20 at half the rate instead of starting over.
    monkeypatch.setattr(fit_module, "CHECKPOINT_EVERY", 2 * fit_module.PSNR_EVERY)
    _spoil_loss(monkeypatch, 3 * fit_module.PSNR_EVERY, float("nan"))
    config = dataclasses.replace(TEST, fit_steps=5 * fit_module.PSNR_EVERY)
    steps: list[int] = []
    res = fit_network(_image(), config, CPU, progress=lambda s, t, n, p: steps.append(t) if s == "fit" else None)
    n = fit_module.PSNR_EVERY
    assert steps == list(range(1, 3 * n)) + list(range(2 * n + 1, 5 * n + 1))
    assert res.restarts == 1 and res.stage_lr["fit"] == config.lr / 2
    res.network.validate()
    assert all(np.all(np.isfinite(layer.weight.dequantize())) for layer in res.network.layers)


def test_checkpoints_do_not_change_an_undisturbed_fit(monkeypatch):
    config = dataclasses.replace(TEST, fit_steps=4 * fit_module.PSNR_EVERY)
    plain = fit_network(_image(), config, CPU)
    monkeypatch.setattr(fit_module, "CHECKPOINT_EVERY", fit_module.PSNR_EVERY)
    checked = fit_network(_image(), config, CPU)
    assert checked.restarts == 0
    for a, b in zip(plain.network.layers, checked.network.layers):
        assert np.array_equal(a.weight.q, b.weight.q) and np.array_equal(a.bias, b.bias)


def test_step_range_covers_the_range_with_the_fewest_bits():
    w = torch.tensor([[-0.30, 0.05], [0.50, 0.0]])
    mask = torch.tensor([[True, True], [True, False]])
    scale, zero, bits = quant_range_at_step(w, mask, 0.01)
    assert scale == pytest.approx(0.01) and float(np.float32(scale)) == scale
    # -0.30 .. 0.50 is 80 steps: 81 levels need 7 bits; Z puts -0.30 at level 0.
    assert (bits, zero) == (7, 30)
    q = torch.clamp(torch.round(w / scale) + zero, 0, (1 << bits) - 1)
    assert float(((q - zero) * scale - w)[mask].abs().max()) <= scale / 2 + 1e-7
    assert quant_range_at_step(w, mask, 0.5)[2] == 2  # never below MIN_BITS
    # A step too fine for 16 bits falls back to the min/max range at 16 bits.
    assert quant_range_at_step(w, mask, 1e-7)[2] == 16


def test_bit_allocation_gives_insensitive_layers_coarse_steps():
    torch.manual_seed(0)
    model = Siren(6, 1, 1, generator=torch.Generator().manual_seed(0))
    model.enable_quantization([8, 8, 8])
    coords = torch.from_numpy(coordinates(8, 8))
    target = torch.zeros(64, 1)
    with torch.no_grad():
        model.weights[2].zero_()  # the output ignores layers 0 and 1 entirely
        model.weights[2][0, 0] = 0.5
    keep = torch.ones(6, 6, dtype=torch.bool)
    keep[0] = False  # ... except through hidden unit 0, whose inputs are all pruned
    model.set_mask(1, keep)
    model.update_ranges()
    old = [float(s) for s in model.q_scale]
    steps = allocate.allocate_steps(model, coords, target, seed=0)
    ratio = allocate.ALLOC_RATIO
    assert steps[0] == pytest.approx(old[0] * ratio) and steps[1] == pytest.approx(old[1] * ratio)
    assert steps[2] < old[2]  # the only layer that matters gets finer than the uniform allocation
    assert model.steps == steps and [float(s) for s in model.q_scale] == pytest.approx(steps)


def test_bit_allocation_result_is_exact_and_moves_bits():
    config = dataclasses.replace(PRESETS["test"], allocate_bits=True, quant_noise=None, hidden_width=10, hidden_layers=3)
    img = _image(16, 16)
    res = fit_network(img, config, torch.device("cpu"))
    net = res.network
    net.validate()
    bits = [layer.weight.bits for layer in net.layers]
    assert len(set(bits)) > 1, bits  # precision moved between layers
    dense = forward(dense_layers(net), net.omega0_first, net.omega0_hidden, coordinates(16, 16))
    with torch.no_grad():
        model_out = res.model(torch.from_numpy(coordinates(16, 16))).numpy()
    assert np.array_equal(to_uint8(dense), to_uint8(model_out))


def test_balanced_steps_meet_a_given_budget():
    kept, sens, steps = [10, 200, 50], [4.0, 0.5, 2.0], [0.01, 0.02, 0.01]
    own = sum(a * s * s for a, s in zip(sens, steps))
    for budget in (None, own / 9, own * 4):
        out = allocate.balanced_steps(kept, sens, steps, budget)
        assert sum(a * s * s for a, s in zip(sens, out)) == pytest.approx(own if budget is None else budget)
        # The split is the same whatever the budget: S_i**2 proportional to N_i / a_i.
        assert [s * s * a / n for s, a, n in zip(out, sens, kept)] == pytest.approx([out[0] ** 2 * sens[0] / kept[0]] * 3)


def test_bit_allocation_with_a_noise_share_follows_the_fit():
    """quant_noise sets the estimated quantization distortion to a share of the float MSE:
    a smaller share gives finer steps, and the estimate matches the measured MSE rise."""
    import copy

    img = _image(16, 16)
    coords = torch.from_numpy(coordinates(16, 16))
    target = torch.from_numpy(from_uint8(img).reshape(-1, 1))
    model = Siren(10, 2, 1, generator=torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(100):
        loss = fit_module.mse_loss(model(coords), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    results = {}
    for share in (0.05, 0.01):
        m = copy.deepcopy(model)
        m.enable_quantization([8] * m.num_layers)
        m.update_ranges()
        float_mse = allocate.SensitivityProbe(m, coords, target, seed=0).float_mse()
        results[share] = allocate.allocate_steps(m, coords, target, seed=0, noise_share=share)
        with torch.no_grad():
            rise = float(fit_module.mse_loss(m(coords), target)) - float_mse
        assert 0.3 * share * float_mse < rise < 3 * share * float_mse, (share, rise, float_mse)
    assert all(f < c for f, c in zip(results[0.01], results[0.05]))


def test_a_near_exact_fit_of_a_tiny_image_is_not_a_collapse():
    """The default (48, 4) network on a 32 x 32 crop fits it to 50-60 dB, where Adam's swings
    exceed COLLAPSE_DB; those are not divergence (they once failed the encode after four
    restarts). A fall to below COLLAPSE_FLOOR_DB still is."""
    import dataclasses

    import sirencodec
    from sirencodec.siren.config import PRESETS
    from sirencodec.siren.fit import COLLAPSE_DB, COLLAPSE_FLOOR_DB, collapsed
    from tests import ROOT

    assert collapsed(COLLAPSE_FLOOR_DB - 1, COLLAPSE_FLOOR_DB - 1 + COLLAPSE_DB + 0.5)
    assert not collapsed(COLLAPSE_FLOOR_DB + 1, COLLAPSE_FLOOR_DB + 1 + COLLAPSE_DB + 10)
    assert not collapsed(COLLAPSE_FLOOR_DB - 10, COLLAPSE_FLOOR_DB - 10 + COLLAPSE_DB - 0.5)
    from PIL import Image

    crop = np.asarray(Image.open(ROOT / "sample_images" / "cameraman256.png").convert("L"))[100:132, 100:132].copy()
    config = dataclasses.replace(PRESETS["default"], fit_steps=1500, prune_steps=300, qat_steps=200)
    result = sirencodec.encode(crop, preset="default", fit_steps=1500, prune_steps=300, qat_steps=200, device="cpu")
    assert result.report["psnr"] > 40 and config.hidden_width == result.report["hidden_width"]
    assert result.report["restarts"] == 0  # (the old rule restarted this fit three times)
