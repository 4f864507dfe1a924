"""A short fuzz run of the decoder (``benchmarks/fuzz_decode.py``): 2,000 mutated files from a
fixed seed must each decode to an image or raise FormatError, none slower than 3 s (the slowest,
a SIREN rendered at 32767 x 22, takes about 1 s), and enough of them must get past the CRC and
the parser to exercise the entropy decoders.  Also the fuzzer's own parts: the layout it reads,
the CRC it recomputes, its mutators."""

from __future__ import annotations

import importlib.util
import random
import struct
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "format" / "golden"


def _load_fuzzer():
    if "fuzz_decode" in sys.modules:
        return sys.modules["fuzz_decode"]
    spec = importlib.util.spec_from_file_location("fuzz_decode", ROOT / "benchmarks" / "fuzz_decode.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_decode"] = mod  # its dataclasses look the module up
    spec.loader.exec_module(mod)
    return mod


fz = _load_fuzzer()
MUTATED = 2000
CASE_BOUND_S = 3.0


@pytest.fixture(scope="module")
def corpus():
    return fz.build_corpus(generated=24, seed=0, regressions=False)


@pytest.fixture(scope="module")
def summary(corpus, tmp_path_factory):
    return fz.fuzz(corpus, seed=2026, cases=len(corpus) + MUTATED, workers=1, case_timeout=CASE_BOUND_S,
                   memory_mib=1024, out=tmp_path_factory.mktemp("fuzz"))


def test_fuzz_run_keeps_the_contract(summary, corpus):
    out = summary["outcomes"]
    assert summary["cases"] == len(corpus) + MUTATED
    assert out["foreign"] == 0, summary["foreign_exceptions"]
    assert out["stall"] == 0 and out["crash"] == 0 and out["over_memory"] == 0, (out, summary["slowest"][:3])
    assert summary["case_time_max_s"] < CASE_BOUND_S, summary["slowest"][:3]
    assert not summary["corpus"]["excluded_slow_seeds"], "every seed decodes quickly"


def test_fuzz_cases_reach_the_entropy_decoders(summary):
    """Most cases carry a recomputed CRC, so the mutations reach the parser and the range decoders:
    some decode, many fail inside the entropy-coded streams, few on the CRC."""
    n = summary["cases"]
    assert summary["crc_fixed_cases"] > 0.7 * n
    assert summary["outcomes"]["decoded"] > 0.05 * n
    assert summary["stream_errors"] > 0.01 * n, summary["format_error_messages"]
    assert summary["crc_errors"] < 0.4 * n
    assert summary["format_error_kinds"] >= 20  # header, record, length and stream checks alike
    assert summary["inspected_cases"] >= summary["outcomes"]["decoded"]


def test_layout_of_the_worked_examples():
    """The fuzzer's field map agrees with format_spec.md sections 8 and 10."""
    lay = fz.parse_layout((GOLDEN / "tiny_seeded.srn").read_bytes())
    fields = {f.name: f for f in lay.fields}
    assert lay.version == 3
    assert (fields["width"].offset, fields["height"].offset, fields["hidden_width"].offset) == (4, 6, 10)
    assert (fields["layer1.bits"].offset, fields["layer1.pruned"].offset, fields["layer2.bias"].offset) \
        == (0x24, 0x2C, 0x45)
    assert [(p.len_offset, p.start, p.end) for p in lay.payloads] == [(0x47, 0x48, 0x64)]
    data = (GOLDEN / "latent_gray.srn").read_bytes()
    lay = fz.parse_layout(data)
    fields = {f.name: f for f in lay.fields}
    assert lay.version == 4
    assert [data[fields[f"reach{k}"].offset] for k in range(3)] == [10, 7, 3]
    assert (fields["conv"].offset, fields["record3.step"].offset, fields["record4.param"].offset) \
        == (0x0E, 0x2B, 0x33)
    assert [p.name for p in lay.payloads] == ["weights", "latents"]
    assert lay.payloads[0].len_offset == 0x38 and lay.payloads[0].end - lay.payloads[0].start == 52
    assert lay.payloads[1].end == len(data) - 4
    assert fz.parse_layout(data[:-5] + data[-4:]) is None
    assert fz.parse_layout(b"PNG" + data[3:]) is None
    v5 = (GOLDEN / "latent_levels_rgb.srn").read_bytes()  # section 10's version 5 example
    lay = fz.parse_layout(v5)
    fields = {f.name: f for f in lay.fields}
    assert lay.version == 5 and [fields[f"grid_level{k}"].offset for k in range(5)] == [0x0B, 0x0C, 0x0D, 0x0E, 0x0F]
    assert [v5[fields[f"reach{k}"].offset] for k in range(5)] == [8, 11, 8, 6, 4]
    assert lay.payloads[0].len_offset == 0x3F and lay.payloads[1].end == len(v5) - 4
    v7 = (GOLDEN / "latent_channel_rgb.srn").read_bytes()  # section 10's version 7 example
    lay = fz.parse_layout(v7)
    fields = {f.name: f for f in lay.fields}
    assert lay.version == 7 and (fields["context"].offset, fields["channel_inputs"].offset) == (0x11, 0x12)
    assert (fields["filters"].offset, fields["upsampling.param"].offset) == (0x3C, 0x41)
    assert [v7[fields[f"reach{k}"].offset] for k in range(6)] == [8, 5, 8, 5, 3, 7]
    assert lay.payloads[0].len_offset == 0x49 and lay.payloads[1].len_offset == 0xEB


