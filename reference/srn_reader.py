"""An independent reader of `.srn` files, written from `format_spec.md` alone.

This module re-implements the file format (versions 1-7) from the text of the spec only: it
imports nothing from `sirencodec` and uses nothing but the standard library (struct, zlib,
math, bisect).  The tests (`tests/format/test_reference_reader.py`) decode the same files with
it and with the main decoder and compare every integer, which checks the spec and the main
decoder against each other.  It is slow (pure Python, one symbol at a time): use it on small
files only.

Usage::

    from reference.srn_reader import read
    info = read(open("image.srn", "rb").read())   # a dict of plain Python values
    info["layers"][0]["q"]                         # the kept weight integers, row-major
    info["grids"]                                  # versions 4-7: the latent grids (lists of rows)
    info["upsampling"]                             # versions 6, 7: the learned filters' record and taps

    render(info)                                   # optional: the pixels (rows of [C] ints)

`encode_symbols(symbols, tables)` is the spec's range-coder writer (section 6, "Writing a
stream"); `decode_symbols(payload, tables)` its reader; `categorical_cdf(masses)` the
fixed-point model.  Every invalid input raises `SrnFormatError` (a `ValueError`).
"""

from __future__ import annotations

import bisect
import math
import struct
import zlib

__all__ = ["SrnFormatError", "read", "render", "encode_symbols", "decode_symbols", "categorical_cdf",
           "RangeDecoder", "THETA"]

MAX_FILE = 64 << 20
MASK64 = (1 << 64) - 1
PRECISION = 24


class SrnFormatError(ValueError):
    """The input is not a valid `.srn` file."""


# ---------------------------------------------------------------------------------------------
# Byte reading


class _Bytes:
    def __init__(self, data: bytes, end: int):
        self.data, self.pos, self.end = data, 0, end

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise SrnFormatError("truncated file: a section does not fit before the CRC")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack("<H", self.take(2))[0]

    def f16(self) -> float:
        return struct.unpack("<e", self.take(2))[0]

    def f32(self) -> float:
        return struct.unpack("<f", self.take(4))[0]

    def varint(self) -> int:
        value = 0
        for i in range(5):
            b = self.u8()
            value |= (b & 0x7F) << (7 * i)
            if not b & 0x80:
                return value
        raise SrnFormatError("varint longer than 5 bytes")


def _f32(x: float) -> float:
    """Round a Python float (f64) to the nearest f32 value."""
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


# ---------------------------------------------------------------------------------------------
# Section 6: the fixed-point model and the range coder


def categorical_cdf(masses) -> list[int]:
    """The 24-bit cumulative table cdf_0 .. cdf_K of f64 masses p_0 .. p_{K-1} (K >= 2)."""
    k = len(masses)
    if k < 2:
        raise SrnFormatError("a model needs at least two symbols")
    c = [0.0] * k
    total = 0.0
    for i, p in enumerate(masses):
        c[i] = total
        total += p
    if not (total > 0.0 and math.isfinite(total)):
        raise SrnFormatError("model masses do not sum to a positive finite number")
    scale = float((1 << PRECISION) - k) / total
    cdf = [int(math.floor(c[i] * scale)) + i for i in range(k)]
    cdf.append(1 << PRECISION)
    return cdf


class RangeDecoder:
    """Section 6's decoder: `start(payload)` and `decode(cdf)`, 64-bit wrapping arithmetic."""

    def __init__(self, payload: bytes):
        padded = bytes(payload) + b"\0" * (-len(payload) % 4)
        self.words = list(struct.unpack(f">{len(padded) // 4}I", padded))
        self.next = 0
        hi = self._next_word()
        self.point = (hi << 32) | self._next_word()
        self.lower = 0
        self.range = MASK64
        self.words_read_past_end = 0

    def _next_word(self) -> int:
        if self.next < len(self.words):
            w = self.words[self.next]
            self.next += 1
            return w
        self.next += 1
        return 0

    def decode(self, cdf: list[int]) -> int:
        scale = self.range >> PRECISION
        quantile = ((self.point - self.lower) & MASK64) // scale
        if quantile >= 1 << PRECISION:
            raise SrnFormatError("invalid entropy-coded data (quantile out of range)")
        i = bisect.bisect_right(cdf, quantile) - 1
        self.lower = (self.lower + scale * cdf[i]) & MASK64
        self.range = (scale * (cdf[i + 1] - cdf[i])) & MASK64
        if self.range < 1 << 32:
            self.lower = (self.lower << 32) & MASK64
            self.range = (self.range << 32) & MASK64
            self.point = ((self.point << 32) & MASK64) | self._next_word()
        return i


