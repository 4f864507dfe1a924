"""Decoder fuzzer: mutated `.srn` files must decode to a uint8 image or raise FormatError.

    .venv/bin/python benchmarks/fuzz_decode.py --minutes N [--cases M] [--workers W] [--seed S]
        [--out DIR] [--case-timeout SEC] [--memory-mib MiB]

The contract under test: ``sirencodec.decode(data)`` on any byte string returns a uint8 image
or raises ``FormatError`` with a one-line message, and ``sirencodec.inspect(data)`` raises
nothing but ``FormatError``.  Anything else is a defect: another exception type ("foreign"),
a case running past ``--case-timeout`` ("stall"), an allocation beyond ``--memory-mib`` above
the worker's own size ("over-memory"), or a worker killed by a signal ("crash").

Seeds: every ``tests/format/golden/*.srn``, small networks generated with ``tests/netgen.py``
(both codecs; sizes, channels, bit widths, sparsity, bias storage, seeded residuals, grids,
contexts) and every ``tests/format/regressions/*.srn`` (drawn a quarter as often as the others:
their decodes are the slowest).  The seeds run unmutated first; a seed slower than
``--slow-seed`` is not mutated (it is reported).  Each further case is one seed
with one or more mutations: bit flips, byte sets, inserts, deletes, truncation, junk appended,
splices of two seeds, header and layer-record field edits to boundary values (parsed from the
seed's layout, versions 3 and 4), and payload-only edits that keep the length fields
consistent.  ``--crc-share`` of the cases (0.8) get a recomputed CRC-32 so that the mutation
reaches the parser and the entropy decoders.  Case i of a run is a pure function of ``--seed``,
i, the corpus and the stall quarantine (below).  ``inspect`` runs on every input that decoded
and on one case in 16 of the others.

Cases run in batches on ``--workers`` forked processes.  A case past the timeout is interrupted
in the worker (SIGALRM) and recorded as a stall with the frame it was stuck in; a worker that
does not come back (a hang in C code) is killed and its case recorded as a stall; a worker that
dies is restarted and its case recorded as a crash.  A structural mutation (e.g. "v4 field
height") that stalled ``--stall-quarantine`` times is not drawn again, so that one known slow
path does not eat the run.  Every non-clean input is saved as ``OUT/<kind>-<sha1[:12]>.srn``
with a line in ``OUT/fuzz-log.jsonl``; ``OUT/summary.json`` is written at the end (and on
Ctrl-C or SIGTERM) and printed.  Exit status 0 iff no foreign exception, stall, over-memory or crash.

The library parts (``parse_layout``, ``build_corpus``, the mutators, ``make_case``,
``run_case``, ``fuzz``) are importable: ``tests/format/test_fuzz.py`` runs a short fuzz.
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one core per worker (not when imported: the importer's threads are its own)
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse
import hashlib
import heapq
import json
import multiprocessing
import random
import re
import resource
import signal
import struct
import sys
import time
import traceback
import warnings
import zlib
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import wait as mp_wait
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sirencodec
from sirencodec.errors import FormatError
from sirencodec.format.container import varint, with_crc

GOLDEN_DIR = ROOT / "tests" / "format" / "golden"
REGRESSION_DIR = ROOT / "tests" / "format" / "regressions"
OUTCOMES = ("decoded", "format_error", "foreign", "stall", "over_memory", "crash")
BAD_OUTCOMES = ("foreign", "stall", "over_memory", "crash")
STREAM_ERROR = re.compile(r"entropy-coded|corrupt stream")
FILE_KIND = {"foreign": "foreign", "stall": "stall", "over_memory": "over-memory", "crash": "crash"}


# --- the layout of a valid file (where each field lies) -------------------------------


@dataclass(frozen=True)
class Field:
    name: str  # e.g. "height", "layer2.scale", "reach3"
    offset: int
    size: int
    kind: str  # u8 u16 f16 f32 varint flags


@dataclass(frozen=True)
class Payload:
    name: str
    len_offset: int  # the varint length field
    len_size: int
    start: int
    end: int


@dataclass(frozen=True)
class Layout:
    version: int
    fields: tuple[Field, ...]
    payloads: tuple[Payload, ...]


def parse_layout(data: bytes) -> Layout | None:
    """Field offsets of a well-formed version 1-7 file (format_spec.md sections 2, 4 and 10),
    or None when the bytes do not parse.  Independent of the decoder: it only locates fields."""
    try:
        if data[:3] != b"SRN":
            return None
        if data[3] in (1, 2, 3):
            return _layout_v3(data)
        if data[3] in (4, 5, 6, 7):
            return _layout_v4(data)
    except (IndexError, struct.error, ValueError):
        pass
    return None


def _varint_at(data: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    for k in range(5):
        b = data[pos + k]
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, k + 1
    raise ValueError("varint too long")


def _layout_v3(data: bytes) -> Layout:
    fields = [Field("version", 3, 1, "u8"), Field("width", 4, 2, "u16"), Field("height", 6, 2, "u16"),
              Field("channels", 8, 1, "u8"), Field("hidden_layers", 9, 1, "u8"),
              Field("hidden_width", 10, 2, "u16"), Field("omega0_first", 12, 2, "f16"),
              Field("omega0_hidden", 14, 2, "f16")]
    channels, n_hidden, width = data[8], data[9], struct.unpack_from("<H", data, 10)[0]
    shapes = [(width, 2)] + [(width, width)] * n_hidden + [(channels, width)]
    pos = 16
    for i, (out, inp) in enumerate(shapes):
        p = f"layer{i}."
        flags = data[pos + 1]
        fields += [Field(p + "bits", pos, 1, "u8"), Field(p + "flags", pos + 1, 1, "flags"),
                   Field(p + "scale", pos + 2, 4, "f32"), Field(p + "zero_point", pos + 6, 2, "u16")]
        pos += 8
        pruned, n = _varint_at(data, pos)
        fields.append(Field(p + "pruned", pos, n, "varint"))
        pos += n
        if pruned < out * inp:
            lo, hi = struct.unpack_from("<HH", data, pos)
            fields += [Field(p + "lo", pos, 2, "u16"), Field(p + "hi", pos + 2, 2, "u16")]
            pos += 4
            if (flags >> 4) & 3 and hi > lo:
                fields += [Field(p + "center", pos, 2, "u16"), Field(p + "param", pos + 2, 4, "f32")]
                pos += 6
        if flags & 0x02:
            fields += [Field(p + "bias_bits", pos, 1, "u8"), Field(p + "bias_scale", pos + 1, 4, "f32"),
                       Field(p + "bias_zero_point", pos + 5, 2, "u16")]
            pos += 7
        elif flags & 0x01:
            fields.append(Field(p + "bias", pos, 2, "f16"))
            pos += 2 * out
        else:
            fields.append(Field(p + "bias", pos, 4, "f32"))
            pos += 4 * out
    length, n = _varint_at(data, pos)
    payload = Payload("payload", pos, n, pos + n, pos + n + length)
    fields.append(Field("payload_len", pos, n, "varint"))
    if payload.end != len(data) - 4:
        raise ValueError("not a well-formed file")
    return Layout(data[3], tuple(fields), (payload,))


def _layout_v4(data: bytes) -> Layout:
    """Versions 4 to 7 (5-7: each grid's level after the grid count; 7: the channel inputs after
    the context; 6 and 7: the upsampling record after the layer records)."""
    fields = [Field("version", 3, 1, "u8"), Field("width", 4, 2, "u16"), Field("height", 6, 2, "u16"),
              Field("channels", 8, 1, "u8"), Field("kind", 9, 1, "u8"), Field("levels", 10, 1, "u8")]
    levels = data[10]
    pos = 11
    if data[3] >= 5:
        fields += [Field(f"grid_level{i}", pos + i, 1, "u8") for i in range(levels)]
        pos += levels
    fields.append(Field("context", pos, 1, "u8"))
    pos += 1
    if data[3] == 7:
        fields.append(Field("channel_inputs", pos, 1, "u8"))
        pos += 1
    fields.append(Field("synth_layers", pos, 1, "u8"))
    n_synth = data[pos]
    pos += 1
    for j in range(n_synth - 1):
        fields.append(Field(f"synth_width{j}", pos + j, 1, "u8"))
    pos += n_synth - 1
    has_conv, n_arm = data[pos], data[pos + 1]
    fields += [Field("conv", pos, 1, "u8"), Field("arm_layers", pos + 1, 1, "u8")]
    pos += 2
    for j in range(n_arm - 1):
        fields.append(Field(f"arm_width{j}", pos + j, 1, "u8"))
    pos += n_arm - 1
    for i in range(n_synth + has_conv + n_arm):
        p = f"record{i}."
        arm = i >= n_synth + has_conv
        model = data[pos + 1]
        fields += [Field(p + "bits", pos, 1, "u8"), Field(p + "model", pos + 1, 1, "u8")]
        pos += 2
        step = (1, "u8") if arm else (2, "f16")
        fields += [Field(p + "step", pos, *step), Field(p + "bias_step", pos + step[0], *step)]
        pos += 2 * step[0]
        if model:
            fields.append(Field(p + "param", pos, 2, "f16"))
            pos += 2
    if data[3] >= 6:
        model = data[pos + 2]
        fields += [Field("filters", pos, 1, "u8"), Field("upsampling.bits", pos + 1, 1, "u8"),
                   Field("upsampling.model", pos + 2, 1, "u8"), Field("upsampling.step", pos + 3, 2, "f16")]
        pos += 5
        if model:
            fields.append(Field("upsampling.param", pos, 2, "f16"))
            pos += 2
    for level in range(levels):
        fields.append(Field(f"reach{level}", pos + level, 1, "u8"))
    pos += levels
    payloads = []
    for name in ("weights", "latents"):
        length, n = _varint_at(data, pos)
        fields.append(Field(f"{name}_len", pos, n, "varint"))
        payloads.append(Payload(name, pos, n, pos + n, pos + n + length))
        pos += n + length
    if pos != len(data) - 4:
        raise ValueError("not a well-formed file")
    return Layout(data[3], tuple(fields), tuple(payloads))


# --- the seed corpus -----------------------------------------------------------------


@dataclass
class Seed:
    name: str
    data: bytes
    source: str  # golden, generated, regression
    layout: Layout | None = None


def golden_seeds() -> list[Seed]:
    return [Seed(f"golden/{p.name}", p.read_bytes(), "golden") for p in sorted(GOLDEN_DIR.glob("*.srn"))]


def regression_seeds() -> list[Seed]:
    return [Seed(f"regressions/{p.name}", p.read_bytes(), "regression")
            for p in sorted(REGRESSION_DIR.glob("*.srn"))]


def generated_seeds(count: int = 64, seed: int = 0, max_bytes: int = 4096) -> list[Seed]:
    """``count`` small valid files from ``tests/netgen.py``, half SIREN (version 3), half
    latent grids (version 4), over a spread of shapes and storage options; latent files with
    a reach above 32 are left out (their decode takes tens of milliseconds)."""
    import dataclasses

    from sirencodec.format import latent_v4
    from tests.netgen import random_latent_network, random_network

    rng = np.random.default_rng(seed)
    out: list[Seed] = []
    tries = 0
    while len(out) < count and tries < 8 * count:
        tries += 1
        k = len(out)
        try:
            if k % 2 == 0:
                n_hidden = int(rng.integers(0, 4))
                dtypes = [str(rng.choice(["float32", "float16", "quantized"])) for _ in range(n_hidden + 2)]
                kw = {"width": int(rng.integers(1, 25)), "height": int(rng.integers(1, 25)),
                      "channels": int(rng.choice([1, 3])), "hidden_width": int(rng.integers(1, 13)),
                      "hidden_layers": n_hidden, "bits": int(rng.integers(2, 17)),
                      "sparsity": float(rng.choice([0.0, 0.1, 0.3, 0.6, 0.9, 1.0])), "bias_dtype": dtypes,
                      "distribution": str(rng.choice(["uniform", "laplace"])),
                      "omega0": float(rng.choice([30.0, 1.0, 90.0])),
                      "seeded_residuals": bool(rng.random() < 0.4)}
                data = sirencodec.pack(random_network(rng, **kw))
                name = ("generated/siren-{width}x{height}x{channels}-F{hidden_width}-N{hidden_layers}-b{bits}"
                        .format(**kw))
            else:
                w, h = int(rng.integers(1, 21)), int(rng.integers(1, 21))
                kw = {"width": w, "height": h, "channels": int(rng.choice([1, 3])),
                      "levels": int(rng.integers(1, latent_v4.max_levels(h, w) + 1)),
                      "synthesis": tuple(int(v) for v in rng.integers(1, 9, int(rng.integers(0, 3)))),
                      "conv": bool(rng.random() < 0.5), "context": int(rng.integers(1, 17)),
                      "arm": tuple(int(v) for v in rng.integers(1, 9, int(rng.integers(0, 3)))),
                      "bits": int(rng.integers(2, 13)),
                      "latent_scale": float(rng.choice([0.3, 1.5, 4.0, 20.0]))}
                net = random_latent_network(rng, **kw)
                if rng.random() < 0.15:  # every reach 0: the latents code nothing
                    net = dataclasses.replace(net, grids=[np.zeros_like(g) for g in net.grids])
                data = sirencodec.pack_latent(net, trim_tries=1)
                layout = parse_layout(data)
                fields = layout.fields if layout is not None else ()
                if layout is None or max(data[f.offset] for f in fields if f.name.startswith("reach")) > 32:
                    continue  # a wide alphabet makes every decode slow; field edits still reach it
                name = ("generated/latent-{width}x{height}x{channels}-L{levels}-K{context}-b{bits}"
                        .format(**kw))
        except FormatError:
            continue  # a draw the format cannot hold (e.g. a reach beyond 255)
        if len(data) <= max_bytes:
            out.append(Seed(f"{name}-{k}", data, "generated"))
    return out


def build_corpus(*, generated: int = 64, seed: int = 0, regressions: bool = True) -> list[Seed]:
    """Golden vectors, ``generated`` netgen files and (optionally) the regression inputs,
    each with its parsed layout."""
    seeds = golden_seeds() + generated_seeds(generated, seed) + (regression_seeds() if regressions else [])
    for s in seeds:
        s.layout = parse_layout(s.data)
    return seeds


# --- mutators ------------------------------------------------------------------------


def crc_ok(data: bytes) -> bool:
    return len(data) >= 4 and zlib.crc32(data[:-4]) == struct.unpack("<I", data[-4:])[0]


INTERESTING_BYTES = (0x00, 0x01, 0x02, 0x7F, 0x80, 0x81, 0xFE, 0xFF)
U8_VALUES = (0, 1, 2, 3, 4, 5, 7, 8, 12, 13, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 254, 255)
U16_VALUES = (0, 1, 2, 255, 256, 1023, 1024, 1025, 4096, 8191, 8192, 8193, 16384, 32767, 32768, 65534, 65535)
F16_BITS = (0x0000, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x0001, 0x0400, 0x7BFF, 0x3C00, 0x3800, 0x3BFF,
            0xBC00, 0x4F80, 0x1400)
F32_BITS = (0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x00000001, 0x00800000,
            0x7F7FFFFF, 0x3F800000, 0x3F000000, 0x3F7FFFFF, 0xBF800000, 0x2F800000, 0x4B000000)
VARINT_VALUES = (0, 1, 2, 127, 128, 255, 16383, 16384, 65535, 65536, 1 << 21, (1 << 28) - 1, 1 << 28,
                 (1 << 32) - 1, (1 << 35) - 1)
FLAG_VALUES = (0x00, 0x01, 0x02, 0x03, 0x04, 0x06, 0x08, 0x0A, 0x0E, 0x10, 0x20, 0x30, 0x40, 0x80, 0xFF)
STRUCTURAL_SHARE = 0.5  # cases whose first mutation is a field or payload edit (when the seed parses)


def _field_bytes(f: Field, data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """New bytes for field ``f`` (a boundary value, a neighbour of the old value, or random)
    and a short description of the value."""
    old = data[f.offset:f.offset + f.size]
    r = rng.random()
    if f.kind in ("u8", "flags", "u16"):
        fmt, values, top = ("<B", FLAG_VALUES if f.kind == "flags" else U8_VALUES, 255) if f.size == 1 \
            else ("<H", U16_VALUES, 65535)
        (cur,) = struct.unpack(fmt, old)
        if r < 0.7:
            v = rng.choice(values)
        elif r < 0.9:
            v = min(max(cur + rng.choice((-1, 1, -2, 2)), 0), top)
        else:
            v = rng.randint(0, top)
        if f.kind == "flags" and r >= 0.7:
            v = cur ^ (1 << rng.randrange(8))
        return struct.pack(fmt, v), str(v)
    if f.kind in ("f16", "f32"):
        bits, n = (F16_BITS, 16) if f.kind == "f16" else (F32_BITS, 32)
        if r < 0.6:
            v = rng.choice(bits)
        elif r < 0.8:
            v = int.from_bytes(old, "little") ^ (1 << rng.randrange(n))
        else:
            v = rng.getrandbits(n)
        return v.to_bytes(f.size, "little"), f"0x{v:0{n // 4}x}"
    # varint
    try:
        cur, _ = _varint_at(data, f.offset)
    except (IndexError, ValueError):
        cur = 0
    if r < 0.6:
        v = rng.choice(VARINT_VALUES)
    elif r < 0.85:
        v = max(cur + rng.choice((-1, 1, -2, 2, -4, 4)), 0)
    elif r < 0.93:  # an over-long (5-byte) encoding of the same value
        enc = bytearray(varint(cur))
        while len(enc) < 5:
            enc[-1] |= 0x80
            enc.append(0)
        return bytes(enc), f"{cur} (5-byte)"
    else:  # six continuation bytes: invalid
        return bytes([0x80] * 6) + b"\x00", "6-byte"
    return varint(v), str(v)


def mutate_fields(buf: bytearray, layout: Layout, rng: random.Random, picks: list[Field]) -> list[str]:
    """Overwrite each field of ``picks`` (highest offset first, so that a varint changing size
    keeps the other offsets valid)."""
    ops = []
    for f in sorted(set(picks), key=lambda f: -f.offset):
        if f.offset + f.size > len(buf):
            continue
        new, desc = _field_bytes(f, bytes(buf), rng)
        buf[f.offset:f.offset + f.size] = new
        ops.append(f"field:{f.name}={desc}")
    return ops


def mutate_payload(buf: bytearray, layout: Layout, rng: random.Random, which: Payload | None = None) -> str:
    """Damage one payload and nothing else; a change of its length rewrites the length varint."""
    p = which or rng.choice(layout.payloads)
    body = bytearray(buf[p.start:p.end])
    kind = rng.choice(("flip", "bytes", "fill", "random", "shorter", "longer", "empty") if body
                      else ("longer", "longer", "random"))
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(body))
            body[i] ^= 1 << rng.randrange(8)
    elif kind == "bytes":
        for _ in range(rng.randint(1, 4)):
            body[rng.randrange(len(body))] = rng.choice(INTERESTING_BYTES + (rng.randrange(256),))
    elif kind == "fill":
        a = rng.randrange(len(body))
        b = rng.randint(a + 1, len(body))
        v = rng.choice((0x00, 0xFF, None))
        body[a:b] = bytes(rng.getrandbits(8) for _ in range(b - a)) if v is None else bytes([v]) * (b - a)
    elif kind == "random":
        body = bytearray(rng.getrandbits(8) for _ in range(len(body)))
    elif kind == "shorter":
        body = body[:rng.randrange(len(body))]
    elif kind == "longer":
        body += bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 32)))
    elif kind == "empty":
        body = bytearray()
    if len(body) != p.end - p.start:
        buf[p.len_offset:p.end] = varint(len(body)) + body
    else:
        buf[p.start:p.end] = body
    return f"payload:{p.name}:{kind}"


def op_bitflip(buf: bytearray, rng: random.Random, others) -> str:
    if not buf:
        return "bitflip:none"
    n = rng.choice((1, 1, 1, 2, 3, 4, 8))
    for _ in range(n):
        # Half of the flips land in the first 64 bytes: the header and the layer records.
        i = rng.randrange(min(len(buf), 64)) if rng.random() < 0.5 else rng.randrange(len(buf))
        buf[i] ^= 1 << rng.randrange(8)
    return f"bitflip:{n}"


def op_byteset(buf: bytearray, rng: random.Random, others) -> str:
    if not buf:
        return "byteset:none"
    n = rng.randint(1, 4)
    for _ in range(n):
        i = rng.randrange(min(len(buf), 64)) if rng.random() < 0.5 else rng.randrange(len(buf))
        buf[i] = rng.choice(INTERESTING_BYTES) if rng.random() < 0.6 else rng.randrange(256)
    return f"byteset:{n}"


def op_insert(buf: bytearray, rng: random.Random, others) -> str:
    i = rng.randint(0, len(buf))
    n = rng.choice((1, 1, 2, 4, 16))
    if rng.random() < 0.5:
        junk = bytes([rng.randrange(256)]) * n
    else:
        junk = bytes(rng.getrandbits(8) for _ in range(n))
    buf[i:i] = junk
    return f"insert:{i}+{n}"


def op_delete(buf: bytearray, rng: random.Random, others) -> str:
    if not buf:
        return "delete:none"
    i = rng.randrange(len(buf))
    n = rng.choice((1, 1, 2, 4, 16))
    del buf[i:i + n]
    return f"delete:{i}-{n}"


def op_truncate(buf: bytearray, rng: random.Random, others) -> str:
    n = rng.randrange(len(buf)) if buf else 0
    del buf[n:]
    return f"truncate:{n}"


def op_append(buf: bytearray, rng: random.Random, others) -> str:
    n = rng.choice((1, 2, 4, 16, 64))
    buf += bytes(n) if rng.random() < 0.3 else bytes(rng.getrandbits(8) for _ in range(n))
    return f"append:{n}"


def op_splice(buf: bytearray, rng: random.Random, others) -> str:
    """A prefix of this input followed by a suffix of another seed."""
    name, other = others(rng)
    a, b = rng.randint(0, len(buf)), rng.randint(0, len(other))
    buf[a:] = other[b:]
    return f"splice:{a}+{name}[{b}:]"


GENERIC_OPS = {"bitflip": (op_bitflip, 5), "byteset": (op_byteset, 3), "insert": (op_insert, 1),
               "delete": (op_delete, 1), "truncate": (op_truncate, 2), "append": (op_append, 1),
               "splice": (op_splice, 1)}
_GENERIC_NAMES = list(GENERIC_OPS)
_GENERIC_WEIGHTS = [w for _, w in GENERIC_OPS.values()]


def truncate(data: bytes, rng: random.Random) -> bytes:
    """``data`` cut at a random point (shorter)."""
    buf = bytearray(data)
    op_truncate(buf, rng, None)
    return bytes(buf)


@dataclass
class Case:
    index: int
    data: bytes
    seed_name: str
    ops: list[str]
    crc_fixed: bool
    signature: str | None = None  # the structural mutation, for the stall quarantine


def _signature(layout: Layout, op: str, f: Field | None = None) -> str:
    name = re.sub(r"\d+", "", f.name) if f is not None else op
    return f"v{layout.version}:{op}:{name}" if f is not None else f"v{layout.version}:{op}"


class SeedSource:
    """Case i is seed i, unmutated (the first phase of a run)."""

    def __init__(self, corpus: list[Seed]):
        self.corpus = corpus

    def __len__(self) -> int:
        return len(self.corpus)

    def get(self, i: int, quarantine=frozenset()) -> Case:
        s = self.corpus[i]
        return Case(i, s.data, s.name, [], False)


class MutationSource:
    """Case i: a seed of ``active`` mutated by a generator seeded with (seed, i)."""

    def __init__(self, corpus: list[Seed], active: list[int], seed: int, crc_share: float = 0.8):
        if not active:
            raise ValueError("no seed to mutate")
        self.corpus, self.active, self.seed, self.crc_share = corpus, list(active), seed, crc_share

    def get(self, i: int, quarantine=frozenset()) -> Case:
        return make_case(self.corpus, self.active, self.seed, i, self.crc_share, quarantine)


REGRESSION_WEIGHT = 0.25  # regression inputs (slow decodes) are drawn a quarter as often as other seeds
_CUM_WEIGHTS: dict = {}


def _pick(rng: random.Random, corpus: list[Seed], active: list[int]) -> int:
    """A seed of ``active`` (indices into ``corpus``), regression inputs at REGRESSION_WEIGHT."""
    key = (id(corpus), tuple(active))
    cum = _CUM_WEIGHTS.get(key)
    if cum is None:
        total, cum = 0.0, []
        for k in active:
            total += REGRESSION_WEIGHT if corpus[k].source == "regression" else 1.0
            cum.append(total)
        _CUM_WEIGHTS.clear()
        _CUM_WEIGHTS[key] = cum
    return rng.choices(active, cum_weights=cum)[0]


def make_case(corpus: list[Seed], active: list[int], seed: int, i: int, crc_share: float = 0.8,
              quarantine=frozenset()) -> Case:
    """Case i of a run: a pure function of its arguments."""
    rng = random.Random((seed * 0x9E3779B97F4A7C15 + i) & ((1 << 64) - 1))
    s = corpus[_pick(rng, corpus, active)]
    crc_fixed = rng.random() < crc_share
    buf = bytearray(s.data[:-4] if crc_fixed and len(s.data) >= 4 else s.data)

    def others(rng):
        o = corpus[rng.choice(active)]
        return o.name, (o.data[:-4] if crc_fixed else o.data)

    ops: list[str] = []
    signature = None
    n_generic = rng.choice((1, 1, 1, 2, 2, 3))
    if s.layout is not None and rng.random() < STRUCTURAL_SHARE:
        for _ in range(8):  # draw a structural mutation that is not quarantined
            if rng.random() < 0.6:
                picks = [rng.choice(s.layout.fields)]
                if rng.random() < 0.2:
                    picks.append(rng.choice(s.layout.fields))
                sig = _signature(s.layout, "field", picks[0])
                if sig in quarantine:
                    continue
                ops += mutate_fields(buf, s.layout, rng, picks)
            else:
                p = rng.choice(s.layout.payloads)
                sig = _signature(s.layout, f"payload:{p.name}")
                if sig in quarantine:
                    continue
                ops.append(mutate_payload(buf, s.layout, rng, p))
            signature = sig
            n_generic = rng.choice((0, 0, 0, 1))
            break
    for _ in range(n_generic):
        name = rng.choices(_GENERIC_NAMES, _GENERIC_WEIGHTS)[0]
        ops.append(GENERIC_OPS[name][0](buf, rng, others))
    data = with_crc(bytes(buf)) if crc_fixed else bytes(buf)
    return Case(i, data, s.name, ops, crc_fixed, signature)


# --- one case ------------------------------------------------------------------------


class CaseTimeout(BaseException):
    """Raised by SIGALRM in a worker whose case ran past the timeout (a BaseException, so that
    the decoder's ``except Exception`` cannot turn it into a FormatError)."""


_NUMBERS = re.compile(r"0x[0-9a-fA-F]+|(?<!\w)-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def normalize_message(msg: str) -> str:
    """A FormatError message with its numbers replaced by #, for the histogram."""
    return _NUMBERS.sub("#", msg)


def _last_frame(exc: BaseException) -> str:
    tb = [fr for fr in traceback.extract_tb(exc.__traceback__) if fr.name != "_on_alarm"]
    if not tb:
        return "?"
    fr = tb[-1]
    path = fr.filename
    try:
        path = str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        pass
    return f"{path}:{fr.lineno} in {fr.name}"


@dataclass
class CaseResult:
    outcome: str  # one of OUTCOMES
    detail: str = ""  # FormatError message, or "Type: message" of a foreign exception
    frame: str = ""  # the last traceback frame (foreign, stall, over-memory)
    stage: str = "decode"  # decode or inspect
    seconds: float = 0.0
    rss_growth_kib: int = 0
    inspected: bool = False
    inspect_refused: str = ""  # inspect's FormatError on an input that decoded (not a contract breach)


def _classify(exc: BaseException, stage: str) -> CaseResult:
    if isinstance(exc, CaseTimeout):
        return CaseResult("stall", f"interrupted after the case timeout in {stage}", _last_frame(exc), stage)
    if isinstance(exc, MemoryError):
        return CaseResult("over_memory", f"{type(exc).__name__}: {exc}"[:300], _last_frame(exc), stage)
    if isinstance(exc, FormatError):
        msg = str(exc)
        if not msg or "\n" in msg:
            bad = f"FormatError with a bad message: {msg!r}"[:300]
            return CaseResult("foreign", bad, _last_frame(exc), stage)
        if "MemoryError" in msg:  # an allocation failure the decoder reported as a format error
            return CaseResult("over_memory", msg, _last_frame(exc), stage)
        return CaseResult("format_error", msg, "", stage)
    return CaseResult("foreign", f"{type(exc).__name__}: {exc}"[:300], _last_frame(exc), stage)


def _check_image(img) -> str | None:
    if not isinstance(img, np.ndarray):
        return f"decode returned {type(img).__name__}, not an ndarray"
    if img.dtype != np.uint8 or img.size == 0 or img.ndim < 2 or img.shape[2:] not in ((), (3,)):
        return f"decode returned an array {img.dtype} {img.shape}"
    return None


def run_case(data: bytes, *, inspect: bool | None = None) -> CaseResult:
    """Decode ``data`` and classify what happened.  ``inspect``: also call ``inspect(data)``
    (None: only when the decode succeeded); its exceptions are classified the same way."""
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    try:
        img = sirencodec.decode(data)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)) and not isinstance(exc, CaseTimeout):
            raise
        res = _classify(exc, "decode")
    else:
        bad = _check_image(img)
        res = CaseResult("foreign", f"BadOutput: {bad}") if bad else CaseResult("decoded")
        del img
    if inspect or (inspect is None and res.outcome == "decoded"):
        res.inspected = True
        try:
            sirencodec.inspect(data)
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)) and not isinstance(exc, CaseTimeout):
                raise
            r2 = _classify(exc, "inspect")
            if r2.outcome != "format_error":
                r2.inspected = True
                res = r2
            elif res.outcome == "decoded":
                res.inspect_refused = r2.detail
    res.seconds = time.perf_counter() - t0
    res.rss_growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0
    return res