def test_crc_recomputation_and_truncation(corpus):
    rng = random.Random(5)
    for seed in corpus[:12]:
        assert fz.crc_ok(seed.data)
        body = bytearray(seed.data[:-4])
        fz.op_bitflip(body, rng, None)
        data = fz.with_crc(bytes(body))
        assert data[:-4] == bytes(body)
        assert struct.unpack("<I", data[-4:])[0] == zlib.crc32(bytes(body))
        assert fz.crc_ok(data) and not fz.crc_ok(bytes(body) + seed.data[-4:])
        cut = fz.truncate(seed.data, rng)
        assert len(cut) < len(seed.data) and seed.data.startswith(cut)


def test_mutators(corpus):
    rng = random.Random(9)
    latent = next(s for s in corpus if s.data[3] == 4)
    siren = next(s for s in corpus if s.data[3] == 3)
    for seed in (latent, siren):
        for _ in range(30):
            body = bytearray(seed.data[:-4])
            op = fz.mutate_payload(body, seed.layout, rng)
            lay = fz.parse_layout(fz.with_crc(bytes(body)))  # lengths kept consistent
            assert lay is not None, op
            first = seed.layout.payloads[0].len_offset  # nothing before the payloads changes
            assert bytes(body[:first]) == seed.data[:first]
    height = next(f for f in latent.layout.fields if f.name == "height")
    for _ in range(20):
        body = bytearray(latent.data[:-4])
        (op,) = fz.mutate_fields(body, latent.layout, rng, [height])
        assert op.startswith("field:height=") and len(body) == len(latent.data) - 4
        assert body[:6] == latent.data[:6] and body[8:] == latent.data[8:-4]
        assert struct.unpack("<H", body[6:8])[0] == int(op.split("=")[1])
    for name, (fn, _) in fz.GENERIC_OPS.items():
        for _ in range(20):
            buf = bytearray(siren.data)
            fn(buf, rng, lambda r: (latent.name, latent.data))
            assert isinstance(buf, bytearray), name
    active = list(range(len(corpus)))
    a = fz.make_case(corpus, active, 3, 77)
    b = fz.make_case(corpus, active, 3, 77)
    assert (a.data, a.ops, a.seed_name) == (b.data, b.ops, b.seed_name)  # case i is a function of (seed, i)
    cases = [fz.make_case(corpus, active, 3, i) for i in range(400)]
    assert sum(c.crc_fixed for c in cases) > 0.7 * len(cases)
    assert all(fz.crc_ok(c.data) for c in cases if c.crc_fixed)
    assert sum(c.data in {s.data for s in corpus} for c in cases) < 10  # nearly every case is mutated
    kinds = {op.split(":")[0] for c in cases for op in c.ops}
    assert kinds >= {"field", "payload", "bitflip", "byteset", "insert", "delete", "truncate", "append",
                     "splice"}


def test_run_case_classifies():
    good = (GOLDEN / "latent_gray.srn").read_bytes()
    r = fz.run_case(good)
    assert r.outcome == "decoded" and r.inspected
    r = fz.run_case(good[:-1] + bytes([good[-1] ^ 1]))
    assert r.outcome == "format_error" and "CRC" in r.detail
    assert fz.normalize_message("layer 3: bit width 17 outside 2..16") == "layer #: bit width # outside #..#"