def decode_symbols(payload: bytes, tables) -> list[int]:
    """Decode len(tables) symbols, symbol j with the cdf table tables[j]."""
    dec = RangeDecoder(payload)
    return [dec.decode(cdf) for cdf in tables]


def encode_symbols(symbols, tables, stats: dict | None = None) -> bytes:
    """Section 6 "Writing a stream": the reference writer's procedure, without dropping bytes.

    symbols[j] is coded with the cdf table tables[j]; returns the big-endian words.  If
    ``stats`` is a dict, it receives counts of the situations worth testing: "carries" (an
    addition to ``lower`` that ran into already emitted words) and "straddles" (the interval
    [lower, lower + range) crossed a multiple of 2^64 of the state, constriction's
    "inverted" situation)."""
    symbols = list(symbols)
    tables = list(tables)
    if len(symbols) != len(tables):
        raise ValueError("one table per symbol")
    lower, rng, out = 0, MASK64, 0          # lower: exact, unbounded
    carries = straddles = 0
    for i, cdf in zip(symbols, tables):
        scale = rng >> PRECISION
        new = lower + scale * cdf[i]
        carries += (new >> 64) != (lower >> 64)
        lower = new
        straddles += (lower & MASK64) + scale * (cdf[i + 1] - cdf[i]) > MASK64
        rng = scale * (cdf[i + 1] - cdf[i])
        if rng < 1 << 32:
            rng <<= 32
            lower <<= 32
            out += 1
    if stats is not None:
        stats["carries"] = stats.get("carries", 0) + carries
        stats["straddles"] = stats.get("straddles", 0) + straddles
    if not symbols:
        return b""
    point = lower + (1 << 32) - 1
    top = point >> 32
    assert top < 1 << (32 * (out + 1))
    words = [(top >> (32 * (out - j))) & 0xFFFFFFFF for j in range(out + 1)]
    if (((lower + rng) >> 32) & 0xFFFFFFFF) == (top & 0xFFFFFFFF):
        words.append(0)
    return struct.pack(f">{len(words)}I", *words)


# ---------------------------------------------------------------------------------------------
# Section 6: weight models


def weight_masses(model: int, lo: int, hi: int, center: int, param: float) -> list[float]:
    """Unnormalised f64 masses over lo .. hi (section 6, "Weight models")."""
    k = hi - lo + 1
    if model == 0:
        return [1.0] * k
    a = float(param)
    dmax = max(abs(lo - center), abs(hi - center))
    if model == 1:
        t = [1.0]
        for _ in range(dmax):
            t.append(t[-1] * a)
    elif model == 2:
        aa = a * a
        q = 1.0
        o = [a]                           # O_0 = a * Q_0, Q_0 = 1
        for _ in range(dmax):
            q = q * aa
            o.append(a * q)
        t = [1.0]                         # G_j = G_{j-1} * O_{j-1}
        for j in range(1, dmax + 1):
            t.append(t[j - 1] * o[j - 1])
    else:
        raise SrnFormatError("invalid weight model")
    return [t[abs(lo + s - center)] for s in range(k)]


_CDF_CACHE: dict = {}


def _cached_cdf(key, make):
    cdf = _CDF_CACHE.get(key)
    if cdf is None:
        if len(_CDF_CACHE) > 4096:
            _CDF_CACHE.clear()
        cdf = _CDF_CACHE[key] = categorical_cdf(make())
    return cdf


def _weight_cdf(model, lo, hi, center, param):
    key = ("w", model, lo, hi, center, param)
    return _cached_cdf(key, lambda: weight_masses(model, lo, hi, center, param))


def _uniform_cdf(k):
    return _cached_cdf(("u", k), lambda: [1.0] * k)


# ---------------------------------------------------------------------------------------------
# Section 5: seeded values


def _splitmix(s: int, k: int) -> int:
    x = (s + (k + 1) * 0x9E3779B97F4A7C15) & MASK64
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK64
    x ^= x >> 31
    return x


def seeded_values(stream: int, count: int, bound: float) -> list[float]:
    b = _f32(bound)
    out = []
    for k in range(count):
        u = _splitmix(stream, k) >> 41
        v = (2 * u + 1 - (1 << 23)) / float(1 << 23)
        out.append(_f32(v * b))
    return out


# ---------------------------------------------------------------------------------------------
# Versions 1-3: SIREN files


