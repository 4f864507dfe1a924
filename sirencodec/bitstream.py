"""The `.srn` container: ``pack`` a QuantizedNetwork into bytes, ``unpack`` bytes back.

This file mirrors ``format_spec.md`` section by section; keep them in step (a change of
the bytes changes the spec, ``FORMAT_VERSION`` and the golden vectors together).
All multi-byte fields are little-endian, except the entropy-coded payload (big-endian
32-bit words, see entropy.py).

    file    = header(16) layer_record * (hidden_layers + 2) varint(payload_len) payload crc32(4)
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from . import entropy, seeded
from .config import FORMAT_VERSION, MAGIC, MAX_FILE_BYTES, MIN_BITS, MAX_BITS
from .errors import FormatError
from .network import (
    QuantizedLayer,
    QuantizedNetwork,
    QuantizedTensor,
    check_architecture,
    check_dimensions,
    check_work,
    count_weights,
    layer_shapes,
)

# The fixed header, one table for writer and reader (format_spec.md section 2).
HEADER = struct.Struct("<3sBHHBBHee")
HEADER_FIELDS = ("magic", "version", "width", "height", "channels", "hidden_layers",
                 "hidden_width", "omega0_first", "omega0_hidden")
CRC_BYTES = 4
FLAG_BIAS_F16 = 0x01
FLAG_BIAS_Q = 0x02  # format version 2: the bias is quantized and range-coded
FLAG_WEIGHT_RESIDUAL = 0x04  # version 3: the (first layer's) integers code the residual from seeded weights
FLAG_BIAS_RESIDUAL = 0x08  # version 3: the quantized bias codes the residual from seeded biases
MODEL_SHIFT, MODEL_MASK = 4, 0x30
KNOWN_FLAGS = {
    1: FLAG_BIAS_F16 | MODEL_MASK,
    2: FLAG_BIAS_F16 | FLAG_BIAS_Q | MODEL_MASK,
    3: FLAG_BIAS_F16 | FLAG_BIAS_Q | FLAG_WEIGHT_RESIDUAL | FLAG_BIAS_RESIDUAL | MODEL_MASK,
}
# Version 1 = version 2 without quantized biases = version 3 without seeded residuals.
READ_VERSIONS = (1, 2, FORMAT_VERSION)
BIAS_Q = struct.Struct("<BfH")  # bits, scale, zero point of a quantized bias


@dataclass
class SectionBytes:
    """Bytes of each kind in a file; sums to the file size exactly (see ``inspect``)."""

    header: int = 0  # fixed header, per-layer bits/flags bytes, payload length field
    quant_params: int = 0  # scales and zero-points
    entropy_models: int = 0  # alphabet ranges and model parameters
    masks: float = 0.0  # pruned counts + the masks' share of the payload
    weights: float = 0.0  # the integer weights' share of the payload
    biases: float = 0.0  # stored floats, or quantized biases' share of the payload
    crc: int = 0


@dataclass
class LayerInfo:
    shape: tuple[int, int]
    bits: int
    scale: float
    zero_point: int
    pruned: int
    model: entropy.WeightModel
    bias_dtype: str
    bytes: dict = field(default_factory=dict)
    bias_code: tuple[int, float, int] | None = None  # quantized bias: (bits, scale, zero point)
    weight_residual: bool = False  # version 3: the integers code the residual from seeded weights
    bias_residual: bool = False  # version 3: the bias integers code the residual from seeded biases


@dataclass
class Parsed:
    network: QuantizedNetwork
    layers: list[LayerInfo]
    file_bytes: int
    payload_bytes: int
    length_field_bytes: int  # size of the varint payload length


# --- writing --------------------------------------------------------------------------


def pack(net: QuantizedNetwork) -> bytes:
    """Serialise ``net`` (validated first) into a complete `.srn` file."""
    net.validate()
    out = bytearray(HEADER.pack(MAGIC, FORMAT_VERSION, net.width, net.height, net.channels,
                                net.hidden_layers, net.hidden_width, net.omega0_first, net.omega0_hidden))
    symbols = []
    for layer in net.layers:
        t = layer.weight
        mask = np.asarray(t.mask, dtype=bool)
        values = np.asarray(t.q, dtype=np.int64)[mask]
        model = entropy.choose_model(values)
        symbols.append(entropy.LayerSymbols(mask, values, model))
        flags = {"float16": FLAG_BIAS_F16, "quantized": FLAG_BIAS_Q}.get(layer.bias_dtype, 0)
        if t.offset is not None:
            flags |= FLAG_WEIGHT_RESIDUAL
        if layer.bias_dtype == "quantized" and layer.bias_code.offset is not None:
            flags |= FLAG_BIAS_RESIDUAL
        out += struct.pack("<BBfH", t.bits, flags | (model.kind << MODEL_SHIFT), t.scale, t.zero_point)
        pruned = mask.size - int(mask.sum())
        out += _varint(pruned)
        if pruned < mask.size:
            out += struct.pack("<HH", model.lo, model.hi)
            if model.parametric:
                out += struct.pack("<Hf", model.center, model.param)
        if layer.bias_dtype == "quantized":
            code = layer.bias_code
            out += BIAS_Q.pack(code.bits, code.scale, code.zero_point)
            # The bias integers follow the layer's weights in the stream, uniform over 0..2^bits-1.
            symbols.append(entropy.LayerSymbols(code.mask, np.asarray(code.q, np.int64).reshape(-1),
                                                bias_model(code.bits)))
        else:
            out += np.asarray(layer.bias, dtype="<f2" if layer.bias_dtype == "float16" else "<f4").tobytes()
    payload = entropy.encode_stream(symbols)
    out += _varint(len(payload)) + payload
    out += struct.pack("<I", zlib.crc32(out))
    return bytes(out)


def bias_model(bits: int) -> entropy.WeightModel:
    """The fixed model of quantized bias integers: uniform over 0..2**bits - 1."""
    return entropy.WeightModel(entropy.UNIFORM, 0, (1 << bits) - 1)


def _varint(n: int) -> bytes:
    """Unsigned LEB128."""
    b = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        b.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(b)


# --- reading --------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes, end: int):
        self.data, self.pos, self.end = data, 0, end

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > self.end:
            raise FormatError(f"file truncated in {what} (needs {n} bytes at offset {self.pos})")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt: str, what: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))

    def varint(self, what: str) -> int:
        n = shift = 0
        for _ in range(5):
            (byte,) = self.take(1, what)
            n |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return n
        raise FormatError(f"{what}: varint longer than 5 bytes")


def check_envelope(data: bytes) -> None:
    """Magic, version, size cap and CRC: the checks made before anything is parsed."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise FormatError("expected bytes")
    if len(data) > MAX_FILE_BYTES:
        raise FormatError(f"file of {len(data)} bytes exceeds the {MAX_FILE_BYTES}-byte limit")
    if len(data) < 4 or bytes(data[:3]) != MAGIC:
        raise FormatError("not a .srn file (bad magic bytes)")
    if data[3] not in READ_VERSIONS:
        raise FormatError(f"unsupported .srn format version {data[3]} (this decoder reads versions "
                          f"{', '.join(map(str, READ_VERSIONS))})")
    if len(data) < HEADER.size + CRC_BYTES:
        raise FormatError(f"file truncated: {len(data)} bytes is shorter than the header and CRC")
    (stored,) = struct.unpack("<I", bytes(data[-CRC_BYTES:]))
    if zlib.crc32(bytes(data[:-CRC_BYTES])) != stored:
        raise FormatError("CRC-32 mismatch: the file is corrupt or truncated")


