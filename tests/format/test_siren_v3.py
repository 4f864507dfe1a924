"""Round trips: QuantizedNetwork -> bytes -> QuantizedNetwork, bit-exactly."""

import numpy as np
import pytest

import sirencodec
from sirencodec import FormatError
from sirencodec.format import seeded
from sirencodec.format import MAGIC, SIREN_VERSION
from tests.netgen import assert_same_network, random_network


def test_round_trip_many_random_networks():
    rng = np.random.default_rng(1234)
    for trial in range(60):
        hidden_layers = int(rng.integers(0, 5))
        net = random_network(
            rng,
            width=int(rng.integers(1, 40)),
            height=int(rng.integers(1, 40)),
            channels=int(rng.choice([1, 3])),
            hidden_width=int(rng.integers(1, 24)),
            hidden_layers=hidden_layers,
            bits=int(rng.integers(2, 17)),
            sparsity=float(rng.choice([0.0, 0.1, 0.5, 0.95, rng.uniform(0, 0.95)])),
            # Every bias storage, mixed per layer.
            bias_dtype=[str(d) for d in rng.choice(["float16", "float32", "quantized"], hidden_layers + 2)],
            distribution=str(rng.choice(["uniform", "laplace"])),
            seeded_residuals=bool(rng.integers(0, 2)),
        )
        data = sirencodec.pack(net)
        assert data[:3] == MAGIC and data[3] == SIREN_VERSION
        back = sirencodec.unpack(data).network
        assert_same_network(net, back)
        # Writing what was read gives the same bytes: the writer is a function of the content.
        assert sirencodec.pack(back) == data, f"trial {trial}"


@pytest.mark.parametrize("bits", [2, 3, 8, 12, 16])
def test_fully_pruned_and_dense_layers(bits):
    rng = np.random.default_rng(bits)
    net = random_network(rng, bits=bits, sparsity=0.0)
    first = net.layers[0].weight
    first.mask[:] = False  # a layer with every weight pruned
    first.q[:] = first.zero_point
    out = net.layers[-1].weight
    out.q[:] = out.zero_point  # a layer whose kept weights all have one value
    back = sirencodec.unpack(sirencodec.pack(net)).network
    assert_same_network(net, back)
    assert not back.layers[0].weight.dequantize().any()


def test_decode_renders_the_network():
    net = random_network(np.random.default_rng(7), width=11, height=5, channels=3)
    img = sirencodec.decode(sirencodec.pack(net))
    assert img.shape == (5, 11, 3) and img.dtype == np.uint8
    assert np.array_equal(img, sirencodec.render(net))


def test_writer_rejects_invalid_network():
    net = random_network(np.random.default_rng(3), bits=4)
    net.layers[1].weight.q[net.layers[1].weight.mask] = 99  # outside 4-bit range
    with pytest.raises(FormatError, match="outside"):
        sirencodec.pack(net)


def test_writer_rejects_scale_not_float32():
    net = random_network(np.random.default_rng(4))
    layer = net.layers[0]
    bad = sirencodec.QuantizedTensor(layer.weight.q, layer.weight.mask, layer.weight.bits, 0.1, layer.weight.zero_point)
    net.layers[0] = sirencodec.QuantizedLayer(bad, layer.bias, layer.bias_dtype)
    with pytest.raises(FormatError, match="float32"):
        sirencodec.pack(net)


def _tiny_v2() -> bytes:
    from pathlib import Path

    return (Path(__file__).parent / "golden" / "tiny_gray.srn").read_bytes()


def _with_crc(body: bytes) -> bytes:
    import struct
    import zlib

    return body + struct.pack("<I", zlib.crc32(body))


def test_quantized_bias_flag_is_refused_in_version_1_and_with_f16():
    data = _tiny_v2()
    assert data[0x11] == 0x02  # layer 0 flags: quantized biases (format_spec.md section 7)
    as_v1 = _with_crc(data[:3] + b"\x01" + data[4:-4])
    with pytest.raises(FormatError, match="unknown flag bits 0x02 for format version 1"):
        sirencodec.decode(as_v1)
    both = bytearray(data[:-4])
    both[0x11] = 0x03
    with pytest.raises(FormatError, match="both float16 and quantized"):
        sirencodec.decode(_with_crc(bytes(both)))


@pytest.mark.parametrize("offset, value, message", [
    (0x1d, 1, "bias bit width 1"),      # nb below 2
    (0x1d, 17, "bias bit width 17"),    # nb above 16
    (0x21, 0xFF, "bias scale"),         # Sb's top byte -> NaN
    (0x23, 0xFF, "bias zero-point"),    # Zb = 0xffc7 >= 2**14
])
def test_bad_quantized_bias_fields_are_format_errors(offset, value, message):
    body = bytearray(_tiny_v2()[:-4])
    body[offset] = value
    with pytest.raises(FormatError, match=message):
        sirencodec.decode(_with_crc(bytes(body)))


def _tiny_v3() -> bytes:
    from pathlib import Path

    return (Path(__file__).parent / "golden" / "tiny_seeded.srn").read_bytes()


def test_seeded_residual_flags_are_refused_in_version_2():
    data = _tiny_v3()
    assert data[0x11] == 0x0e  # layer 0 flags: quantized biases, seeded residuals (format_spec.md section 8)
    as_v2 = _with_crc(data[:3] + b"\x02" + data[4:-4])
    with pytest.raises(FormatError, match="unknown flag bits 0x0c for format version 2"):
        sirencodec.decode(as_v2)


@pytest.mark.parametrize("offset, value, message", [
    (0x11, 0x0c, "seeded-residual bias must be quantized"),   # bit 3 without bit 1
    (0x25, 0x0e, "only the first layer's weights"),            # bit 2 on layer 1
    (0x18, 0x01, "seeded-residual weights cannot be pruned"),  # layer 0: P = 1
])
def test_bad_seeded_residual_flags_are_format_errors(offset, value, message):
    body = bytearray(_tiny_v3()[:-4])
    body[offset] = value
    with pytest.raises(FormatError, match=message):
        sirencodec.decode(_with_crc(bytes(body)))


def test_writer_rejects_an_offset_that_is_not_the_seeded_values():
    net = random_network(np.random.default_rng(5), seeded_residuals=True, bias_dtype="quantized")
    layer = net.layers[0]
    t = layer.weight
    wrong = sirencodec.QuantizedTensor(t.q, t.mask, t.bits, t.scale, t.zero_point, t.offset + np.float32(0.001))
    net.layers[0] = sirencodec.QuantizedLayer(wrong, layer.bias, layer.bias_dtype, layer.bias_code)
    with pytest.raises(FormatError, match="offset differs from its seeded values"):
        sirencodec.pack(net)


def test_seeded_residual_dequantizes_as_the_spec_says():
    net = random_network(np.random.default_rng(6), seeded_residuals=True, bias_dtype="quantized")
    back = sirencodec.unpack(sirencodec.pack(net)).network
    t = back.layers[0].weight
    expected = seeded.first_weights(t.shape) + (t.q - t.zero_point).astype(np.float32) * np.float32(t.scale)
    assert t.dequantize().dtype == np.float32 and np.array_equal(t.dequantize(), expected)
    code = back.layers[1].bias_code
    fan_in = back.layer_shapes()[1][1]
    b = seeded.biases(1, code.q.shape[1], fan_in) + (code.q[0] - code.zero_point).astype(np.float32) * np.float32(code.scale)
    assert np.array_equal(back.layers[1].bias, b)