def _check_size_magic_version_crc(data: bytes) -> int:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SrnFormatError("expected bytes")
    data = bytes(data)
    if len(data) > MAX_FILE:
        raise SrnFormatError("file larger than 64 MiB")
    if len(data) < 4 or data[:3] != b"SRN":
        raise SrnFormatError("bad magic")
    version = data[3]
    if version not in (1, 2, 3, 4, 5, 6, 7):
        raise SrnFormatError(f"unsupported version {version}")
    if len(data) < 8:
        raise SrnFormatError("truncated file")
    (crc,) = struct.unpack("<I", data[-4:])
    if zlib.crc32(data[:-4]) & 0xFFFFFFFF != crc:
        raise SrnFormatError("CRC mismatch")
    return version


def read(data: bytes) -> dict:
    """Parse and entropy-decode a whole `.srn` file; return a dict of plain Python values."""
    version = _check_size_magic_version_crc(data)
    data = bytes(data)
    if version in (4, 5, 6, 7):
        return _read_latent(data, version)
    return _read_siren(data, version)


def _finite_positive(x: float, what: str) -> float:
    if not (math.isfinite(x) and x > 0):
        raise SrnFormatError(f"{what} must be finite and > 0")
    return x


def _read_siren(data: bytes, version: int) -> dict:
    r = _Bytes(data, len(data) - 4)
    r.take(4)
    width, height, channels, n_hidden, hidden = r.u16(), r.u16(), r.u8(), r.u8(), r.u16()
    w0_first, w0_hidden = r.f16(), r.f16()
    if not (1 <= width and 1 <= height):
        raise SrnFormatError("bad size")
    if width * height > 1 << 26:
        raise SrnFormatError("too many pixels")
    if channels not in (1, 3):
        raise SrnFormatError("bad channel count")
    if not (n_hidden <= 64 and 1 <= hidden <= 1024):
        raise SrnFormatError("bad network shape")
    _finite_positive(w0_first, "omega0_first")
    _finite_positive(w0_hidden, "omega0_hidden")
    shapes = [(hidden, 2)] + [(hidden, hidden)] * n_hidden + [(channels, hidden)]
    total = sum(o * i for o, i in shapes)
    if total > 1 << 22:
        raise SrnFormatError("too many weights")
    if width * height * total > 1 << 40:
        raise SrnFormatError("too much decoding work")

    layers = []
    for idx, (o, n_in) in enumerate(shapes):
        size = o * n_in
        record_offset = r.pos
        bits, flags = r.u8(), r.u8()
        if not 2 <= bits <= 16:
            raise SrnFormatError("bad bits")
        model = (flags >> 4) & 3
        if flags & 0xC0 or model == 3:
            raise SrnFormatError("bad flags")
        if flags & 1 and flags & 2:
            raise SrnFormatError("bias both f16 and quantized")
        if version == 1 and flags & 0x0E or version == 2 and flags & 0x0C:
            raise SrnFormatError("flag not defined in this version")
        if flags & 4 and idx != 0:
            raise SrnFormatError("seeded weights outside layer 0")
        if flags & 8 and not flags & 2:
            raise SrnFormatError("seeded biases need quantized biases")
        scale = _finite_positive(r.f32(), "scale")
        zp = r.u16()
        if zp >= 1 << bits:
            raise SrnFormatError("zero point out of range")
        pruned = r.varint()
        if pruned > size:
            raise SrnFormatError("pruned count too large")
        if flags & 4 and pruned != 0:
            raise SrnFormatError("seeded weights must not be pruned")
        lo = hi = center = None
        param = None
        if pruned < size:
            lo, hi = r.u16(), r.u16()
            if not lo <= hi < 1 << bits:
                raise SrnFormatError("bad lo/hi")
            if model != 0 and hi > lo:
                center, param = r.u16(), r.f32()
                if not lo <= center <= hi:
                    raise SrnFormatError("center out of range")
                if not (0.0 < param < 1.0):
                    raise SrnFormatError("param out of range")
        layer = dict(record_offset=record_offset, shape=(o, n_in), bits=bits, flags=flags, model=model,
                     scale=scale, zero_point=zp, pruned=pruned, lo=lo, hi=hi, center=center, param=param,
                     seeded_weights=bool(flags & 4), seeded_bias=bool(flags & 8))
        if flags & 2:
            nb = r.u8()
            if not 2 <= nb <= 16:
                raise SrnFormatError("bad bias bits")
            sb = _finite_positive(r.f32(), "bias scale")
            zb = r.u16()
            if zb >= 1 << nb:
                raise SrnFormatError("bias zero point out of range")
            layer.update(bias_dtype="quantized", bias_bits=nb, bias_scale=sb, bias_zero_point=zb)
        else:
            fmt, n = ("<e", 2) if flags & 1 else ("<f", 4)
            bias = [struct.unpack(fmt, r.take(n))[0] for _ in range(o)]
            if not all(math.isfinite(b) for b in bias):
                raise SrnFormatError("non-finite bias")
            layer.update(bias_dtype="float16" if flags & 1 else "float32", bias=bias)
        layers.append(layer)
    payload_len_offset = r.pos
    payload_len = r.varint()
    payload = r.take(payload_len)
    if r.pos != r.end:
        raise SrnFormatError("payload does not end at the CRC")

    dec = RangeDecoder(payload)
    for layer in layers:
        o, n_in = layer["shape"]
        size, pruned = o * n_in, layer["pruned"]
        if 0 < pruned < size:
            cdf = categorical_cdf([pruned / size, (size - pruned) / size])
            mask = [dec.decode(cdf) for _ in range(size)]
            if sum(mask) != size - pruned:
                raise SrnFormatError("mask does not match the pruned count")
        else:
            mask = [1 if pruned == 0 else 0] * size
        layer["mask"] = mask
        kept = size - pruned
        if kept and layer["hi"] > layer["lo"]:
            lo, hi = layer["lo"], layer["hi"]
            cdf = _weight_cdf(layer["model"], lo, hi, layer["center"], layer["param"])
            layer["q"] = [dec.decode(cdf) + lo for _ in range(kept)]
        else:
            layer["q"] = [layer["lo"]] * kept
        if layer["bias_dtype"] == "quantized":
            cdf = _uniform_cdf(1 << layer["bias_bits"])
            layer["bias_q"] = [dec.decode(cdf) for _ in range(o)]
    _dequantize_siren(layers, hidden)
    return dict(version=version, kind="siren", width=width, height=height, channels=channels,
                hidden_layers=n_hidden, hidden_width=hidden, omega0_first=w0_first, omega0_hidden=w0_hidden,
                layers=layers, payload_len=payload_len, payload_len_offset=payload_len_offset)