def unpack(data: bytes) -> Parsed:
    """Parse and entropy-decode a `.srn` file.  Raises FormatError on any defect."""
    check_envelope(data)
    data = bytes(data)
    r = _Reader(data, len(data) - CRC_BYTES)
    h = dict(zip(HEADER_FIELDS, r.unpack(HEADER.format, "header")))
    check_dimensions(h["width"], h["height"], h["channels"])
    check_architecture(h["hidden_width"], h["hidden_layers"], h["channels"])
    check_work(h["width"], h["height"], count_weights(h["hidden_width"], h["hidden_layers"], h["channels"]))
    for key in ("omega0_first", "omega0_hidden"):
        if not (np.isfinite(h[key]) and h[key] > 0):
            raise FormatError(f"{key} must be positive and finite, got {h[key]}")
    shapes = layer_shapes(h["hidden_width"], h["hidden_layers"], h["channels"])
    infos, biases = [], []
    for i, shape in enumerate(shapes):
        infos.append(_read_layer(r, i, shape, biases, h["version"]))
    start = r.pos
    payload_len = r.varint("payload length")
    length_field_bytes = r.pos - start
    if r.pos + payload_len != r.end:
        raise FormatError(f"payload length {payload_len} disagrees with the file size "
                          f"({r.end - r.pos} bytes remain before the CRC)")
    payload = r.take(payload_len, "payload")
    # Stream order: each layer's mask and weights, then its quantized bias (if any).
    tensors = []
    for li in infos:
        tensors.append((li.shape, li.pruned, li.model))
        if li.bias_code is not None:
            tensors.append(((1, li.shape[0]), 0, bias_model(li.bias_code[0])))
    decoded = iter(entropy.decode_stream(payload, *map(list, zip(*tensors))))
    layers = []
    for i, (li, bias) in enumerate(zip(infos, biases)):
        mask, values = next(decoded)
        q = np.full(li.shape, li.zero_point, dtype=np.int32)
        q[mask] = values
        code = None
        if li.bias_code is not None:
            bias_mask, bias_values = next(decoded)
            offset = seeded.biases(i, *li.shape).reshape(1, -1) if li.bias_residual else None
            code = QuantizedTensor(np.asarray(bias_values, np.int32).reshape(1, -1), bias_mask.reshape(1, -1),
                                   *li.bias_code, offset=offset)
            bias = code.dequantize()[0]
        offset = seeded.first_weights(li.shape) if li.weight_residual else None
        layers.append(QuantizedLayer(QuantizedTensor(q, mask, li.bits, li.scale, li.zero_point, offset), bias,
                                     li.bias_dtype, code))
    net = QuantizedNetwork(h["width"], h["height"], h["channels"], h["hidden_width"], h["hidden_layers"],
                           float(h["omega0_first"]), float(h["omega0_hidden"]), layers)
    return Parsed(net, infos, len(data), payload_len, length_field_bytes)


