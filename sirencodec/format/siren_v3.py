"""SIREN files (format versions 1-3): the network they describe, its writer and its reader.

This module mirrors ``format_spec.md`` sections 2 and 4-6; keep them in step (a change of the
bytes changes the spec, the version and the golden vectors together).  All multi-byte fields
are little-endian, except the entropy-coded payload (big-endian 32-bit words, ``entropy``).

    file = header(16) layer_record * (hidden_layers + 2) varint(payload_len) payload crc32(4)

A network for an image with C channels, hidden width F and N hidden layers has N + 2 linear
layers with weight shapes [F, 2], N x [F, F] and [C, F] ([out, in], row-major); its image is
defined in ``sirencodec.siren.network`` (section 3).  Version 1 = version 2 without quantized
biases = version 3 without seeded residuals; writers write version 3.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from ..errors import FormatError
from ..limits import (
    MAX_BITS,
    MAX_HIDDEN_LAYERS,
    MAX_HIDDEN_WIDTH,
    MAX_WEIGHTS,
    MIN_BITS,
    check_cost,
    check_dimensions,
)
from . import entropy, seeded
from .container import CRC_BYTES, MAGIC, SIREN_VERSION, Reader, varint, with_crc
from .tensors import BIAS_DTYPES, QuantizedLayer, QuantizedTensor, check_tensor

# The fixed header, one table for writer and reader (format_spec.md section 2).
HEADER = struct.Struct("<3sBHHBBHee")
HEADER_FIELDS = ("magic", "version", "width", "height", "channels", "hidden_layers",
                 "hidden_width", "omega0_first", "omega0_hidden")
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
BIAS_Q = struct.Struct("<BfH")  # bits, scale, zero point of a quantized bias


@dataclass(frozen=True, eq=False)
class QuantizedNetwork:
    """Everything a SIREN file holds.  Build it, then ``pack(net)`` -> bytes."""

    width: int  # image width W in pixels
    height: int  # image height H in pixels
    channels: int  # 1 = gray, 3 = RGB; also the network's output count
    hidden_width: int
    hidden_layers: int
    omega0_first: float  # float16-representable
    omega0_hidden: float  # float16-representable
    layers: list[QuantizedLayer] = field(default_factory=list)

    def layer_shapes(self) -> list[tuple[int, int]]:
        return layer_shapes(self.hidden_width, self.hidden_layers, self.channels)

    def validate(self) -> None:
        """Raise FormatError unless the description is internally consistent and in limits."""
        check_dimensions(self.width, self.height, self.channels)
        check_architecture(self.hidden_width, self.hidden_layers, self.channels)
        check_work(self.width, self.height, self.hidden_width, self.hidden_layers, self.channels)
        for name, w0 in (("omega0_first", self.omega0_first), ("omega0_hidden", self.omega0_hidden)):
            if not (np.isfinite(w0) and w0 > 0) or float(np.float16(w0)) != float(w0):
                raise FormatError(f"{name} must be a positive finite float16 value, got {w0!r}")
        shapes = self.layer_shapes()
        if len(self.layers) != len(shapes):
            raise FormatError(f"network needs {len(shapes)} layers, got {len(self.layers)}")
        for i, (layer, shape) in enumerate(zip(self.layers, shapes)):
            t = layer.weight
            check_tensor(i, "weight", t, shape)
            if t.offset is not None:
                if i != 0:
                    raise FormatError(f"layer {i}: only the first layer's weights can be seeded residuals")
                _check_offset(i, "weight", t, seeded.first_weights(shape))
            if layer.bias_dtype not in BIAS_DTYPES:
                raise FormatError(f"layer {i}: bias_dtype must be one of {BIAS_DTYPES}")
            b = np.asarray(layer.bias, dtype=np.float32)
            if b.shape != (shape[0],) or not np.all(np.isfinite(b)):
                raise FormatError(f"layer {i}: bias must be {shape[0]} finite floats")
            if layer.bias_dtype == "quantized":
                code = layer.bias_code
                if code is None:
                    raise FormatError(f"layer {i}: a quantized bias needs its integers (bias_code)")
                check_tensor(i, "bias", code, (1, shape[0]))
                if not code.mask.all():
                    raise FormatError(f"layer {i}: a quantized bias has no pruned entries")
                if code.offset is not None:
                    _check_offset(i, "bias", code, seeded.biases(i, shape[0], shape[1]).reshape(1, -1))
                if not np.array_equal(code.dequantize()[0], b):
                    raise FormatError(f"layer {i}: bias differs from its dequantized integers")
            elif not np.array_equal(b.astype(layer.bias_dtype).astype(np.float32), b):
                raise FormatError(f"layer {i}: bias not exactly representable as {layer.bias_dtype}")

    @property
    def num_weights(self) -> int:
        return count_weights(self.hidden_width, self.hidden_layers, self.channels)

def _check_offset(i: int, what: str, t: QuantizedTensor, values: np.ndarray) -> None:
    """FormatError unless a residual tensor's offset is its seeded ``values`` and nothing is pruned."""
    if not t.mask.all():
        raise FormatError(f"layer {i}: a seeded-residual {what} has no pruned entries")
    if np.asarray(t.offset, np.float32).shape != values.shape or not np.array_equal(t.offset, values):
        raise FormatError(f"layer {i}: {what} offset differs from its seeded values")



