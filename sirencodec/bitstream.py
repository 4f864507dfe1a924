"""The `.srn` container: ``pack`` a QuantizedNetwork into bytes, ``unpack`` bytes back.

This file mirrors ``format_spec.md`` section by section; keep them in step (a change of
the bytes changes the spec, ``FORMAT_VERSION`` and the golden vectors together).
All multi-byte fields are little-endian, except the entropy-coded payload (big-endian
32-bit words, see entropy.py).

    file    = header(16) layer_record * (hidden_layers + 2) varint(payload_len) payload crc32(4)

Version 4 files (latent-grid networks, format_spec.md section 10) have their own layout after
the version byte: ``pack_latent`` / ``unpack_latent`` at the end of this file.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from . import entropy, latentnet, seeded
from . import arm as sarm
from .config import (
    FORMAT_VERSION,
    LATENT_VERSION,
    MAGIC,
    MAX_BITS,
    MAX_FILE_BYTES,
    MAX_LATENT_WORK,
    MIN_BITS,
    SIREN_VERSION,
)
from .errors import FormatError
from .latentnet import LatentNetwork
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
    4: FLAG_BIAS_Q | MODEL_MASK,  # latent-grid files: every bias quantized, nothing seeded
}
# Version 1 = version 2 without quantized biases = version 3 without seeded residuals.
# Version 4 files hold a latent-grid network (their own layout after the first 4 bytes).
READ_VERSIONS = (1, 2, 3, FORMAT_VERSION)
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
    out = bytearray(HEADER.pack(MAGIC, SIREN_VERSION, net.width, net.height, net.channels,
                                net.hidden_layers, net.hidden_width, net.omega0_first, net.omega0_hidden))
    symbols = []
    for layer in net.layers:
        out += _layer_record(layer, symbols)
    payload = entropy.encode_stream(symbols)
    out += _varint(len(payload)) + payload
    out += struct.pack("<I", zlib.crc32(out))
    return bytes(out)


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
    if len(data) < (LATENT_HEADER.size if data[3] == LATENT_VERSION else HEADER.size) + CRC_BYTES:
        raise FormatError(f"file truncated: {len(data)} bytes is shorter than the header and CRC")
    (stored,) = struct.unpack("<I", bytes(data[-CRC_BYTES:]))
    if zlib.crc32(bytes(data[:-CRC_BYTES])) != stored:
        raise FormatError("CRC-32 mismatch: the file is corrupt or truncated")


def unpack(data: bytes) -> Parsed | ParsedLatent:
    """Parse and entropy-decode a `.srn` file.  Raises FormatError on any defect."""
    check_envelope(data)
    data = bytes(data)
    if data[3] == LATENT_VERSION:
        return unpack_latent(data)
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


# --- version 4: latent-grid networks (format_spec.md section 10) ------------------------

LATENT_HEADER = struct.Struct("<3sBHHBB")  # magic, version, width, height, channels, kind
KIND_LATENT = 1
LATENT_TRIM_TRIES = 3  # trailing bytes the writer tries to drop from the latents' payload
# Compact layer record (version 4): bits, then the model kind in the low 2 bits of a flags byte.
# The zero point of weights and biases is 2**(bits - 1), nothing is pruned, and the weights'
# model spans the whole alphabet around the zero point (entropy.choose_centered_model).
V4_MODEL_MASK = 0x03


@dataclass
class LatentRecord:
    """What a version 4 layer record says about one layer."""

    shape: tuple[int, int]
    bits: int
    scale: float
    bias_scale: float
    model: entropy.WeightModel
    bytes: int  # the record's size


@dataclass
class ParsedLatent:
    network: LatentNetwork
    records: list[LatentRecord]  # synthesis layers, the convolution (if any), ARM layers
    reaches: list[int]
    file_bytes: int
    fixed_bytes: int  # header, shape record, reaches, both payload length fields
    weights_payload_bytes: int
    latents_payload_bytes: int


def latent_layers(net: LatentNetwork) -> list[tuple[QuantizedLayer, bool]]:
    """Every layer of a latent network in file order, with whether its steps are powers of two."""
    return ([(ly, False) for ly in net.synthesis] + ([(net.conv, False)] if net.conv is not None else [])
            + [(ly, True) for ly in net.arm])


def pack_latent(net: LatentNetwork, trim_tries: int = LATENT_TRIM_TRIES) -> bytes:
    """Serialise a latent-grid network (validated first) into a complete version 4 file.
    ``trim_tries``: trailing payload bytes dropped while the stream still decodes (each try
    decodes the latents once); 0 gives a valid file at most that many bytes longer, fast —
    what rate control's search packs, before the real file is written."""
    net.validate()
    out = bytearray(LATENT_HEADER.pack(MAGIC, LATENT_VERSION, net.width, net.height, net.channels, KIND_LATENT))
    out += bytes([len(net.grids), net.context, len(net.synthesis)])
    out += bytes(ly.weight.shape[0] for ly in net.synthesis[:-1])
    out += bytes([net.conv is not None, len(net.arm)])
    out += bytes(ly.weight.shape[0] for ly in net.arm[:-1])
    symbols = []
    for layer, pow2 in latent_layers(net):
        t = layer.weight
        values = np.asarray(t.q, dtype=np.int64).reshape(-1)
        model = entropy.choose_centered_model(values, t.bits)
        out += bytes([t.bits, model.kind]) + _step_bytes(t.scale, pow2) + _step_bytes(layer.bias_code.scale, pow2)
        if model.kind != entropy.UNIFORM:
            out += struct.pack("<e", model.param)
        symbols.append(entropy.LayerSymbols(np.ones(t.shape, dtype=bool), values, model))
        symbols.append(entropy.LayerSymbols(np.ones((1, t.shape[0]), dtype=bool),
                                            np.asarray(layer.bias_code.q, np.int64).reshape(-1), bias_model(t.bits)))
    try:
        latents, reaches = sarm.encode_latents(net.grids, net.integer_arm(), trim_tries)
    except ValueError as exc:
        raise FormatError(f"latents cannot be coded: {exc}") from None
    _check_latent_work([g.shape for g in net.grids], reaches)  # never write what a reader refuses
    out += bytes(reaches)
    weights = entropy.encode_stream(symbols)
    out += _varint(len(weights)) + weights + _varint(len(latents)) + latents
    out += struct.pack("<I", zlib.crc32(out))
    return bytes(out)