def _read_layer(r: _Reader, i: int, shape: tuple[int, int], biases: list, version: int) -> LayerInfo:
    what = f"layer {i}"
    bits, flags, scale, zero_point = r.unpack("<BBfH", what)
    nbytes = {"header": 2, "quant_params": 6, "entropy_model": 0, "masks": 0.0, "weights": 0.0, "biases": 0}
    if not MIN_BITS <= bits <= MAX_BITS:
        raise FormatError(f"{what}: bit width {bits} outside {MIN_BITS}..{MAX_BITS}")
    known = KNOWN_FLAGS[version]
    if flags & ~known:
        raise FormatError(f"{what}: unknown flag bits 0x{flags & ~known:02x} for format version {version}")
    if flags & FLAG_BIAS_F16 and flags & FLAG_BIAS_Q:
        raise FormatError(f"{what}: bias flagged both float16 and quantized")
    if flags & FLAG_BIAS_RESIDUAL and not flags & FLAG_BIAS_Q:
        raise FormatError(f"{what}: a seeded-residual bias must be quantized")
    if flags & FLAG_WEIGHT_RESIDUAL and i != 0:
        raise FormatError(f"{what}: only the first layer's weights can be seeded residuals")
    kind = (flags & MODEL_MASK) >> MODEL_SHIFT
    if kind not in entropy.MODEL_NAMES:
        raise FormatError(f"{what}: unknown weight model {kind}")
    if not (np.isfinite(scale) and scale > 0):
        raise FormatError(f"{what}: scale must be positive and finite, got {scale}")
    if zero_point >= 1 << bits:
        raise FormatError(f"{what}: zero-point {zero_point} outside 0..{(1 << bits) - 1}")
    start = r.pos
    pruned = r.varint(f"{what} pruned count")
    total = shape[0] * shape[1]
    if pruned > total:
        raise FormatError(f"{what}: pruned count {pruned} exceeds its {total} weights")
    if pruned and flags & FLAG_WEIGHT_RESIDUAL:
        raise FormatError(f"{what}: seeded-residual weights cannot be pruned")
    nbytes["masks"] += r.pos - start
    model = entropy.WeightModel(entropy.UNIFORM, 0, 0)
    if pruned < total:
        start = r.pos
        lo, hi = r.unpack("<HH", what)
        center, param = 0, 0.5
        if kind != entropy.UNIFORM and hi > lo:
            center, param = r.unpack("<Hf", what)
        model = entropy.WeightModel(kind, lo, hi, center, param)
        model.validate(bits)
        nbytes["entropy_model"] = r.pos - start
    if flags & FLAG_BIAS_Q:
        b_bits, b_scale, b_zero = r.unpack(BIAS_Q.format, f"{what} bias quantization")
        nbytes["quant_params"] += BIAS_Q.size
        if not MIN_BITS <= b_bits <= MAX_BITS:
            raise FormatError(f"{what}: bias bit width {b_bits} outside {MIN_BITS}..{MAX_BITS}")
        if not (np.isfinite(b_scale) and b_scale > 0):
            raise FormatError(f"{what}: bias scale must be positive and finite, got {b_scale}")
        if b_zero >= 1 << b_bits:
            raise FormatError(f"{what}: bias zero-point {b_zero} outside 0..{(1 << b_bits) - 1}")
        biases.append(None)  # filled from the payload
        return LayerInfo(shape, bits, float(scale), zero_point, pruned, model, "quantized", nbytes,
                         (b_bits, float(b_scale), b_zero), bool(flags & FLAG_WEIGHT_RESIDUAL),
                         bool(flags & FLAG_BIAS_RESIDUAL))
    bias_dtype = "float16" if flags & FLAG_BIAS_F16 else "float32"
    raw = r.take(shape[0] * (2 if bias_dtype == "float16" else 4), f"{what} biases")
    nbytes["biases"] = len(raw)
    bias = np.frombuffer(raw, dtype="<f2" if bias_dtype == "float16" else "<f4").astype(np.float32)
    if not np.all(np.isfinite(bias)):
        raise FormatError(f"{what}: non-finite bias")
    biases.append(bias)
    return LayerInfo(shape, bits, float(scale), zero_point, pruned, model, bias_dtype, nbytes,
                     weight_residual=bool(flags & FLAG_WEIGHT_RESIDUAL))