def layer_shapes(hidden_width: int, hidden_layers: int, channels: int) -> list[tuple[int, int]]:
    """[out, in] of every weight matrix, first layer to output layer."""
    return [(hidden_width, 2)] + [(hidden_width, hidden_width)] * hidden_layers + [(channels, hidden_width)]


def count_weights(hidden_width: int, hidden_layers: int, channels: int) -> int:
    """Total weight entries of all layers."""
    return sum(o * i for o, i in layer_shapes(hidden_width, hidden_layers, channels))


def decode_cost(width: int, height: int, hidden_width: int, hidden_layers: int, channels: int) -> int:
    """Cost units (``limits.MAX_DECODE_COST``) of decoding this architecture's file and rendering
    W x H pixels from it: per weight 1000 (its entropy decoding and dequantization), and per pixel
    its multiply-adds, 40 per activation (sine, bias, frequency) and 1000 of overhead."""
    weights = count_weights(hidden_width, hidden_layers, channels)
    activations = hidden_width * (hidden_layers + 1) + channels
    return 1000 * weights + width * height * (weights + 40 * activations + 1000)


def check_work(width: int, height: int, hidden_width: int, hidden_layers: int, channels: int,
               resized: bool = False) -> None:
    """FormatError if rendering W x H pixels from this architecture costs more than the cap
    (the render cap when ``resized``: a size other than the stored one, asked for)."""
    check_cost(decode_cost(width, height, hidden_width, hidden_layers, channels),
               f"rendering {width}x{height} pixels from a ({hidden_width} wide, {hidden_layers} hidden) SIREN", resized)


def check_architecture(hidden_width: int, hidden_layers: int, channels: int) -> None:
    if not 1 <= hidden_width <= MAX_HIDDEN_WIDTH:
        raise FormatError(f"hidden width {hidden_width} outside 1..{MAX_HIDDEN_WIDTH}")
    if not 0 <= hidden_layers <= MAX_HIDDEN_LAYERS:
        raise FormatError(f"hidden layer count {hidden_layers} outside 0..{MAX_HIDDEN_LAYERS}")
    n = count_weights(hidden_width, hidden_layers, channels)
    if n > MAX_WEIGHTS:
        raise FormatError(f"network has {n} weights, above the cap of {MAX_WEIGHTS}")


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


# --- writing ------------------------------------------------------------------------


def pack(net: QuantizedNetwork) -> bytes:
    """Serialise ``net`` (validated first) into a complete `.srn` file."""
    net.validate()
    out = bytearray(HEADER.pack(MAGIC, SIREN_VERSION, net.width, net.height, net.channels,
                                net.hidden_layers, net.hidden_width, net.omega0_first, net.omega0_hidden))
    symbols = []
    for layer in net.layers:
        out += _layer_record(layer, symbols)
    payload = entropy.encode_stream(symbols)
    out += varint(len(payload)) + payload
    return with_crc(out)


def _layer_record(layer: QuantizedLayer, symbols: list) -> bytes:
    """One layer record (format_spec.md section 4); appends what the layer puts in the stream
    (mask and weights, then the quantized bias) to ``symbols``."""
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
    out = bytearray(struct.pack("<BBfH", t.bits, flags | (model.kind << MODEL_SHIFT), t.scale, t.zero_point))
    pruned = mask.size - int(mask.sum())
    out += varint(pruned)
    if pruned < mask.size:
        out += struct.pack("<HH", model.lo, model.hi)
        if model.parametric:
            out += struct.pack("<Hf", model.center, model.param)
    if layer.bias_dtype == "quantized":
        code = layer.bias_code
        out += BIAS_Q.pack(code.bits, code.scale, code.zero_point)
        # The bias integers follow the layer's weights in the stream, uniform over 0..2^bits-1.
        symbols.append(entropy.LayerSymbols(code.mask, np.asarray(code.q, np.int64).reshape(-1),
                                            entropy.bias_model(code.bits)))
    else:
        out += np.asarray(layer.bias, dtype="<f2" if layer.bias_dtype == "float16" else "<f4").tobytes()
    return bytes(out)


# --- reading ------------------------------------------------------------------------


def unpack(data: bytes) -> Parsed:
    """Parse and entropy-decode a version 1-3 file whose envelope (``container.check_envelope``)
    has been checked.  Raises FormatError on any defect."""
    data = bytes(data)
    r = Reader(data, len(data) - CRC_BYTES)
    h = dict(zip(HEADER_FIELDS, r.unpack(HEADER.format, "header")))
    check_dimensions(h["width"], h["height"], h["channels"])
    check_architecture(h["hidden_width"], h["hidden_layers"], h["channels"])
    check_work(h["width"], h["height"], h["hidden_width"], h["hidden_layers"], h["channels"])
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
            tensors.append(((1, li.shape[0]), 0, entropy.bias_model(li.bias_code[0])))
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


def _read_layer(r: Reader, i: int, shape: tuple[int, int], biases: list, version: int) -> LayerInfo:
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
