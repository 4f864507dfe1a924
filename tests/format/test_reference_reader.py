"""The spec against the main decoder: `reference/srn_reader.py`, a pure-Python reader written
from format_spec.md alone, must obtain exactly the main decoder's integers (masks, weights,
bias integers, latent grids, reaches) on the golden vectors and on random files, agree with
it on which damaged files are invalid, and its range-coder writer (the spec's "Writing a
stream") must produce exactly constriction's words."""

from __future__ import annotations

import dataclasses
import importlib.util
import struct
import zlib
from functools import lru_cache

import constriction
import numpy as np
import pytest
from PIL import Image

import sirencodec
from sirencodec import FormatError
from sirencodec.format import QuantizedLayer, QuantizedTensor, pack_latent, unpack
from sirencodec.latent import synthesis
from tests import GOLDEN, ROOT
from tests.netgen import random_latent_network, random_network


def _load_reader():
    path = ROOT / "reference" / "srn_reader.py"
    spec = importlib.util.spec_from_file_location("srn_reference_reader", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


R = _load_reader()
GOLDEN_NAMES = sorted(p.stem for p in GOLDEN.glob("*.srn"))


def refresh_crc(data: bytes) -> bytes:
    return data[:-4] + struct.pack("<I", zlib.crc32(data[:-4]))


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def f32_bytes(values) -> bytes:
    return np.asarray(values, dtype=np.float32).reshape(-1).tobytes()


# --- comparing the two readers ----------------------------------------------------------


def assert_same_tensor(ref_q, ref_mask, t: QuantizedTensor) -> None:
    mask = np.asarray(t.mask, bool).reshape(-1)
    assert ref_mask == mask.astype(int).tolist()
    assert ref_q == np.asarray(t.q).reshape(-1)[mask].tolist()


def compare_siren(data: bytes, ref: dict | None = None, parsed=None) -> dict:
    ref = R.read(data) if ref is None else ref
    net = (unpack(data) if parsed is None else parsed).network
    assert ref["kind"] == "siren"
    for f in ("width", "height", "channels", "hidden_width", "hidden_layers", "omega0_first",
              "omega0_hidden"):
        assert ref[f] == getattr(net, f), f
    assert len(ref["layers"]) == len(net.layers)
    for lr, lm in zip(ref["layers"], net.layers):
        t = lm.weight
        assert lr["shape"] == t.shape
        assert_same_tensor(lr["q"], lr["mask"], t)
        assert lr["pruned"] == t.mask.size - int(t.mask.sum())
        assert (lr["bits"], lr["zero_point"]) == (t.bits, t.zero_point)
        assert f32_bytes(lr["scale"]) == f32_bytes(t.scale)
        assert lr["seeded_weights"] == (t.offset is not None)
        assert f32_bytes(lr["weights"]) == f32_bytes(t.dequantize())
        assert lr["bias_dtype"] == lm.bias_dtype
        assert f32_bytes(lr["bias"]) == f32_bytes(lm.bias)
        if lm.bias_dtype == "quantized":
            c = lm.bias_code
            assert lr["bias_q"] == np.asarray(c.q).reshape(-1).tolist()
            assert (lr["bias_bits"], lr["bias_zero_point"]) == (c.bits, c.zero_point)
            assert f32_bytes(lr["bias_scale"]) == f32_bytes(c.scale)
            assert lr["seeded_bias"] == (c.offset is not None)
    return ref


def compare_latent(data: bytes, ref: dict | None = None, parsed=None) -> dict:
    ref = R.read(data) if ref is None else ref
    parsed = unpack(data) if parsed is None else parsed
    net = parsed.network
    assert ref["kind"] == "latent"
    assert (ref["width"], ref["height"], ref["channels"]) == (net.width, net.height, net.channels)
    assert ref["reaches"] == list(parsed.reaches)
    assert ref["grid_levels"] == list(net.grid_levels)
    assert (ref["context"], ref["channel"]) == (net.context, net.channel_context)
    assert len(ref["grids"]) == len(net.grids)
    for gr, gm in zip(ref["grids"], net.grids):
        assert np.array_equal(np.array(gr, dtype=np.int64).reshape(gm.shape), gm)
        assert len(gr) == gm.shape[0] and all(len(row) == gm.shape[1] for row in gr)
    layers = list(net.synthesis) + ([net.conv] if net.conv is not None else []) + list(net.arm)
    kinds = ["synthesis"] * len(net.synthesis) + ["conv"] * (net.conv is not None) + ["arm"] * len(net.arm)
    assert [lr["kind"] for lr in ref["layers"]] == kinds
    for lr, lm in zip(ref["layers"], layers):
        t, c = lm.weight, lm.bias_code
        assert lr["shape"] == t.shape
        assert lr["q"] == np.asarray(t.q).reshape(-1).tolist()
        assert lr["bias_q"] == np.asarray(c.q).reshape(-1).tolist()
        assert (lr["bits"], lr["zero_point"]) == (t.bits, t.zero_point) == (c.bits, c.zero_point)
        assert f32_bytes(lr["step"]) == f32_bytes(t.scale)
        assert f32_bytes(lr["bias_step"]) == f32_bytes(c.scale)
        assert f32_bytes(lr["weights"]) == f32_bytes(t.dequantize())
        assert f32_bytes(lr["bias"]) == f32_bytes(lm.bias)
    up, t = ref["upsampling"], net.upsampling
    assert (up is None) == (t is None)
    if t is not None:
        assert up["filters"] == t.shape[0] and (up["bits"], up["zero_point"]) == (t.bits, t.zero_point)
        assert up["q"] == np.asarray(t.q).reshape(-1).tolist() and f32_bytes(up["step"]) == f32_bytes(t.scale)
        assert np.array_equal(np.array(up["taps"]), synthesis.upsampling_filters(net))
    return ref


def compare(data: bytes, ref: dict | None = None, parsed=None) -> dict:
    return (compare_latent if data[3] in (4, 5, 6, 7) else compare_siren)(data, ref, parsed)


def same_verdict(data: bytes) -> bool:
    """Both readers refuse ``data``, or both read it and agree on every integer.  Returns
    whether it was read."""
    try:
        parsed = unpack(data)
    except FormatError:
        parsed = None
    try:
        ref = R.read(data)
    except R.SrnFormatError:
        ref = None
    assert (parsed is None) == (ref is None), \
        f"the main decoder {'refuses' if parsed is None else 'reads'} it, the reference does not"
    if parsed is not None:
        compare(data, ref, parsed)
    return parsed is not None


# --- 1. golden vectors --------------------------------------------------------------------


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden_integers_match(name):
    data = (GOLDEN / f"{name}.srn").read_bytes()
    ref = compare(data)
    assert ref["version"] == data[3]


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden_pixels_from_the_spec(name):
    """The spec's image (sections 3 and 10), computed by the reference in f64: within +-1."""
    data = (GOLDEN / f"{name}.srn").read_bytes()
    got = np.array(R.render(R.read(data)), dtype=int)
    expected = np.asarray(Image.open(GOLDEN / f"{name}.png")).astype(int).reshape(got.shape)
    assert np.abs(got - expected).max() <= 1


def test_worked_examples():
    """The numbers sections 5, 8 and 10 quote."""
    first = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    assert [R._splitmix(0, k) for k in range(3)] == first
    tiny = R.read((GOLDEN / "tiny_seeded.srn").read_bytes())
    assert tiny["layers"][0]["bias_q"] == [1613, 4887, 2714, 15842]
    assert (tiny["layers"][1]["pruned"], tiny["layers"][1]["lo"], tiny["layers"][1]["hi"]) == (4, 3, 26)
    assert tiny["payload_len"] == 28
    lat = R.read((GOLDEN / "latent_gray.srn").read_bytes())
    assert lat["reaches"] == [10, 7, 3] and lat["context"] == 8
    assert (lat["weights_len"], lat["latents_len"]) == (52, 52)
    assert [len(g) for g in lat["grids"]] == [8, 4, 2] and [len(g[0]) for g in lat["grids"]] == [12, 6, 3]
    v5 = R.read((GOLDEN / "latent_levels_rgb.srn").read_bytes())
    assert v5["version"] == 5 and v5["grid_levels"] == [0, 1, 1, 2, 2] and v5["reaches"] == [8, 11, 8, 6, 4]
    assert [(len(g), len(g[0])) for g in v5["grids"]] == [(10, 11), (5, 6), (5, 6), (3, 3), (3, 3)]
    assert (v5["weights_len"], v5["weights_len_offset"]) == (156, 0x3F)
    assert R.render(v5)[0][:2] == [[144, 0, 255], [0, 0, 255]]
    v6 = R.read((GOLDEN / "latent_upsampling_gray.srn").read_bytes())
    assert v6["version"] == 6 and v6["grid_levels"] == [0, 1, 1, 3] and v6["reaches"] == [9, 6, 8, 4]
    up = v6["upsampling"]
    assert (up["record_offset"], up["filters"], up["bits"], up["model"]) == (0x39, 3, 6, 1)
    assert up["q"] == [30, 32, 40, 26, 33, 26, 32, 30, 32, 25, 30, 32]
    assert (v6["weights_len"], v6["weights_len_offset"]) == (76, 0x44)
    assert [round(t, 5) for t in up["taps"][0]] == [-0.05007, 0.26172, 0.93857, -0.15022]
    assert [p[0] for p in R.render(v6)[0]] == [255, 255, 0, 25, 49, 255, 255, 161, 0, 8, 197, 141, 0]
    v7 = R.read((GOLDEN / "latent_channel_rgb.srn").read_bytes())
    assert (v7["version"], v7["context"], v7["channel"]) == (7, 8, 2)
    assert v7["grid_levels"] == [0, 1, 1, 1, 2, 2] and v7["reaches"] == [8, 5, 8, 5, 3, 7]
    assert [ly["shape"] for ly in v7["layers"] if ly["kind"] == "arm"] == [(4, 10), (2, 4)]
    assert (v7["upsampling"]["record_offset"], v7["upsampling"]["filters"], v7["upsampling"]["model"]) == (0x3C, 2, 2)
    assert (v7["weights_len"], v7["weights_len_offset"], v7["latents_len"], v7["latents_len_offset"]) == (160, 0x49,
                                                                                                         72, 0xEB)
    assert R.render(v7)[0][:3] == [[0, 255, 255], [144, 255, 255], [255, 255, 255]]


# --- 2. random files ----------------------------------------------------------------------

SIREN_CASES = {
    "u8-sparse": dict(bits=8, sparsity=0.3),
    "u2-dense": dict(bits=2, sparsity=0.0),
    "u3-rgb-f16": dict(bits=3, channels=3, bias_dtype="float16"),
    "lap4-q": dict(bits=4, distribution="laplace", bias_dtype="quantized"),
    "lap6-mixed": dict(bits=6, distribution="laplace",
                       bias_dtype=("quantized", "float16", "float32", "quantized")),
    "lap10-seeded": dict(bits=10, distribution="laplace", bias_dtype="quantized", seeded_residuals=True),
    "u12-seeded-mixed": dict(bits=12, seeded_residuals=True,
                             bias_dtype=("quantized", "float32", "float16", "quantized")),
    "lap16": dict(bits=16, distribution="laplace", sparsity=0.5, hidden_width=5),
    "u16": dict(bits=16, sparsity=0.1, hidden_width=4, hidden_layers=1),
    "lap9-very-sparse": dict(bits=9, distribution="laplace", sparsity=0.95),
    "lap7-n0": dict(bits=7, distribution="laplace", hidden_layers=0, bias_dtype="quantized"),
    "lap5-w1": dict(bits=5, distribution="laplace", hidden_width=1, hidden_layers=3, bias_dtype="float16"),
    "lap8-rgb-seeded": dict(bits=8, distribution="laplace", channels=3, seeded_residuals=True,
                            bias_dtype="quantized", sparsity=0.4),
    "gauss6": dict(bits=6, sparsity=0.2, modify="gauss"),
    "gauss11-q": dict(bits=11, sparsity=0.0, modify="gauss", bias_dtype="quantized"),
    "gauss14-narrow": dict(bits=14, sparsity=0.3, modify="gauss-narrow"),
    "gauss3-seeded": dict(bits=3, modify="gauss", seeded_residuals=True, bias_dtype="quantized"),
    "full-prune-1": dict(bits=8, distribution="laplace", modify="prune1", bias_dtype="quantized"),
    "full-prune-last": dict(bits=5, modify="prune-last", bias_dtype="float16"),
    "full-prune-seeded": dict(bits=9, modify="prune1", seeded_residuals=True, bias_dtype="quantized"),
    "constant": dict(bits=8, modify="constant", sparsity=0.2),
    "constant-dense": dict(bits=4, modify="constant", sparsity=0.0, bias_dtype="quantized"),
    "one-kept": dict(bits=7, modify="one-kept", distribution="laplace"),
    "lap13-wide": dict(bits=13, distribution="laplace", hidden_width=12, hidden_layers=1, sparsity=0.6),
    "u15-q": dict(bits=15, bias_dtype="quantized", sparsity=0.0, hidden_width=3),
    "lap2": dict(bits=2, distribution="laplace", sparsity=0.5),
    "gauss16": dict(bits=16, modify="gauss", hidden_width=4, sparsity=0.25),
    "lap12-tiny-scale": dict(bits=12, distribution="laplace", modify="spiky", bias_dtype="quantized"),
}


def _modified(net, rng, how):
    """Layers with integers the writer codes with a Gaussian model, fully pruned layers,
    constant layers (hi = lo) or a single kept weight."""
    layers = list(net.layers)
    for i, layer in enumerate(layers):
        t = layer.weight
        q, mask = np.array(t.q), np.array(t.mask)
        levels = 1 << t.bits
        if how.startswith("gauss"):
            sigma = 0.7 if how == "gauss-narrow" else max(levels / 12, 0.8)
            q = np.clip(np.round(rng.normal(t.zero_point, sigma, q.shape)), 0, levels - 1).astype(np.int32)
        elif how == "prune1" and i == 1 or how == "prune-last" and i == len(layers) - 1:
            mask[:] = False
        elif how == "constant" and i == 1:
            q[:] = int(rng.integers(0, levels))
        elif how == "one-kept" and i == 2:
            mask[:] = False
            mask.reshape(-1)[int(rng.integers(mask.size))] = True
        elif how == "spiky":
            # Almost every weight at the zero point, a few far away: a Laplace model with a
            # tiny parameter whose far masses underflow to 0.
            q[:] = t.zero_point
            idx = rng.integers(0, q.size, 2)
            q.reshape(-1)[idx] = [0, levels - 1]
        q = np.where(mask, q, t.zero_point).astype(np.int32)
        layers[i] = QuantizedLayer(dataclasses.replace(t, q=q, mask=mask), layer.bias, layer.bias_dtype,
                                   layer.bias_code)
    return dataclasses.replace(net, layers=layers)


@lru_cache(maxsize=None)
def siren_file(name: str) -> bytes:
    kw = dict(SIREN_CASES[name])
    modify = kw.pop("modify", None)
    rng = np.random.default_rng(sum(map(ord, name)) * 7919)
    kw.setdefault("width", int(rng.integers(3, 12)))
    kw.setdefault("height", int(rng.integers(2, 9)))
    kw.setdefault("hidden_width", int(rng.integers(2, 9)))
    kw.setdefault("hidden_layers", int(rng.integers(1, 4)))
    net = random_network(rng, **kw)
    if modify:
        net = _modified(net, rng, modify)
    return sirencodec.pack(net)


@lru_cache(maxsize=None)
def read_cached(data: bytes) -> dict:
    return R.read(data)


@pytest.mark.parametrize("name", sorted(SIREN_CASES))
def test_random_siren_matches(name):
    data = siren_file(name)
    assert data[3] == 3
    compare_siren(data)


def test_random_siren_cases_cover_the_format():
    """The cases reach every weight model, mask situation and bias storage (else the
    comparison above proves less than it claims)."""
    layers = [ly for name in SIREN_CASES for ly in read_cached(siren_file(name))["layers"]]
    assert {ly["model"] for ly in layers if ly["hi"] is not None and ly["hi"] > ly["lo"]} == {0, 1, 2}
    sizes = [(ly["pruned"], ly["shape"][0] * ly["shape"][1]) for ly in layers]
    assert any(p == 0 for p, n in sizes) and any(0 < p < n for p, n in sizes)
    assert any(p == n for p, n in sizes)
    assert any(ly["pruned"] == n - 1 for ly, (p, n) in zip(layers, sizes))
    assert any(ly["hi"] is not None and ly["hi"] == ly["lo"] for ly in layers)
    assert {ly["bias_dtype"] for ly in layers} == {"float32", "float16", "quantized"}
    assert any(ly["seeded_weights"] for ly in layers) and any(ly["seeded_bias"] for ly in layers)
    assert {ly["bits"] for ly in layers} >= {2, 16}


@pytest.mark.parametrize("param", [1e-30, 1e-5, 0.01, 0.3, 0.5])
def test_underflowing_model_masses(param):
    """A legal record whose far masses underflow to 0.0 in f64 (the fixed-point table still
    gives every symbol width 1): the layer's alphabet widened to the whole 0 .. 2^n - 1 and a
    small parameter.  Both readers decode the same integers.  (The writer never picks such a
    model: lo and hi are kept values, whose code length would be infinite.)"""
    data = siren_file("gauss14-narrow")
    ref = read_cached(data)
    hits = 0
    for ly in ref["layers"]:
        if ly["param"] is None:
            continue
        assert ly["pruned"] < 128  # a one-byte varint
        # bits, flags, S, Z, P, then lo, hi, center, param
        at = ly["record_offset"] + 2 + 4 + 2 + 1
        assert struct.unpack("<HHHf", data[at:at + 10]) == (ly["lo"], ly["hi"], ly["center"], ly["param"])
        top = (1 << ly["bits"]) - 1
        mutated = refresh_crc(data[:at] + struct.pack("<HHHf", 0, top, ly["center"], param) + data[at + 10:])
        masses = R.weight_masses(ly["model"], 0, top, ly["center"], float(np.float32(param)))
        assert min(masses) == 0.0 and masses[ly["center"]] == 1.0
        hits += same_verdict(mutated)
    assert hits >= 1


LATENT_CASES = {
    "k1": dict(context=1, levels=3, arm=()),
    "k3": dict(context=3, levels=2, arm=(2,), bits=5),
    "k4": dict(context=4, levels=4, channels=3, synthesis=(6, 4)),
    "k8": dict(context=8, levels=3, conv=False),
    "k8-bias-step": dict(context=8, levels=4, bias_step=True),
    "k15": dict(context=15, levels=4, arm=(8, 4), bits=9, latent_scale=2.5),
    "k16": dict(context=16, levels=2, arm=(5,), channels=3, conv=False),
    "k16-bias-step": dict(context=16, levels=3, arm=(6, 3), bias_step=True, latent_scale=3.0),
    "k4-bias-step-deep": dict(context=4, levels=4, arm=(4, 4, 3), bias_step=True),
    "k1-bias-step": dict(context=1, levels=1, arm=(3,), bias_step=True, bits=3),
    "k12-one-level": dict(context=12, levels=1, bits=12, latent_scale=0.4),
    "k2-quiet": dict(context=2, levels=3, latent_scale=0.15, bits=2),
    "k6-loud": dict(context=6, levels=4, latent_scale=8.0, synthesis=(), arm=(2,)),
    "k10-rgb": dict(context=10, levels=4, channels=3, synthesis=(3, 3, 3), arm=(4,), bits=10),
    "k8-bits14": dict(context=8, levels=2, bits=14, bias_step=True),
    "k16-all-levels": dict(context=16, levels=None, arm=(3,), latent_scale=1.0),
    # version 5: each grid's level stored (several grids on a level, levels skipped, any order)
    "v5-k8-pairs": dict(context=8, grid_levels=(0, 1, 1, 2, 2), channels=3, width=14, height=11),
    "v5-k16-coarse": dict(context=16, grid_levels=(1, 3, 2), arm=(5,), width=13, height=9, latent_scale=2.5),
    "v5-k3-deepest": dict(context=3, grid_levels=(3, 0, 3), width=8, height=5, bits=6),
    # version 6: learned x2 filters (odd and even sizes, a 1-high image, filters of 2..12 bits)
    "v6-k8-odd": dict(context=8, grid_levels=(0, 1, 2, 2), width=11, height=7, upsampling_bits=6),
    "v6-k16-rgb": dict(context=16, grid_levels=(0, 1, 1, 3), channels=3, width=12, height=10, arm=(4,),
                       upsampling_bits=12),
    "v6-k4-coarse-only": dict(context=4, grid_levels=(2,), width=9, height=6, upsampling_bits=2),
    # version 7: the ARM also reads co-located latents of earlier grids at a grid's level
    "v7-k8-j1": dict(context=8, grid_levels=(0, 1, 1, 2, 2), width=11, height=9, upsampling_bits=6,
                     channel_context=1, latent_scale=2.0),
    "v7-k16-j3-rgb": dict(context=16, grid_levels=(1, 0, 1, 1, 1, 2), channels=3, width=12, height=10,
                          arm=(6,), upsampling_bits=8, channel_context=3),
    "v7-k1-j2-lone": dict(context=1, grid_levels=(0, 1, 2, 2), width=8, height=8, upsampling_bits=4,
                          channel_context=2, bias_step=True),
    "v6-k8-one-row": dict(context=8, grid_levels=(0, 1, 3), width=14, height=1, upsampling_bits=8),
}


def _bias_steps_differ(net, rng):
    """ARM layers whose bias step is another power of two than the weight step."""
    arm = []
    for layer in net.arm:
        c = layer.bias_code
        k = -int(np.log2(layer.weight.scale))
        kb = int(rng.choice([e for e in range(6, 13) if e != k]))
        code = QuantizedTensor(c.q, c.mask, c.bits, 2.0 ** -kb, c.zero_point)
        arm.append(QuantizedLayer(layer.weight, code.dequantize()[0], "quantized", code))
    return dataclasses.replace(net, arm=arm)


@lru_cache(maxsize=None)
def latent_file(name: str) -> bytes:
    kw = dict(LATENT_CASES[name])
    bias_step = kw.pop("bias_step", False)
    rng = np.random.default_rng(sum(map(ord, name)) * 104729)
    kw.setdefault("width", int(rng.integers(4, 15)))
    kw.setdefault("height", int(rng.integers(3, 12)))
    if "grid_levels" in kw:
        kw["levels"] = len(kw["grid_levels"])
    if kw["levels"] is None:
        from sirencodec.format.latent_v4 import max_levels

        kw["levels"] = max_levels(kw["height"], kw["width"])
    net = random_latent_network(rng, **kw)
    if bias_step:
        net = _bias_steps_differ(net, rng)
    return pack_latent(net)


@pytest.mark.parametrize("name", sorted(LATENT_CASES))
def test_random_latent_matches(name):
    data = latent_file(name)
    case = LATENT_CASES[name]
    assert data[3] == (7 if case.get("channel_context") else 6 if "upsampling_bits" in case
                       else 5 if "grid_levels" in case else 4)
    ref = compare_latent(data)
    if LATENT_CASES[name].get("bias_step"):
        arm = [ly for ly in ref["layers"] if ly["kind"] == "arm"]
        assert all(ly["step_exponent"] != ly["bias_step_exponent"] for ly in arm)


@pytest.mark.parametrize("name", sorted(n for n in LATENT_CASES if n.startswith("v6")))
def test_random_learned_upsampling_pixels_from_the_spec(name):
    """Version 6's image: the reference's x2 steps, one after another, against the main
    decoder's composed taps: within the spec's +-1."""
    data = latent_file(name)
    got = np.array(R.render(R.read(data)), dtype=int)
    expected = np.asarray(sirencodec.decode(data)).astype(int).reshape(got.shape)
    assert np.abs(got - expected).max() <= 1


def test_random_latent_cases_cover_the_format():
    refs = [read_cached(latent_file(name)) for name in LATENT_CASES]
    assert {r["context"] for r in refs} >= {1, 3, 4, 8, 15, 16}
    assert any(0 in r["reaches"] for r in refs) and any(max(r["reaches"]) >= 20 for r in refs)
    models = {ly["model"] for r in refs for ly in r["layers"]}
    assert models == {0, 1, 2}
    assert any(r["levels"] == R._max_levels(r["width"], r["height"]) for r in refs)
    assert {r["version"] for r in refs} == {4, 5, 6, 7}
    assert {r["channel"] for r in refs} == {0, 1, 2, 3}
    assert any(r["grid_levels"][0] > 0 for r in refs)  # a level-0 grid is optional in version 5
    assert any(lv == R._max_levels(r["width"], r["height"]) - 1 for r in refs for lv in r["grid_levels"])


# --- 3. the spec's range-coder writer -------------------------------------------------------


def _random_masses(rng, k, kind):
    if kind == 0:
        return rng.random(k) + 1e-3
    if kind == 1:  # steep: most symbols get the minimum width 1
        return np.exp(-np.arange(k) * rng.uniform(0.5, 40))
    if kind == 2:  # one dominant symbol
        p = np.full(k, 1e-12)
        p[rng.integers(k)] = 1.0
        return p
    p = rng.random(k)  # some masses exactly 0 (they still get width 1)
    p[rng.random(k) < 0.3] = 0.0
    p[0] += 0.1
    return p


def _stream_cases():
    rng = np.random.default_rng(20240611)
    lengths = [0, 1, 1, 2, 3, 5, 8, 13, 40, 100, 300, 1000]
    for case, n in enumerate(lengths * 4):
        kind = case % 4
        n_tables = 1 if case % 3 == 0 else max(n, 1)  # one shared table, or one per symbol
        masses = [_random_masses(rng, int(rng.integers(2, 2 + (40 if case % 5 else 3000))), kind)
                  for _ in range(n_tables)]
        table_of = [j % n_tables for j in range(n)]
        symbols = []
        for j in range(n):
            p = masses[table_of[j]]
            k = len(p)
            # favour improbable symbols now and then: long runs of narrow intervals
            symbols.append(int(rng.integers(k)) if rng.random() < 0.5 else int(np.argmax(p)))
        yield case, masses, table_of, symbols


def test_spec_writer_is_constriction():
    stats: dict = {}
    checked = 0
    for case, masses, table_of, symbols in _stream_cases():
        cdfs = [R.categorical_cdf(list(p)) for p in masses]
        tables = [cdfs[t] for t in table_of]
        mine = R.encode_symbols(symbols, tables, stats)
        enc = constriction.stream.queue.RangeEncoder()
        models = [constriction.stream.model.Categorical(np.asarray(p, np.float64), perfect=False)
                  for p in masses]
        for s, t in zip(symbols, table_of):
            enc.encode(np.array([s], dtype=np.int32), models[t])
        words = enc.get_compressed()
        assert mine == np.asarray(words, dtype=">u4").tobytes(), f"case {case}"
        assert (len(mine) == 0) == (len(symbols) == 0)
        assert R.decode_symbols(mine, tables) == symbols
        dec = constriction.stream.queue.RangeDecoder(np.asarray(words, np.uint32))
        assert [int(dec.decode(models[t])) for t in table_of] == symbols
        checked += 1
    assert checked >= 40
    # the writer's delicate paths were taken: carries into emitted words, and intervals that
    # straddle a 2^64 boundary of the state (constriction's "inverted" situation)
    assert stats["carries"] > 0 and stats["straddles"] > 0


def test_spec_fixed_point_model():
    """cdf_i = floor(c_i * scale) + i: strictly increasing, 0 to 2^24, as constriction's table."""
    rng = np.random.default_rng(5)
    for kind in range(4):
        for k in (2, 3, 17, 255):
            p = _random_masses(rng, k, kind)
            cdf = R.categorical_cdf(list(p))
            assert cdf[0] == 0 and cdf[-1] == 1 << 24 and all(b > a for a, b in zip(cdf, cdf[1:]))
            # constriction agrees on each symbol's interval: encoding symbol i alone decodes back
            model = constriction.stream.model.Categorical(p, perfect=False)
            for i in {0, k // 2, k - 1}:
                enc = constriction.stream.queue.RangeEncoder()
                enc.encode(np.array([i], np.int32), model)
                assert R.encode_symbols([i], [cdf]) == np.asarray(enc.get_compressed(), ">u4").tobytes()


# --- 4. damaged files ---------------------------------------------------------------------


def _with_latents(data: bytes, payload: bytes) -> bytes:
    ref = read_cached(data)
    start = ref["latents_len_offset"]
    return refresh_crc(data[:start] + varint(len(payload)) + payload + b"\0\0\0\0")


def _with_siren_payload(data: bytes, payload: bytes) -> bytes:
    ref = read_cached(data)
    start = ref["payload_len_offset"]
    return refresh_crc(data[:start] + varint(len(payload)) + payload + b"\0\0\0\0")


def _payload_mutations(payload: bytes, rng):
    n = len(payload)
    out = []
    for _ in range(6):
        if n:
            pos, bit = int(rng.integers(n)), int(rng.integers(8))
            out.append(payload[:pos] + bytes([payload[pos] ^ (1 << bit)]) + payload[pos + 1:])
    for pos in ({0, n // 2, n - 1} if n else set()):
        out.append(payload[:pos] + b"\xff" + payload[pos + 1:])
        out.append(payload[:pos] + b"\x00" + payload[pos + 1:])
    for cut in sorted({0, 1, n // 3, n // 2, n - 5, n - 1}):
        if 0 <= cut < n:
            out.append(payload[:cut])
    out += [payload + b"\0", payload + b"\xff" * 5, bytes(rng.integers(0, 256, max(n, 8), np.uint8))]
    out.append(b"\xff" * (n + 8))
    return out


def _latent_samples():
    return ([(GOLDEN / f"{n}.srn").read_bytes()
             for n in ("latent_gray", "latent_rgb", "latent_levels_rgb", "latent_upsampling_gray", "latent_channel_rgb")]
            + [latent_file(n) for n in ("k4", "k16-bias-step", "k2-quiet", "v6-k16-rgb", "v7-k16-j3-rgb")])


def test_damaged_latents_payload_same_verdict():
    rng = np.random.default_rng(77)
    verdicts = []
    for data in _latent_samples():
        ref = read_cached(data)
        payload = data[len(data) - 4 - ref["latents_len"]:-4]
        for mutated in _payload_mutations(payload, rng):
            verdicts.append(same_verdict(_with_latents(data, mutated)))
    assert verdicts.count(False) >= 5 and verdicts.count(True) >= 5


def test_damaged_weights_payload_same_verdict():
    rng = np.random.default_rng(78)
    verdicts = []
    samples = [(GOLDEN / f"{n}.srn").read_bytes() for n in ("tiny_seeded", "qbias_rgb", "seeded_rgb")]
    samples += [siren_file(n) for n in ("u8-sparse", "lap9-very-sparse", "gauss6")]
    for data in samples:
        ref = read_cached(data)
        payload = data[len(data) - 4 - ref["payload_len"]:-4]
        for mutated in _payload_mutations(payload, rng):
            verdicts.append(same_verdict(_with_siren_payload(data, mutated)))
    assert verdicts.count(False) >= 5 and verdicts.count(True) >= 5


def _header_end(data: bytes) -> int:
    ref = read_cached(data)
    return ref["latents_len_offset"] if data[3] in (4, 5, 6) else ref["payload_len_offset"]


# a mutated scale can make the main decoder's weights overflow to inf (numpy warns; still valid)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", ["tiny_seeded", "tiny_gray", "small_rgb", "latent_gray", "latent_rgb",
                                  "latent_levels_rgb", "latent_upsampling_gray"])
def test_damaged_header_and_records_same_verdict(name):
    """Every byte before the (last) payload, set to a few other values, CRC refreshed: both
    readers refuse the file or both read the same integers.  (Width and height are left
    alone: a larger image only makes the latent decoding slow.)"""
    data = (GOLDEN / f"{name}.srn").read_bytes()
    read = 0
    for pos in range(3, _header_end(data)):
        if 4 <= pos < 8:
            continue
        for value in (0xFF, data[pos] ^ 1, data[pos] ^ 0x80):
            read += same_verdict(refresh_crc(data[:pos] + bytes([value]) + data[pos + 1:]))
    assert read > 0


def test_envelope_same_verdict():
    data = (GOLDEN / "tiny_seeded.srn").read_bytes()
    lat = (GOLDEN / "latent_gray.srn").read_bytes()
    cases = [b"", b"SRN", data[:-1], data + b"\0", refresh_crc(data + b"\0"), b"SRX" + data[3:],
             data[:-4] + bytes([data[-4] ^ 1]) + data[-3:], refresh_crc(data[:3] + b"\x05" + data[4:]),
             refresh_crc(data[:3] + b"\x00" + data[4:]), refresh_crc(data[:3] + b"\x04" + data[4:]),
             refresh_crc(lat[:3] + b"\x03" + lat[4:]), refresh_crc(lat[:-5] + lat[-4:]),
             refresh_crc(lat[:-4] + b"\0" + lat[-4:])]
    for bad in cases:
        assert not same_verdict(bad)