def byte_breakdown(parsed: Parsed) -> tuple[SectionBytes, list[dict]]:
    """Bytes of each kind, for the file and per layer; sums to the file size exactly.

    The payload is one stream: its bytes are split between the masks and weights of each
    layer in proportion to their ideal information content (an attribution; the total is
    exact)."""
    parts = []
    for li, layer in zip(parsed.layers, parsed.network.layers):
        mask_bits, weight_bits = entropy.ideal_bits(layer.weight.mask, layer.weight.q[layer.weight.mask], li.model)
        bias_bits = layer.bias_code.q.size * layer.bias_code.bits if layer.bias_code is not None else 0
        parts.append((mask_bits, weight_bits, bias_bits))
    ideal = sum(map(sum, parts))
    sections = SectionBytes(header=HEADER.size + parsed.length_field_bytes, crc=CRC_BYTES)
    per_layer = []
    for li, (mb, wb, bb) in zip(parsed.layers, parts):
        b = dict(li.bytes)
        b["masks"] += parsed.payload_bytes * mb / ideal if ideal else 0.0
        b["weights"] += parsed.payload_bytes * wb / ideal if ideal else 0.0
        b["biases"] += parsed.payload_bytes * bb / ideal if ideal else 0.0
        per_layer.append(b)
        sections.header += b["header"]
        sections.quant_params += b["quant_params"]
        sections.entropy_models += b["entropy_model"]
        sections.masks += b["masks"]
        sections.weights += b["weights"]
        sections.biases += b["biases"]
    return sections, per_layer
