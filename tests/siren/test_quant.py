import numpy as np
import pytest
import torch

from sirencodec.siren.model import Siren
from sirencodec.siren.network import dense_layers
from sirencodec.siren.network import forward as numpy_forward
from sirencodec.siren.prune import magnitude_mask
from sirencodec.siren.quant import (
    dequantize,
    export_network,
    fake_quantize,
    quant_range,
    quantize,
    round_float16,
)


def _tensor_params(scale: float, zero_point: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(scale, dtype=torch.float32), torch.tensor(float(zero_point))


@pytest.mark.parametrize("bits", [2, 4, 8, 12, 16])
def test_quant_range_and_codes(bits):
    g = torch.Generator().manual_seed(bits)
    w = torch.randn(20, 30, generator=g) * 0.3 + 0.05
    mask = torch.rand(20, 30, generator=g) > 0.3
    scale, zp = quant_range(w, mask, bits)
    levels = (1 << bits) - 1
    assert scale > 0 and float(np.float32(scale)) == scale
    assert 0 <= zp <= levels
    s, z = _tensor_params(scale, zp)
    q = quantize(w * mask, s, z, bits)
    assert bool(((q >= 0) & (q <= levels) & (q == torch.round(q))).all())
    assert bool((q[~mask] == zp).all())  # pruned -> exactly the zero point
    w_hat = dequantize(q, s, z)
    assert bool((w_hat[~mask] == 0).all())
    # Kept weights inside the range land within half a step (plus the zero point's rounding).
    assert float((w_hat - w * mask).abs().max()) <= scale * 1.0 + 1e-7


def test_range_includes_zero():
    w = torch.full((3, 3), 0.5) + torch.arange(9.0).reshape(3, 3) * 0.01  # all positive
    scale, zp = quant_range(w, torch.ones(3, 3, dtype=torch.bool), 8)
    assert zp == 0
    assert scale == pytest.approx(float(w.max()) / 255, rel=1e-6)
    scale, zp = quant_range(-w, torch.ones(3, 3, dtype=torch.bool), 8)
    assert zp == 255
    scale, zp = quant_range(torch.zeros(2, 2), torch.ones(2, 2, dtype=torch.bool), 8)  # degenerate
    assert scale > 0 and zp == 0


def test_fake_quantize_straight_through_gradient():
    w = torch.tensor([[0.3, -0.2, 0.11]], requires_grad=True)
    s, z = _tensor_params(*quant_range(w, torch.ones(1, 3, dtype=torch.bool), 3))
    out = fake_quantize(w, s, z, 3)
    (out * torch.tensor([[1.0, 2.0, 3.0]])).sum().backward()
    assert w.grad.tolist() == [[1.0, 2.0, 3.0]]
    assert not torch.equal(out.detach(), w.detach())  # 3 bits really rounds


def test_round_float16():
    x = torch.tensor([0.1, 1.0 / 3.0, -2.5e-3, 30.0], requires_grad=True)
    y = round_float16(x)
    assert np.array_equal(y.detach().numpy().astype(np.float16).astype(np.float32), y.detach().numpy())
    y.sum().backward()
    assert x.grad.tolist() == [1.0] * 4


def _random_pruned_model(seed: int, channels: int = 1) -> Siren:
    model = Siren(9, 3, channels, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        for i in range(model.num_layers):
            model.weights[i].mul_(3.0)  # wider ranges than the init
            n = model.mask(i).numel()
            model.set_mask(i, magnitude_mask(model.weights[i], model.mask(i), n // 3))
    return model


@pytest.mark.parametrize("bias_dtypes", [None, ["float16", "float32", "float16", "float16", "float16"]])
def test_export_reproduces_forward_weights_exactly(bias_dtypes):
    model = _random_pruned_model(3, channels=3)
    bits = [12, 8, 5, 8, 10]
    model.enable_quantization(bits, bias_dtypes)
    net = export_network(model, width=7, height=5)
    net.validate()
    assert [layer.weight.bits for layer in net.layers] == bits
    for i, layer in enumerate(net.layers):
        t = layer.weight
        assert t.q.dtype == np.int32 and t.q.min() >= 0 and t.q.max() < (1 << t.bits)
        assert np.array_equal(t.mask, model.mask(i).numpy())
        assert bool((t.q[~t.mask] == t.zero_point).all())
        assert torch.equal(torch.from_numpy(t.dequantize()), model.effective_weight(i).detach())
        assert torch.equal(torch.from_numpy(layer.bias), model.effective_bias(i).detach())
        assert (model.effective_weight(i)[~model.mask(i)] == 0).all()
    # The numpy decoder and the torch model agree up to sin/matmul rounding.
    coords = torch.rand(64, 2) * 2 - 1
    with torch.no_grad():
        ref = model(coords).numpy()
    got = numpy_forward(dense_layers(net), net.omega0_first, net.omega0_hidden, coords.numpy())
    np.testing.assert_allclose(got, ref, atol=1e-4)


def test_export_requires_quantization():
    with pytest.raises(ValueError):
        export_network(_random_pruned_model(0), 4, 4)


def test_ranges_refresh_only_on_request():
    model = _random_pruned_model(5)
    model.enable_quantization([8] * model.num_layers)
    before = model.q_scale.clone()
    with torch.no_grad():
        model.weights[2].mul_(2.0)
    assert torch.equal(model.q_scale, before)  # stale range: the big weights clamp
    with torch.no_grad():
        w = model.effective_weight(2)
        assert float(w.abs().max()) <= float(model.masked_weight(2).abs().max()) / 1.9
    model.update_ranges()
    assert float(model.q_scale[2]) == pytest.approx(2 * float(before[2]), rel=1e-5)