# --- workers -------------------------------------------------------------------------

_ARMED = False


def _on_alarm(signum, frame):
    if _ARMED:
        raise CaseTimeout()


def _run_guarded(data: bytes, timeout: float, inspect: bool | None) -> CaseResult:
    global _ARMED
    t0 = time.perf_counter()
    _ARMED = True
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return run_case(data, inspect=inspect)
    except CaseTimeout as exc:  # fired outside run_case's own handlers
        res = _classify(exc, "decode")
        res.seconds = time.perf_counter() - t0
        return res
    finally:
        _ARMED = False
        signal.setitimer(signal.ITIMER_REAL, 0)


def _vm_size_bytes() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _die_with_parent() -> None:
    """Linux: the worker gets SIGKILL when the process that forked it dies, however it dies."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker_main(wid: int, conn, source, slots, case_timeout: float, memory_mib: int, inspect_every: int):
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGALRM, _on_alarm)
    warnings.simplefilter("error")  # a warning that reaches a user is a finding: it raises here
    if memory_mib > 0:
        limit = _vm_size_bytes() + memory_mib * 1024 * 1024
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] == "stop":
            return
        _, bid, indices, quarantine = msg
        results = []
        for i in indices:
            try:
                case = source.get(i, quarantine)
            except Exception:  # noqa: BLE001 - a bug of the fuzzer itself: report it and stop
                conn.send(("error", bid, f"case {i}: {traceback.format_exc()}"))
                return
            slots[2 * wid] = i
            slots[2 * wid + 1] = time.monotonic()
            res = _run_guarded(case.data, case_timeout,
                               True if inspect_every and i % inspect_every == 0 else None)
            slots[2 * wid + 1] = 0.0
            clean = res.outcome in ("decoded", "format_error")
            results.append((i, res, hashlib.sha1(case.data).hexdigest(), len(case.data), case.seed_name,
                            case.ops, case.crc_fixed, case.signature, None if clean else case.data))
        try:
            conn.send(("done", bid, results))
        except (BrokenPipeError, OSError):
            return


class _Worker:
    def __init__(self, ctx, wid: int, source, slots, opts):
        self.wid = wid
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(wid, child, source, slots, *opts), daemon=True)
        self.proc.start()
        child.close()
        self.batch = None  # (bid, indices, quarantine) in flight

    def kill(self):
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()


# --- a run ---------------------------------------------------------------------------


@dataclass
class Stats:
    out: Path | None
    counts: Counter = field(default_factory=Counter)
    messages: Counter = field(default_factory=Counter)
    foreign_kinds: Counter = field(default_factory=Counter)
    times: list = field(default_factory=list)
    slowest: list = field(default_factory=list)  # heap of (seconds, i, size, sha1, seed, ops)
    saved: list = field(default_factory=list)
    seed_times: dict = field(default_factory=dict)  # phase 1: seed index -> (seconds, outcome)
    stall_signatures: Counter = field(default_factory=Counter)
    crc_fixed: int = 0
    inspected: int = 0
    inspect_refused: Counter = field(default_factory=Counter)
    max_rss: tuple = (0, None)
    restarts: int = 0
    log = None

    def add(self, phase: str, i: int, res: CaseResult, sha1: str, size: int, seed_name: str, ops,
            crc_fixed: bool, signature, data: bytes | None):
        self.counts[res.outcome] += 1
        self.crc_fixed += crc_fixed
        self.inspected += res.inspected
        if res.inspect_refused:
            self.inspect_refused[normalize_message(res.inspect_refused)] += 1
        self.times.append(res.seconds)
        if res.outcome == "format_error":
            self.messages[normalize_message(res.detail)] += 1
        if res.outcome == "foreign":
            self.foreign_kinds[(normalize_message(res.detail)[:160], res.frame, res.stage)] += 1
        if res.outcome == "stall" and signature:
            self.stall_signatures[signature] += 1
        if res.rss_growth_kib > self.max_rss[0]:
            self.max_rss = (res.rss_growth_kib, sha1)
        entry = (res.seconds, i, size, sha1, seed_name, ops)
        if len(self.slowest) < 10:
            heapq.heappush(self.slowest, entry)
        elif res.seconds > self.slowest[0][0]:
            heapq.heapreplace(self.slowest, entry)
        if phase == "seeds":
            self.seed_times[i] = (res.seconds, res.outcome)
        if res.outcome in BAD_OUTCOMES and self.out is not None:
            name = f"{FILE_KIND[res.outcome]}-{sha1[:12]}.srn"
            if data is not None:
                (self.out / name).write_bytes(data)
            if name not in self.saved:
                self.saved.append(name)
            line = {"phase": phase, "case": i, "kind": res.outcome, "file": name, "sha1": sha1, "bytes": size,
                    "seed": seed_name, "ops": ops, "crc_fixed": crc_fixed, "seconds": round(res.seconds, 4),
                    "stage": res.stage, "error": res.detail, "frame": res.frame,
                    "rss_growth_kib": res.rss_growth_kib}
            if self.log is not None:
                self.log.write(json.dumps(line) + "\n")
                self.log.flush()


def run_pool(source, indices_total: int, stats: Stats, *, phase: str, workers: int, case_timeout: float,
             memory_mib: int, deadline: float, quarantine_after: int, inspect_every: int = 16,
             progress=None) -> dict:
    """Run cases 0 .. indices_total - 1 of ``source`` on ``workers`` forked processes until
    done or ``deadline`` (time.monotonic()).  Returns {"interrupted": bool, "quarantine": set}."""
    ctx = multiprocessing.get_context("fork")
    slots = ctx.RawArray("d", 2 * workers)
    opts = (case_timeout, memory_mib, inspect_every)
    pool = [_Worker(ctx, w, source, slots, opts) for w in range(workers)]
    hard_limit = case_timeout + max(2.0, case_timeout)
    quarantine: set[str] = set()
    pending: list[list[int]] = []  # re-queued parts of killed batches
    next_index, bid = 0, 0
    batch_size = 16
    avg = 0.005
    done_cases = 0
    interrupted = False
    last_progress = time.monotonic()

    blind_deaths = 0

    def restart(w: _Worker, case_i: int | None, kind: str, detail: str):
        nonlocal blind_deaths
        b = w.batch
        w.kill()
        stats.restarts += 1
        if case_i is None:  # died between cases: its batch runs again, up to a point
            blind_deaths += 1
            if blind_deaths > 20:
                raise RuntimeError(f"workers keep dying outside any case ({detail})")
        if case_i is not None:
            case = source.get(case_i, b[2] if b else frozenset())
            res = CaseResult(kind, detail, "", "decode", hard_limit if kind == "stall" else 0.0)
            stats.add(phase, case_i, res, hashlib.sha1(case.data).hexdigest(), len(case.data), case.seed_name,
                      case.ops, case.crc_fixed, case.signature, case.data)
            if kind == "stall":
                _update_quarantine(case.signature)
        if b is not None:
            rest = [i for i in b[1] if i != case_i]
            if rest:
                pending.append(rest)
        pool[w.wid] = _Worker(ctx, w.wid, source, slots, opts)

    def _update_quarantine(sig):
        if sig and quarantine_after and stats.stall_signatures[sig] >= quarantine_after:
            quarantine.add(sig)

    try:
        while True:
            now = time.monotonic()
            open_for_work = now < deadline
            for w in pool:
                if w.batch is not None or not open_for_work:
                    continue
                if pending:
                    idx = pending.pop()
                elif next_index < indices_total:
                    n = min(batch_size, indices_total - next_index)
                    idx = list(range(next_index, next_index + n))
                    next_index += n
                else:
                    continue
                bid += 1
                w.batch = (bid, idx, frozenset(quarantine))
                slots[2 * w.wid + 1] = 0.0
                w.conn.send(("batch", bid, idx, w.batch[2]))
            busy = [w for w in pool if w.batch is not None]
            if not busy:
                break
            ready = mp_wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout=0.1)
            for w in list(busy):
                if w.conn in ready:
                    try:
                        msg = w.conn.recv()
                    except (EOFError, OSError):
                        msg = None
                    if msg is not None and msg[0] == "error":
                        raise RuntimeError(f"the fuzzer failed to generate a case: {msg[2]}")
                    if msg is not None and msg[0] == "done" and msg[1] == w.batch[0]:
                        t_batch = 0.0
                        for (i, res, sha1, size, seed_name, ops, crc_fixed, sig, data) in msg[2]:
                            stats.add(phase, i, res, sha1, size, seed_name, ops, crc_fixed, sig, data)
                            if res.outcome == "stall":
                                _update_quarantine(sig)
                            t_batch += res.seconds
                        done_cases += len(msg[2])
                        avg = 0.8 * avg + 0.2 * (t_batch / max(1, len(msg[2])))
                        batch_size = int(min(200, max(4, 0.25 / max(avg, 1e-5))))
                        w.batch = None
                        continue
                if not w.proc.is_alive():
                    w.proc.join()
                    code = w.proc.exitcode
                    case_i = int(slots[2 * w.wid]) if slots[2 * w.wid + 1] > 0 else None
                    sig = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                    restart(w, case_i, "crash", f"worker died ({sig})")
            now = time.monotonic()
            for w in list(pool):
                start = slots[2 * w.wid + 1]
                if w.batch is not None and start > 0 and now - start > hard_limit:
                    restart(w, int(slots[2 * w.wid]), "stall",
                            f"worker killed after {hard_limit:.1f} s (did not return to Python)")
            if progress is not None and now - last_progress > 10:
                last_progress = now
                progress(phase, done_cases, stats)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for w in pool:
            if w.proc.is_alive() and w.batch is None:
                try:
                    w.conn.send(("stop",))
                except OSError:
                    pass
        for w in pool:
            w.proc.join(0.5 if w.batch is None and not interrupted else 0)
            w.kill()
    return {"interrupted": interrupted, "quarantine": quarantine}


def fuzz(corpus: list[Seed], *, seed: int = 0, cases: int | None = None, minutes: float | None = None,
         workers: int = 1, case_timeout: float = 5.0, memory_mib: int = 1024, out: Path | str | None = None,
         slow_seed: float = 0.25, crc_share: float = 0.8, quarantine_after: int = 3, command: str = "",
         verbose: bool = False) -> dict:
    """A whole run: the seeds unmutated, then mutated cases until ``cases`` cases or
    ``minutes`` have passed.  Returns the summary (also written to OUT/summary.json)."""
    if cases is None and minutes is None:
        raise ValueError("give cases, minutes or both")
    t0 = time.monotonic()
    deadline = t0 + minutes * 60 if minutes is not None else float("inf")
    total = cases if cases is not None else 1 << 62
    out_dir = Path(out) if out is not None else None
    stats = Stats(out_dir)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        stats.log = open(out_dir / "fuzz-log.jsonl", "w")

    def progress(phase, n, st):
        if verbose:
            el = time.monotonic() - t0
            bad = {k: st.counts[k] for k in BAD_OUTCOMES if st.counts[k]}
            print(f"[{el:6.0f} s] {sum(st.counts.values())} cases ({phase}), "
                  f"{sum(st.counts.values()) / el:.0f}/s, bad: {bad or 0}", file=sys.stderr, flush=True)

    common = {"workers": workers, "case_timeout": case_timeout, "memory_mib": memory_mib,
              "deadline": deadline, "quarantine_after": quarantine_after, "progress": progress}
    n_seeds = min(len(corpus), total)
    r1 = run_pool(SeedSource(corpus), n_seeds, stats, phase="seeds", **common)
    excluded = {}
    for k, s in enumerate(corpus):
        sec, outcome = stats.seed_times.get(k, (None, "not run"))
        if sec is None or sec > slow_seed or outcome in ("stall", "crash", "over_memory"):
            excluded[s.name] = {"seconds": None if sec is None else round(sec, 3), "outcome": outcome}
    active = [k for k, s in enumerate(corpus) if s.name not in excluded]
    r2 = {"interrupted": False, "quarantine": set()}
    if not r1["interrupted"] and active and total > n_seeds and time.monotonic() < deadline:
        r2 = run_pool(MutationSource(corpus, active, seed, crc_share), total - n_seeds, stats,
                      phase="mutations", **common)
    wall = time.monotonic() - t0
    if stats.log is not None:
        stats.log.close()
    n = sum(stats.counts.values())
    times = np.sort(np.asarray(stats.times)) if stats.times else np.zeros(1)
    foreign_kinds = [{"error": k[0], "frame": k[1], "stage": k[2], "count": c}
                     for k, c in stats.foreign_kinds.most_common()]
    summary = {
        "command": command,
        "seed": seed,
        "workers": workers,
        "case_timeout_s": case_timeout,
        "memory_mib": memory_mib,
        "corpus": {"seeds": len(corpus), **Counter(s.source for s in corpus),
                   "excluded_slow_seeds": excluded},
        "wall_s": round(wall, 2),
        "cases": n,
        "cases_per_s": round(n / wall, 1) if wall > 0 else 0.0,
        "outcomes": {k: stats.counts.get(k, 0) for k in OUTCOMES},
        "crc_fixed_cases": stats.crc_fixed,
        "inspected_cases": stats.inspected,
        # inputs that decode but that inspect() refuses with a FormatError (allowed, but odd)
        "inspect_refused_decoded": [[m, c] for m, c in stats.inspect_refused.most_common(10)],
        "format_error_messages": [[m, c] for m, c in stats.messages.most_common(20)],
        "format_error_kinds": len(stats.messages),
        # FormatErrors raised by the entropy decoders (masks, weights, latents): cases that got
        # past the CRC and the parser.
        "stream_errors": sum(c for m, c in stats.messages.items() if STREAM_ERROR.search(m)),
        "crc_errors": sum(c for m, c in stats.messages.items() if m.startswith("CRC")),
        "foreign_exceptions": foreign_kinds,
        "case_time_max_s": round(float(times[-1]), 4),
        "case_time_p999_s": round(float(np.quantile(times, 0.999)), 4),
        "slowest": [{"seconds": round(e[0], 4), "bytes": e[2], "sha1": e[3], "seed": e[4], "ops": e[5]}
                    for e in sorted(stats.slowest, reverse=True)],
        "max_rss_growth_kib": stats.max_rss[0],
        "max_rss_growth_sha1": stats.max_rss[1],
        "stall_signatures": dict(stats.stall_signatures),
        "quarantined": sorted(r2["quarantine"] | r1["quarantine"]),
        "worker_restarts": stats.restarts,
        "interrupted": bool(r1["interrupted"] or r2["interrupted"]),
        "saved": stats.saved,
    }
    summary["clean"] = all(summary["outcomes"][k] == 0 for k in BAD_OUTCOMES)
    if out_dir is not None:
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, help="stop after this many minutes")
    ap.add_argument("--cases", type=int, help="stop after this many cases (seeds included)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=0, help="case i is a function of (seed, i)")
    ap.add_argument("--out", default="/tmp/fuzz-out", help="saved inputs, fuzz-log.jsonl, summary.json")
    ap.add_argument("--case-timeout", type=float, default=5.0, help="seconds before a case is a stall")
    ap.add_argument("--memory-mib", type=int, default=1024,
                    help="address space a worker may add to its own size (RLIMIT_AS); 0: no limit")
    ap.add_argument("--generated", type=int, default=64, help="netgen seed files")
    ap.add_argument("--no-regressions", action="store_true", help="leave tests/format/regressions out")
    ap.add_argument("--slow-seed", type=float, default=0.25, help="seeds slower than this are not mutated")
    ap.add_argument("--crc-share", type=float, default=0.8, help="share of cases with a recomputed CRC")
    ap.add_argument("--stall-quarantine", type=int, default=3,
                    help="stop drawing a structural mutation after this many stalls (0: never)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.minutes is None and args.cases is None:
        ap.error("give --minutes, --cases or both")
    if args.workers < 1:
        ap.error("--workers must be at least 1")
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # `kill PID` stops the run as Ctrl-C does: with a summary
    command = " ".join([Path(sys.argv[0]).name if argv is None else "fuzz_decode.py",
                        *(sys.argv[1:] if argv is None else argv)])
    try:
        corpus = build_corpus(generated=args.generated, seed=args.seed, regressions=not args.no_regressions)
        if not args.quiet:
            print(f"{len(corpus)} seeds; {args.workers} workers; out: {args.out}", file=sys.stderr,
                  flush=True)
        summary = fuzz(corpus, seed=args.seed, cases=args.cases, minutes=args.minutes, workers=args.workers,
                       case_timeout=args.case_timeout, memory_mib=args.memory_mib, out=args.out,
                       slow_seed=args.slow_seed, crc_share=args.crc_share,
                       quarantine_after=args.stall_quarantine, command=command, verbose=not args.quiet)
    except KeyboardInterrupt:  # between phases; the pools handle their own
        print("interrupted", file=sys.stderr)
        return 130
    print(json.dumps(summary, indent=2))
    return 0 if summary["clean"] else 1


if __name__ == "__main__":
    sys.exit(main())