def _dequantize_siren(layers, hidden):
    """Section 4: each layer's float weights (row-major, pruned = 0) and biases, exact f32."""
    for idx, layer in enumerate(layers):
        o, n_in = layer["shape"]
        s, z = layer["scale"], layer["zero_point"]
        seeds = seeded_values(0, o * n_in, 1.0 / n_in) if layer["seeded_weights"] else None
        weights, it = [], iter(layer["q"])
        for k, m in enumerate(layer["mask"]):
            if not m:
                weights.append(0.0)
                continue
            w = _f32(float(next(it) - z) * s)
            weights.append(_f32(seeds[k] + w) if seeds else w)
        layer["weights"] = weights
        if layer["bias_dtype"] == "quantized":
            sb, zb = layer["bias_scale"], layer["bias_zero_point"]
            fan_in = 2 if idx == 0 else hidden
            bseeds = seeded_values(2 * idx + 1, o, 1.0 / math.sqrt(fan_in)) if layer["seeded_bias"] else None
            bias = [_f32(float(qb - zb) * sb) for qb in layer["bias_q"]]
            if bseeds:
                bias = [_f32(a + b) for a, b in zip(bseeds, bias)]
            layer["bias"] = bias


# ---------------------------------------------------------------------------------------------
# Version 4: latent grids (section 10)

OFFSETS = [(0, -1), (-1, 0), (-1, -1), (-1, 1), (0, -2), (-2, 0), (-1, -2), (-1, 2),
           (-2, -1), (-2, 1), (-2, -2), (-2, 2), (0, -3), (-3, 0), (-1, -3), (-1, 3)]

_THETA_HEX = """
1A8057CE 1ECFBD7A 22A59F2E 260D5C94 290B0340 2BA80C07 2E043606 300E66C5
31DB8A4D 337BF22E 34DED290 361C96FA 3733AC48 382C5C9F 390D2E42 39C92D6B
3A7D7A22 3B0F40C4 3B931F1B 3C0AD739 3C733464 3CC76E0B 3D1A4C8C 3D62D2B4
3D9F569A 3DD71890 3E0C2728 3E310C1E 3E5998A7 3E8283CA 3E9940EF 3EB09705
3EC81E6F 3EDF795E 3EF656CF 3F0639FE 3F10CE53 3F1AD533 3F2441B4 3F2D0C6A
3F353285 3F3CB4F3 3F439790 3F49E069 3F4F9719 3F54C443 3F597124 3F5DA735
3F616FEE 3F64D48D 3F67DDF5 3F6A9496 3F6D0057 3F6F2895 3F71141B 3F72C927
3F744D6A 3F75A612 3F76D7CE 3F77E6D9 3F78D702 3F79ABB4 3F7A67FF 3F7B0EA0
3F7BA209 3F7C2468 3F7C97AD 3F7CFD92 3F7D57A0 3F7DA735 3F7DED84 3F7E2BA0
"""
THETA = [struct.unpack(">f", bytes.fromhex(h))[0] for h in _THETA_HEX.split()]
assert len(THETA) == 72