def _step_bytes(scale: float, pow2: bool) -> bytes:
    """A step as the file stores it: -log2 (u8) for the ARM's power-of-two steps, else float16."""
    if pow2:
        return bytes([1 - int(np.frexp(scale)[1])])
    return struct.pack("<e", scale)


def unpack_latent(data: bytes) -> ParsedLatent:
    """Parse and decode a version 4 file (envelope already checked)."""
    r = _Reader(data, len(data) - CRC_BYTES)
    _, _, width, height, channels, kind = r.unpack(LATENT_HEADER.format, "header")
    if kind != KIND_LATENT:
        raise FormatError(f"unknown network kind {kind} (version 4 defines {KIND_LATENT}: latent grids)")
    check_dimensions(width, height, channels)
    levels, context, n_synth = r.unpack("<BBB", "shape record")
    if not 1 <= levels <= latentnet.max_levels(height, width):
        raise FormatError(f"{levels} latent grids for a {width}x{height} image "
                          f"(1..{latentnet.max_levels(height, width)})")
    if not 1 <= context <= sarm.MAX_CONTEXT:
        raise FormatError(f"ARM context {context} outside 1..{sarm.MAX_CONTEXT}")
    if not 1 <= n_synth <= latentnet.MAX_SYNTH_LAYERS:
        raise FormatError(f"{n_synth} synthesis layers (1..{latentnet.MAX_SYNTH_LAYERS})")
    synth_widths = list(r.take(n_synth - 1, "shape record"))
    has_conv, n_arm = r.unpack("<BB", "shape record")
    if has_conv > 1:
        raise FormatError(f"convolution flag {has_conv} (0 or 1)")
    if not 1 <= n_arm <= sarm.MAX_ARM_LAYERS:
        raise FormatError(f"{n_arm} ARM layers (1..{sarm.MAX_ARM_LAYERS})")
    arm_widths = list(r.take(n_arm - 1, "shape record"))
    if any(not 1 <= v <= latentnet.MAX_SYNTH_WIDTH for v in synth_widths):
        raise FormatError(f"synthesis widths {synth_widths} outside 1..{latentnet.MAX_SYNTH_WIDTH}")
    if any(not 1 <= v <= sarm.MAX_ARM_WIDTH for v in arm_widths):
        raise FormatError(f"ARM widths {arm_widths} outside 1..{sarm.MAX_ARM_WIDTH}")
    dims = [levels, *synth_widths, channels]
    shapes = [(o, i, False) for o, i in zip(dims[1:], dims[:-1])]
    if has_conv:
        shapes.append((channels, 9 * channels, False))
    adims = [context, *arm_widths, 2]
    shapes += [(o, i, True) for o, i in zip(adims[1:], adims[:-1])]
    records = [_read_latent_record(r, i, (o, inp), pow2) for i, (o, inp, pow2) in enumerate(shapes)]
    reaches = list(r.take(levels, "latent reaches"))
    weights = _read_payload(r, "weights payload")
    latents = _read_payload(r, "latents payload")
    if r.pos != r.end:
        raise FormatError(f"{r.end - r.pos} unexpected bytes after the latents payload")
    tensors = []
    for rec in records:
        tensors += [(rec.shape, 0, rec.model), ((1, rec.shape[0]), 0, bias_model(rec.bits))]
    decoded = iter(entropy.decode_stream(weights, *map(list, zip(*tensors))))
    layers = []
    for rec in records:
        (mask, values), (bias_mask, bias_values) = next(decoded), next(decoded)
        zero = 1 << (rec.bits - 1)
        code = QuantizedTensor(np.asarray(bias_values, np.int32).reshape(1, -1), bias_mask.reshape(1, -1),
                               rec.bits, rec.bias_scale, zero)
        layers.append(QuantizedLayer(QuantizedTensor(np.asarray(values, np.int32).reshape(rec.shape), mask,
                                                     rec.bits, rec.scale, zero),
                                     code.dequantize()[0], "quantized", code))
    synthesis, conv, arm_layers = layers[:n_synth], layers[n_synth] if has_conv else None, layers[n_synth + has_conv:]
    grid_shapes = latentnet.grid_shapes(height, width, levels)
    shell = LatentNetwork(width, height, channels, [], synthesis, conv, arm_layers)
    shell.validate_layers(levels)  # chains, steps and limits, before any latent is allocated
    _check_latent_work(grid_shapes, reaches)
    grids = sarm.decode_latents(latents, grid_shapes, reaches, shell.integer_arm())
    net = LatentNetwork(width, height, channels, grids, synthesis, conv, arm_layers)
    fixed = len(data) - CRC_BYTES - sum(rec.bytes for rec in records) - len(weights) - len(latents)
    return ParsedLatent(net, records, reaches, len(data), fixed, len(weights), len(latents))


