"""The decoding cost limit (format_spec.md sections 7 and 10): the cost a reader computes from a
file's header, before decoding any payload, is the spec's formula; a file exactly at the limit
decodes, one unit above it is refused, and a writer never writes what a reader refuses."""

import time

import numpy as np
import pytest

import sirencodec
from sirencodec import FormatError, limits
from sirencodec.format import latent_v4
from tests.netgen import random_latent_network, random_network


def spec_siren_cost(w, h, f, n, c):
    """Section 7: 1000·weights + W·H·(weights + 40·activations + 1000), weights = 2F + N·F² + C·F,
    activations = F·(N + 1) + C."""
    weights = 2 * f + n * f * f + c * f
    return 1000 * weights + w * h * (weights + 40 * (f * (n + 1) + c) + 1000)


def spec_latent_cost(w, h, c, grids, synth_dims, conv, arm_dims, reaches):
    """Section 10: Σ latents·(1000 + 10·ARM multiply-adds) + 1000·Σ_{R>0} 72·16·(2R + 1)
    + W·H·(10·(8L + synthesis multiply-adds + 9C²·conv) + 20·Σ synthesis outputs + 500)."""
    latents = sum(-(-h // 2**k) * -(-w // 2**k) for k in range(grids))
    arm_macs = sum(a * b for a, b in zip(arm_dims[:-1], arm_dims[1:]))
    synth_macs = sum(a * b for a, b in zip(synth_dims[:-1], synth_dims[1:]))
    tables = sum(72 * 16 * (2 * r + 1) for r in reaches if r > 0)
    per_pixel = 10 * (8 * grids + synth_macs + (9 * c * c if conv else 0)) + 20 * sum(synth_dims[1:]) + 500
    return latents * (1000 + 10 * arm_macs) + 1000 * tables + w * h * per_pixel


@pytest.fixture
def cap(monkeypatch):
    def set_cap(value):
        monkeypatch.setattr(limits, "MAX_DECODE_COST", value)
    return set_cap


def assert_limit_is_exact(cap, net, data: bytes, cost: int, shape: tuple) -> None:
    """At ``cost`` the file decodes to ``shape``; one unit lower the reader refuses it, and so
    does the writer."""
    cap(cost)
    assert sirencodec.decode(data).shape == shape
    cap(cost - 1)
    with pytest.raises(FormatError, match="cost limit"):
        sirencodec.decode(data)
    with pytest.raises(FormatError, match="cost limit"):
        sirencodec.pack(net)  # the writer refuses what the reader would


def test_siren_file_at_the_limit_decodes_and_one_unit_over_is_refused(cap):
    net = random_network(np.random.default_rng(1), width=13, height=9, channels=3, hidden_width=6,
                         hidden_layers=2)
    assert_limit_is_exact(cap, net, sirencodec.pack(net), spec_siren_cost(13, 9, 6, 2, 3), (9, 13, 3))


def test_siren_render_size_is_charged_at_the_requested_size(monkeypatch):
    """A size the user asks for is charged at that size, against the render cap (section 7)."""
    net = random_network(np.random.default_rng(2), width=8, height=8, hidden_width=5, hidden_layers=1)
    data = sirencodec.pack(net)
    monkeypatch.setattr(limits, "MAX_DECODE_COST", spec_siren_cost(8, 8, 5, 1, 1))
    monkeypatch.setattr(limits, "MAX_RENDER_COST", spec_siren_cost(20, 10, 5, 1, 1))
    assert sirencodec.decode(data).shape == (8, 8)
    assert sirencodec.decode(data, size=(20, 10)).shape == (10, 20)
    with pytest.raises(FormatError, match="render cost limit"):
        sirencodec.decode(data, size=(21, 10))


@pytest.mark.parametrize("conv", [True, False])
def test_latent_file_at_the_limit_decodes_and_one_unit_over_is_refused(cap, conv):
    net = random_latent_network(np.random.default_rng(3), width=13, height=9, channels=3, levels=3,
                                synthesis=(5,), conv=conv, context=8, arm=(4,))
    data = sirencodec.pack(net)
    reaches = latent_v4.unpack(data).reaches
    assert max(reaches) > 0 and min(reaches) >= 0
    assert_limit_is_exact(cap, net, data, spec_latent_cost(13, 9, 3, 3, [3, 5, 3], conv, [8, 4, 2], reaches),
                          (9, 13, 3))


def test_cost_is_refused_before_any_payload_is_decoded(monkeypatch):
    """An over-limit file is refused from its header: the latents decoder is never entered."""
    from sirencodec.format import arm

    net = random_latent_network(np.random.default_rng(4), width=13, height=9)
    data = sirencodec.pack(net)

    def boom(*args, **kwargs):
        raise AssertionError("decoded a payload of an over-limit file")

    monkeypatch.setattr(arm, "decode_latents", boom)
    monkeypatch.setattr(limits, "MAX_DECODE_COST", 10)
    with pytest.raises(FormatError, match="cost limit"):
        sirencodec.decode(data)


def test_encoders_refuse_an_image_over_the_limit_before_training(cap):
    """The latent encoder charges every grid at the widest alphabet; the SIREN encoder its
    architecture at the image's size: both refuse at once with the reason."""
    import sirencodec.latent.fit  # noqa: F401 - torch's import is not the encoder's time
    import sirencodec.siren.fit  # noqa: F401

    image = np.zeros((16, 16), dtype=np.uint8)
    cap(10**5)
    start = time.perf_counter()
    with pytest.raises(sirencodec.InputError, match="cost limit"):
        sirencodec.encode(image, lam=0.01, latent_steps=50)
    with pytest.raises(sirencodec.InputError, match="cost limit"):
        sirencodec.encode(image, network="siren", preset="test")
    assert time.perf_counter() - start < 1


def test_the_limit_keeps_every_file_within_seconds():
    """The cap is about 2.5 s of one core (a sanity check on the constants, not a timing)."""
    assert limits.MAX_DECODE_COST == 25 * 10**9 and limits.MAX_RENDER_COST == 10**12
    assert spec_siren_cost(4096, 4096, 64, 5, 1) <= limits.MAX_RENDER_COST  # srndec --size 4096x4096
    # A Kodak-sized (768 x 512) colour image fits with the default latent network and SIREN.
    assert spec_latent_cost(768, 512, 3, 7, [7, 16, 3], True, [8, 8, 8, 2], [255] * 7) <= limits.MAX_DECODE_COST
    assert spec_siren_cost(768, 512, 64, 5, 3) <= limits.MAX_DECODE_COST