_POWERS: dict = {}


def _powers(row: int, n: int) -> list[float]:
    """P_0 .. P_n for THETA[row]: rho = five square roots of theta, P_j = P_{j-1} * rho."""
    p = _POWERS.get(row)
    if p is None:
        rho = float(THETA[row])
        for _ in range(5):
            rho = math.sqrt(rho)
        p = _POWERS[row] = [1.0, rho]
    while len(p) <= n:
        p.append(p[-1] * p[1])
    return p


def latent_masses(row: int, frac: int, reach: int) -> list[float]:
    """The f64 masses of symbols 0 .. 2R (d = -R .. R) for a (row, frac) pair."""
    p = _powers(row, 32 * reach + 64)
    out = []
    for d in range(-reach, reach + 1):
        h = 32 * d + 15 - 2 * frac
        lo = h - 32
        if lo >= 0:
            v = 0.5 * (p[lo] - p[h])
        elif h <= 0:
            v = 0.5 * (p[-h] - p[-lo])
        else:
            v = (1.0 - 0.5 * p[-lo]) - 0.5 * p[h]
        out.append(max(v, 2.0 ** -30))
    return out


def _alpha(k: int) -> int:
    """Smallest positive alpha with alpha*dy + dx < 0 for every offset with dy < 0."""
    alpha = 1
    while not all(alpha * dy + dx < 0 for dy, dx in OFFSETS[:k] if dy < 0):
        alpha += 1
    return alpha