def _read_latent_record(r: _Reader, i: int, shape: tuple[int, int], pow2: bool) -> LatentRecord:
    what = f"layer {i}"
    start = r.pos
    bits, flags = r.unpack("<BB", what)
    if not MIN_BITS <= bits <= MAX_BITS:
        raise FormatError(f"{what}: bit width {bits} outside {MIN_BITS}..{MAX_BITS}")
    if flags & ~V4_MODEL_MASK or flags not in entropy.MODEL_NAMES:
        raise FormatError(f"{what}: unknown flags 0x{flags:02x}")
    scales = []
    for name in ("step", "bias step"):
        if pow2:
            (k,) = r.unpack("<B", what)
            if k > sarm.FRAC_BITS:
                raise FormatError(f"{what}: ARM {name} 2^-{k} finer than 2^-{sarm.FRAC_BITS}")
            scales.append(2.0**-k)
        else:
            (v,) = r.unpack("<e", what)
            if not (np.isfinite(v) and v > 0):
                raise FormatError(f"{what}: {name} must be positive and finite, got {v}")
            scales.append(float(v))
    model = entropy.WeightModel(entropy.UNIFORM, 0, (1 << bits) - 1)
    if flags != entropy.UNIFORM:
        (param,) = r.unpack("<e", what)
        model = entropy.WeightModel(flags, 0, (1 << bits) - 1, 1 << (bits - 1), float(param))
        model.validate(bits)
    return LatentRecord(shape, bits, scales[0], scales[1], model, r.pos - start)


def _check_latent_work(shapes: list[tuple[int, int]], reaches: list[int]) -> None:
    work = sum(h * w * (2 * reach + 1) for (h, w), reach in zip(shapes, reaches))
    if work > MAX_LATENT_WORK:
        raise FormatError(f"latent grids too costly to decode ({work} > {MAX_LATENT_WORK} symbol-alphabet entries)")


def _read_payload(r: _Reader, what: str) -> bytes:
    n = r.varint(f"{what} length")
    if n > r.end - r.pos:
        raise FormatError(f"{what} length {n} runs past the end of the file")
    return r.take(n, what)