def grid_shapes(height: int, width: int, levels: list[int]) -> list[tuple[int, int]]:
    return [(-(-height // (1 << lv)), -(-width // (1 << lv))) for lv in levels]


def _max_levels(width: int, height: int) -> int:
    n, count = max(width, height), 1
    while n > 1:
        n = -(-n // 2)
        count += 1
    return count


def _model_param(r, model: int):
    """A compact record's f16 model parameter in (0, 1), present unless the model is uniform."""
    if not model:
        return None
    param = r.f16()
    if not 0.0 < param < 1.0:
        raise SrnFormatError("param out of range")
    return param


def _read_latent(data: bytes, version: int) -> dict:
    r = _Bytes(data, len(data) - 4)
    r.take(4)
    width, height, channels, kind = r.u16(), r.u16(), r.u8(), r.u8()
    if not (1 <= width and 1 <= height):
        raise SrnFormatError("bad size")
    if width * height > 1 << 26:
        raise SrnFormatError("too many pixels")
    if channels not in (1, 3):
        raise SrnFormatError("bad channel count")
    if kind != 1:
        raise SrnFormatError("unknown network kind")
    levels = r.u8()
    if version in (5, 6, 7):
        if not 1 <= levels <= 32:
            raise SrnFormatError("bad number of grids")
        grid_levels = [r.u8() for _ in range(levels)]
        if not all(lv < _max_levels(width, height) for lv in grid_levels):
            raise SrnFormatError("bad grid level")
    else:
        if not 1 <= levels <= _max_levels(width, height):
            raise SrnFormatError("bad number of grids")
        grid_levels = list(range(levels))
    context = r.u8()
    if not 1 <= context <= 16:
        raise SrnFormatError("bad context")
    channel = r.u8() if version == 7 else 0
    if channel > 3:
        raise SrnFormatError("bad channel inputs")
    n_syn = r.u8()
    if not 1 <= n_syn <= 4:
        raise SrnFormatError("bad synthesis depth")
    syn_widths = [r.u8() for _ in range(n_syn - 1)]
    if not all(1 <= w <= 64 for w in syn_widths):
        raise SrnFormatError("bad synthesis width")
    conv = r.u8()
    if conv not in (0, 1):
        raise SrnFormatError("bad convolution flag")
    n_arm = r.u8()
    if not 1 <= n_arm <= 4:
        raise SrnFormatError("bad ARM depth")
    arm_widths = [r.u8() for _ in range(n_arm - 1)]
    if not all(1 <= w <= 32 for w in arm_widths):
        raise SrnFormatError("bad ARM width")

    sdims = [levels, *syn_widths, channels]
    adims = [context + channel, *arm_widths, 2]
    specs = [("synthesis", (o, i)) for i, o in zip(sdims[:-1], sdims[1:])]
    if conv:
        specs.append(("conv", (channels, 9 * channels)))
    specs += [("arm", (o, i)) for i, o in zip(adims[:-1], adims[1:])]

    layers = []
    for kind_name, shape in specs:
        record_offset = r.pos
        bits, model = r.u8(), r.u8()
        if not 2 <= bits <= 16:
            raise SrnFormatError("bad bits")
        if model not in (0, 1, 2):
            raise SrnFormatError("bad model")
        if kind_name == "arm":
            k, kb = r.u8(), r.u8()
            if k > 12 or kb > 12:
                raise SrnFormatError("ARM step exponent > 12")
            step, bias_step = 2.0 ** -k, 2.0 ** -kb
        else:
            k = kb = None
            step, bias_step = r.f16(), r.f16()
            _finite_positive(step, "step")
            _finite_positive(bias_step, "bias step")
        param = _model_param(r, model)
        layers.append(dict(record_offset=record_offset, kind=kind_name, shape=shape, bits=bits, model=model,
                           step=step, bias_step=bias_step, step_exponent=k, bias_step_exponent=kb,
                           param=param, zero_point=1 << (bits - 1)))
    upsampling = None
    if version in (6, 7):
        record_offset = r.pos
        filters, bits, model = r.u8(), r.u8(), r.u8()
        if filters < 1 or filters != max(grid_levels):
            raise SrnFormatError("the upsampling filters must be as many as the coarsest level, at least 1")
        if not 2 <= bits <= 16:
            raise SrnFormatError("bad upsampling bits")
        if model not in (0, 1, 2):
            raise SrnFormatError("bad upsampling model")
        step = r.f16()
        _finite_positive(step, "upsampling step")
        param = _model_param(r, model)
        upsampling = dict(record_offset=record_offset, filters=filters, bits=bits, model=model, step=step,
                          param=param, zero_point=1 << (bits - 1))
    reaches = [r.u8() for _ in range(levels)]
    shapes = grid_shapes(height, width, grid_levels)
    if sum(h * w * (2 * rr + 1) for (h, w), rr in zip(shapes, reaches)) > 1 << 28:
        raise SrnFormatError("too many latents x alphabet")
    syn_weights = sum(ly["shape"][0] * ly["shape"][1] for ly in layers if ly["kind"] == "synthesis")
    if width * height * (16 * levels + syn_weights + 9 * channels * channels) > 1 << 40:
        raise SrnFormatError("too much decoding work")
    weights_len_offset = r.pos
    weights_payload = r.take(r.varint())
    latents_len_offset = r.pos
    latents_payload = r.take(r.varint())
    if r.pos != r.end:
        raise SrnFormatError("latents payload does not end at the CRC")

    dec = RangeDecoder(weights_payload)
    for layer in layers:
        o, n_in = layer["shape"]
        n, z = layer["bits"], layer["zero_point"]
        cdf = _weight_cdf(layer["model"], 0, (1 << n) - 1, z, layer["param"])
        layer["q"] = [dec.decode(cdf) for _ in range(o * n_in)]
        ucdf = _uniform_cdf(1 << n)
        layer["bias_q"] = [dec.decode(ucdf) for _ in range(o)]
        layer["weights"] = [_f32(float(q - z) * layer["step"]) for q in layer["q"]]
        layer["bias"] = [_f32(float(q - z) * layer["bias_step"]) for q in layer["bias_q"]]
    if upsampling is not None:
        n, z = upsampling["bits"], upsampling["zero_point"]
        cdf = _weight_cdf(upsampling["model"], 0, (1 << n) - 1, z, upsampling["param"])
        upsampling["q"] = [dec.decode(cdf) for _ in range(4 * upsampling["filters"])]
        keys = [-9 / 256, 67 / 256, 225 / 256, -27 / 256]
        upsampling["taps"] = [[keys[t] + _f32(float(upsampling["q"][4 * s + t] - z) * upsampling["step"])
                               for t in range(4)] for s in range(upsampling["filters"])]

    arm = [layer for layer in layers if layer["kind"] == "arm"]
    grids = _decode_latents(latents_payload, shapes, reaches, context, arm, grid_levels, channel)
    return dict(version=version, kind="latent", width=width, height=height, channels=channels, levels=levels,
                grid_levels=grid_levels,
                context=context, channel=channel, synthesis_widths=syn_widths, conv=bool(conv), arm_widths=arm_widths,
                layers=layers, upsampling=upsampling, reaches=reaches, grids=grids,
                weights_len=len(weights_payload), weights_len_offset=weights_len_offset,
                latents_len=len(latents_payload), latents_len_offset=latents_len_offset)


def _decode_latents(payload, shapes, reaches, context, arm, grid_levels, channel):
    # The ARM in fixed point: weights (q - Z) * 2^(12 - k), biases (qb - Z) * 2^(12 - kb).
    net = []
    for layer in arm:
        o, n_in = layer["shape"]
        z = layer["zero_point"]
        ws = 1 << (12 - layer["step_exponent"])
        bs = 1 << (12 - layer["bias_step_exponent"])
        w = [[(layer["q"][j * n_in + i] - z) * ws for i in range(n_in)] for j in range(o)]
        b = [(qb - z) * bs for qb in layer["bias_q"]]
        net.append((w, b))
    offsets = OFFSETS[:context]
    alpha = _alpha(context)
    dec = RangeDecoder(payload)
    grids = []
    for i, ((h, w), reach) in enumerate(zip(shapes, reaches)):
        # channel inputs: the grids before i at its level, the nearest first
        same = [grids[j] for j in range(i - 1, -1, -1) if grid_levels[j] == grid_levels[i]][:channel]
        g = [[0] * w for _ in range(h)]
        for t in range(alpha * (h - 1) + w):
            for r in range(h):
                c = t - alpha * r
                if not 0 <= c < w:
                    continue
                a = []
                for dy, dx in offsets:
                    rr, cc = r + dy, c + dx
                    a.append(g[rr][cc] << 12 if 0 <= rr < h and 0 <= cc < w else 0)
                for j in range(channel):
                    a.append(same[j][r][c] << 12 if j < len(same) else 0)
                for li, (wm, bv) in enumerate(net):
                    a = [(sum(wi * ai for wi, ai in zip(row, a)) >> 12) + bj for row, bj in zip(wm, bv)]
                    if li + 1 < len(net):
                        a = [min(max(v, 0), 1 << 30) for v in a]
                m, s = a
                m = min(max(m, -(1 << 24)), 1 << 24)
                base = m >> 12
                frac = ((m - (base << 12)) * 16) >> 12
                row = min(max((min(max(s, -(1 << 40)), 1 << 40) + 4 * 4096) * 8 >> 12, 0), 71)
                if reach == 0:
                    y = base
                else:
                    key = ("l", row, frac, reach)
                    cdf = _CDF_CACHE.get(key) or _cached_cdf(key, lambda k=key: latent_masses(*k[1:]))
                    y = base + dec.decode(cdf) - reach
                if abs(y) > 4096:
                    raise SrnFormatError("latent out of range")
                g[r][c] = y
        grids.append(g)
    return grids


# ---------------------------------------------------------------------------------------------
# Optional: the pixels (sections 3 and 10), in f64


def render(info: dict) -> list[list[list[int]]]:
    """The image at the stored size: rows of pixels of C ints.  Computed in f64, so within the
    spec's +-1 of the reference decoder (slow: small images only)."""
    if info["kind"] == "siren":
        return _render_siren(info)
    return _render_latent(info)


def _render_siren(info):
    width, height = info["width"], info["height"]
    layers = info["layers"]
    mats = []
    for layer in layers:
        o, n_in = layer["shape"]
        wts = layer["weights"]
        mats.append(([wts[j * n_in:(j + 1) * n_in] for j in range(o)], layer["bias"]))
    omegas = [info["omega0_first"]] + [info["omega0_hidden"]] * info["hidden_layers"]
    image = []
    for r in range(height):
        y = _f32((2 * r + 1) / height - 1)
        row = []
        for c in range(width):
            h = [_f32((2 * c + 1) / width - 1), y]
            for (wm, bv), om in zip(mats[:-1], omegas):
                h = [math.sin(om * (sum(a * b for a, b in zip(wr, h)) + bj)) for wr, bj in zip(wm, bv)]
            wm, bv = mats[-1]
            out = [sum(a * b for a, b in zip(wr, h)) + bj for wr, bj in zip(wm, bv)]
            px = []
            for v in out:
                if math.isnan(v):
                    px.append(0)
                else:
                    t = (v + 1) * 127.5 + 0.5
                    px.append(0 if t <= 0 else 255 if t >= 256 else min(max(math.floor(t), 0), 255))
            row.append(px)
        image.append(row)
    return image


def _cubic(u: float) -> float:
    a = -0.75
    u = abs(u)
    if u <= 1:
        return ((a + 2) * u - (a + 3)) * u * u + 1
    if u < 2:
        return ((a * u - 5 * a) * u + 8 * a) * u - 4 * a
    return 0.0


def _resample_taps(n_in, n_out):
    taps = []
    for j in range(n_out):
        x = (j + 0.5) * n_in / n_out - 0.5
        f = math.floor(x)
        t = x - f
        ws = [_cubic(1 + t), _cubic(t), _cubic(1 - t), _cubic(2 - t)]
        idx = [min(max(f + d, 0), n_in - 1) for d in (-1, 0, 1, 2)]
        taps.append(list(zip(idx, ws)))
    return taps


def _upsample(grid, height, width):
    h, w = len(grid), len(grid[0])
    if (h, w) == (height, width):
        return [[float(v) for v in row] for row in grid]
    rows = []
    for taps in _resample_taps(h, height):
        acc = [0.0] * w
        for i, wt in taps:
            acc = [a + wt * v for a, v in zip(acc, grid[i])]
        rows.append(acc)
    col_taps = _resample_taps(w, width)
    out = []
    for row in rows:
        new = []
        for taps in col_taps:
            acc = 0.0
            for i, wt in taps:
                acc = acc + wt * row[i]
            new.append(acc)
        out.append(new)
    return out


def _x2(x, n_out, h):
    """One learned x2 step of a list of samples (section 10, version 6)."""
    n = len(x)
    y = []
    for j in range(n_out):
        i = j // 2
        if j % 2 == 0:
            y.append(sum(h[t] * x[min(max(i - 2 + t, 0), n - 1)] for t in range(4)))
        else:
            y.append(sum(h[3 - t] * x[min(max(i - 1 + t, 0), n - 1)] for t in range(4)))
    return y


def _upsample_learned(grid, level, height, width, filters):
    """Step by step from the grid's level down to level 0, rows then columns at each step
    (the steps are linear and separable: the order changes only the rounding)."""
    g = [[float(v) for v in row] for row in grid]
    for s in range(level, 0, -1):
        h = filters[s - 1]
        if len(g) != height:
            n_out = -(-height // (1 << (s - 1)))
            cols = [_x2([row[c] for row in g], n_out, h) for c in range(len(g[0]))]
            g = [[col[r] for col in cols] for r in range(n_out)]
        if len(g[0]) != width:
            g = [_x2(row, -(-width // (1 << (s - 1))), h) for row in g]
    return g


def _render_latent(info):
    width, height, channels = info["width"], info["height"], info["channels"]
    up = info.get("upsampling")
    if up is None:
        ups = [_upsample(g, height, width) for g in info["grids"]]
    else:
        ups = [_upsample_learned(g, lv, height, width, up["taps"]) for g, lv in zip(info["grids"], info["grid_levels"])]
    synth = [layer for layer in info["layers"] if layer["kind"] == "synthesis"]
    conv = [layer for layer in info["layers"] if layer["kind"] == "conv"]
    out = [[None] * width for _ in range(height)]
    for r in range(height):
        for c in range(width):
            a = [u[r][c] for u in ups]
            for li, layer in enumerate(synth):
                o, n_in = layer["shape"]
                wts, b = layer["weights"], layer["bias"]
                a = [sum(wts[j * n_in + i] * a[i] for i in range(n_in)) + b[j] for j in range(o)]
                if li + 1 < len(synth):
                    a = [max(v, 0.0) for v in a]
            out[r][c] = a
    if conv:
        wts, b = conv[0]["weights"], conv[0]["bias"]
        res = [[None] * width for _ in range(height)]
        for r in range(height):
            for c in range(width):
                vals = []
                for k in range(channels):
                    acc = b[k]
                    for j in range(channels):
                        for dy in range(3):
                            for dx in range(3):
                                rr, cc = r + dy - 1, c + dx - 1
                                if 0 <= rr < height and 0 <= cc < width:
                                    acc += wts[k * 9 * channels + 9 * j + 3 * dy + dx] * out[rr][cc][j]
                    vals.append(acc)
                res[r][c] = vals
        out = [[[o + v for o, v in zip(out[r][c], res[r][c])] for c in range(width)] for r in range(height)]
    return [[[min(max(round(255 * v), 0), 255) for v in px] for px in row] for row in out]
