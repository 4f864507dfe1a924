"""Latent-grid files (format versions 4 to 7): the network they describe, its writer and its
reader.

This module mirrors ``format_spec.md`` section 10; keep them in step (a change of the bytes
changes the spec, the version and the golden vectors together).

    file = header(10) shape_record layer_record * (S + c + A) [upsampling_record] reaches(L)
           varint(len) weights_payload varint(len) latents_payload crc32(4)

The network: L integer latent grids, grid i at level l_i, i.e. ceil(H / 2^l_i) x
ceil(W / 2^l_i).  Version 4 has one grid per level, levels 0 .. L-1 in order; version 5 lists
each grid's level in the shape record, so that a level may have several grids or none
(Cool-chic's feature channels per resolution); version 6 adds learned upsampling filters, one
symmetric 8-tap x2 filter per level stored as its residual from Keys' cubic one; version 7
lets the ARM read, besides a latent's spatial neighbours, the co-located latents of the grids
before it at its level.  Then a per-pixel synthesis and an optional residual 3 x 3
convolution (their math: ``sirencodec.latent.synthesis``), and the autoregressive model (ARM)
that codes the latents (``arm``).  Every layer's parameters are quantized around the zero point
2^(bits - 1); the ARM's steps are powers of two so that its integers are exact in fixed point.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import FormatError
from ..limits import MAX_BITS, MIN_BITS, check_cost, check_dimensions
from . import arm as sarm
from . import entropy
from .container import (CRC_BYTES, LATENT_CHANNEL_VERSION, LATENT_LEVELS_VERSION, LATENT_UPSAMPLING_VERSION,
                        LATENT_VERSION, MAGIC, Reader, varint, with_crc)
from .tensors import QuantizedLayer, QuantizedTensor

MAX_SYNTH_WIDTH = 64
MAX_SYNTH_LAYERS = 4
MAX_GRIDS = 32  # latent grids of a version 5 or 6 file (a version 4 file has at most one per level)
UPSAMPLING_TAPS = 4  # a learned x2 filter's taps per output sample (8 in all, the two phases mirrored)


def grid_shapes(height: int, width: int, levels: int | Sequence[int]) -> list[tuple[int, int]]:
    """The grids' shapes: ``levels`` a count (levels 0 .. levels - 1, version 4's grids) or
    each grid's level."""
    levels = range(levels) if isinstance(levels, int) else levels
    return [(-(-height // 2**level), -(-width // 2**level)) for level in levels]


def max_levels(height: int, width: int) -> int:
    """Grids down to the first that is 1 x 1."""
    n, levels = max(height, width), 1
    while n > 1:
        n, levels = -(-n // 2), levels + 1
    return levels


@dataclass(frozen=True, eq=False)
class LatentNetwork:
    """Everything a latent-grid `.srn` file holds (format versions 4 to 7).

    ``synthesis``: per-pixel layers, weights [out, in] (the first reads one value per grid,
    the last gives ``channels`` values); ``conv``: the residual 3 x 3 convolution as weights
    [channels, channels * 9] (input channel, then kernel row, then kernel column) and a bias per
    channel, or None; ``arm``: the ARM's layers (the last gives 2 values: mean, ln scale) whose
    weight and bias steps are powers of two from 2**-FRAC_BITS to 1, so that their integers
    are exact in the integer ARM.  Every bias is quantized; nothing is seeded.  ``upsampling``
    (version 6): the learned x2 filters, [P, UPSAMPLING_TAPS] integers, row s - 1 the residuals
    from Keys' cubic taps of the step from level s to level s - 1, P the coarsest grid's level
    (``latent.synthesis.upsampling_filters`` gives the taps); None: every grid is upsampled by
    Keys' cubic convolution straight to the image (versions 4 and 5).  ``channel_context``
    (version 7, with learned upsampling): the ARM's last inputs, after its spatial neighbours,
    are the co-located latents of up to this many grids before a grid at its level
    (``arm.channel_sources``)."""

    width: int
    height: int
    channels: int
    grids: list[np.ndarray] = field(default_factory=list)  # int64, shapes grid_shapes(height, width, levels)
    synthesis: list[QuantizedLayer] = field(default_factory=list)
    conv: QuantizedLayer | None = None
    arm: list[QuantizedLayer] = field(default_factory=list)
    levels: tuple[int, ...] | None = None  # each grid's level; None: 0 .. len(grids) - 1
    upsampling: QuantizedTensor | None = None
    channel_context: int = 0

    @property
    def context(self) -> int:
        """The spatial neighbours the ARM reads (its inputs less the channel ones)."""
        return self.arm[0].weight.shape[1] - self.channel_context

    @property
    def grid_levels(self) -> tuple[int, ...]:
        return tuple(range(len(self.grids))) if self.levels is None else tuple(self.levels)

    @property
    def version(self) -> int:
        """The lowest version that describes the network: 7 when its ARM reads other grids, 6
        when it learns its upsampling, else 4 when its grids are levels 0 .. L-1, else 5."""
        if self.channel_context:
            return LATENT_CHANNEL_VERSION
        if self.upsampling is not None:
            return LATENT_UPSAMPLING_VERSION
        return LATENT_VERSION if self.grid_levels == tuple(range(len(self.grid_levels))) else LATENT_LEVELS_VERSION

    def validate(self) -> None:
        """Raise FormatError unless the description is internally consistent and in limits."""
        levels = self.grid_levels
        if len(levels) != len(self.grids):
            raise FormatError(f"{len(levels)} grid levels for {len(self.grids)} latent grids")
        self.validate_layers(levels)
        for g, shape in zip(self.grids, grid_shapes(self.height, self.width, levels)):
            if g.shape != shape:
                raise FormatError(f"latent grid of shape {g.shape}, expected {shape}")
            if g.size and np.abs(g).max() > sarm.MAX_LATENT:
                raise FormatError(f"latent beyond +-{sarm.MAX_LATENT}")

    def validate_layers(self, levels: Sequence[int]) -> None:
        """Everything but the grids' contents, for grids at ``levels`` (a reader checks this
        before decoding or allocating any latent)."""
        check_dimensions(self.width, self.height, self.channels)
        check_levels(levels, self.width, self.height)
        _check_chain("synthesis", self.synthesis, len(levels), self.channels, MAX_SYNTH_LAYERS, MAX_SYNTH_WIDTH)
        if self.conv is not None:
            _check_chain("convolution", [self.conv], 9 * self.channels, self.channels, 1, self.channels)
        _check_chain("ARM", self.arm, None, 2, sarm.MAX_ARM_LAYERS, sarm.MAX_ARM_WIDTH)
        if not 1 <= self.context <= sarm.MAX_CONTEXT:
            raise FormatError(f"ARM context {self.context} outside 1..{sarm.MAX_CONTEXT}")
        if not 0 <= self.channel_context <= sarm.MAX_CHANNEL:
            raise FormatError(f"ARM channel inputs {self.channel_context} outside 0..{sarm.MAX_CHANNEL}")
        if self.channel_context and self.upsampling is None:
            raise FormatError("an ARM that reads other grids needs learned upsampling (version 7 extends 6)")
        layers = [("synthesis", ly) for ly in self.synthesis] + [("convolution", self.conv)] * (self.conv is not None)
        for what, layer in layers + [("ARM", ly) for ly in self.arm]:
            for t in (layer.weight, layer.bias_code):
                if what == "ARM" and not power_of_two_step(t.scale):
                    raise FormatError(f"ARM layer: step {t.scale!r} is not a power of two in 2^-{sarm.FRAC_BITS}..1")
                if what != "ARM" and float(np.float16(t.scale)) != t.scale:
                    raise FormatError(f"{what} layer: step {t.scale!r} is not a float16 value")
                if not t.mask.all() or t.zero_point != 1 << (t.bits - 1) or t.bits != layer.weight.bits:
                    raise FormatError(f"{what} layer: a latent file's parameters are unpruned, share the "
                                      "layer's bit width and sit around the zero point 2^(bits-1)")
        if self.upsampling is not None:
            t, steps = self.upsampling, max(levels)
            if steps < 1:
                raise FormatError("learned upsampling filters for grids that are all at level 0")
            if t.shape != (steps, UPSAMPLING_TAPS) or t.mask.shape != t.shape or not t.mask.all():
                raise FormatError(f"upsampling filters of shape {t.shape}, expected {(steps, UPSAMPLING_TAPS)}")
            if not MIN_BITS <= t.bits <= MAX_BITS or t.zero_point != 1 << (t.bits - 1) or t.offset is not None:
                raise FormatError("upsampling filters: bits 2..16, zero point 2^(bits-1), nothing seeded")
            if t.q.min() < 0 or t.q.max() >= 1 << t.bits:
                raise FormatError(f"upsampling filter integers outside 0..{(1 << t.bits) - 1}")
            if float(np.float16(t.scale)) != t.scale or not (np.isfinite(t.scale) and t.scale > 0):
                raise FormatError(f"upsampling filters: step {t.scale!r} is not a positive float16 value")
        self.integer_arm().validate()
        check_cost(self.decode_cost(levels, [0] * len(levels)), f"a {self.width}x{self.height} image from this network")

    def decode_cost(self, levels: int | Sequence[int], reaches: list[int]) -> int:
        """``decode_cost`` of this network with grids at ``levels`` of these reaches."""
        return decode_cost(self.width, self.height, self.channels, levels,
                           [ly.weight.shape for ly in self.synthesis], self.conv is not None,
                           [ly.weight.shape for ly in self.arm], reaches, self.upsampling is not None)

    def integer_arm(self) -> sarm.IntegerArm:
        """The ARM's parameters in fixed point (exact: their steps are powers of two)."""
        def fixed(t: QuantizedTensor) -> np.ndarray:
            shift = sarm.FRAC_BITS + int(np.frexp(t.scale)[1]) - 1
            return (t.q.astype(np.int64) - t.zero_point) << shift
        return sarm.IntegerArm(tuple(fixed(ly.weight) for ly in self.arm),
                               tuple(fixed(ly.bias_code)[0] for ly in self.arm), self.channel_context)


def check_levels(levels: Sequence[int], width: int, height: int) -> None:
    """FormatError unless ``levels`` (each grid's level) fit a ``width`` x ``height`` image:
    1 .. MAX_GRIDS grids, each level below max_levels."""
    top = max_levels(height, width)
    if not 1 <= len(levels) <= MAX_GRIDS:
        raise FormatError(f"{len(levels)} latent grids (1..{MAX_GRIDS})")
    if any(not 0 <= v < top for v in levels):
        raise FormatError(f"latent grid levels {list(levels)} for a {width}x{height} image (0..{top - 1})")


def decode_cost(width: int, height: int, channels: int, levels: int | Sequence[int],
                synthesis: list[tuple[int, int]], conv: bool, arm: list[tuple[int, int]], reaches: list[int],
                learned: bool = False) -> int:
    """Cost units (``limits.MAX_DECODE_COST``) of decoding a latent file: per latent 1000 + 10 per
    ARM multiply-add; per probability-table entry (72 x 16 x (2R + 1) for each grid of reach
    R > 0) 1000; per pixel 10 per upsampling tap (8 per grid, 16 with ``learned`` filters),
    synthesis multiply-add and convolution multiply-add, 20 per synthesis output and 500.  ``levels``: the grids (a count,
    levels 0 .. count - 1, or each grid's level); ``synthesis``, ``arm``: the layers' [out, in]
    shapes."""
    shapes = grid_shapes(height, width, levels)
    levels = len(shapes)
    latents = sum(h * w for h, w in shapes)
    arm_macs = sum(o * i for o, i in arm)
    tables = sum(sarm.SCALE_TABLE * sarm.MEAN_STEPS * (2 * r + 1) for r in reaches if r)
    synth_macs = sum(o * i for o, i in synthesis)
    outputs = sum(o for o, _ in synthesis)
    conv_macs = 9 * channels**2 if conv else 0
    per_pixel = 10 * ((16 if learned else 8) * levels + synth_macs + conv_macs) + 20 * outputs + 500
    return latents * (1000 + 10 * arm_macs) + 1000 * tables + width * height * per_pixel


def power_of_two_step(scale: float) -> bool:
    """scale is 2**-k for k in 0..FRAC_BITS."""
    m, e = np.frexp(scale)
    return bool(m == 0.5 and -sarm.FRAC_BITS <= e - 1 <= 0)


def _check_chain(what: str, layers: list[QuantizedLayer], first_in: int | None, last_out: int,
                 max_layers: int, max_width: int) -> None:
    if not 1 <= len(layers) <= max_layers:
        raise FormatError(f"{what}: {len(layers)} layers (1..{max_layers})")
    prev = first_in
    for i, layer in enumerate(layers):
        out, inp = layer.weight.shape
        if prev is not None and inp != prev:
            raise FormatError(f"{what} layer {i}: {inp} inputs, expected {prev}")
        last = i == len(layers) - 1
        if (last and out != last_out) or (not last and not 1 <= out <= max_width):
            raise FormatError(f"{what} layer {i}: {out} outputs")
        if layer.bias_dtype != "quantized" or layer.bias_code is None or layer.weight.offset is not None:
            raise FormatError(f"{what} layer {i}: a latent file quantizes every bias and seeds nothing")
        b = np.asarray(layer.bias, np.float32)
        if b.shape != (out,) or not np.array_equal(layer.bias_code.dequantize()[0], b):
            raise FormatError(f"{what} layer {i}: bias differs from its integers")
        prev = out


# --- writing and reading --------------------------------------------------------------

HEADER = struct.Struct("<3sBHHBB")  # magic, version, width, height, channels, kind
KIND_LATENT = 1
TRIM_TRIES = 3  # trailing bytes the writer tries to drop from the latents' payload
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
    upsampling_record: LatentRecord | None = None  # versions 6 and 7: the learned filters' record


def latent_layers(net: LatentNetwork) -> list[tuple[QuantizedLayer, bool]]:
    """Every layer of a latent network in file order, with whether its steps are powers of two."""
    return ([(ly, False) for ly in net.synthesis] + ([(net.conv, False)] if net.conv is not None else [])
            + [(ly, True) for ly in net.arm])


def pack(net: LatentNetwork, trim_tries: int = TRIM_TRIES) -> bytes:
    """Serialise a latent-grid network (validated first) into a complete file of the lowest
    version that describes it (``LatentNetwork.version``).
    ``trim_tries``: trailing payload bytes dropped while the stream still decodes (each try
    decodes the latents once); 0 gives a valid file at most that many bytes longer, fast —
    what rate control's search packs, before the real file is written."""
    net.validate()
    out = bytearray(HEADER.pack(MAGIC, net.version, net.width, net.height, net.channels, KIND_LATENT))
    out += bytes([len(net.grids)])
    if net.version != LATENT_VERSION:
        out += bytes(net.grid_levels)
    out += bytes([net.context] + [net.channel_context] * (net.version == LATENT_CHANNEL_VERSION) + [len(net.synthesis)])
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
                                            np.asarray(layer.bias_code.q, np.int64).reshape(-1),
                                            entropy.bias_model(t.bits)))
    if net.upsampling is not None:
        t = net.upsampling
        values = np.asarray(t.q, dtype=np.int64).reshape(-1)
        model = entropy.choose_centered_model(values, t.bits)
        out += bytes([t.shape[0], t.bits, model.kind]) + struct.pack("<e", t.scale)
        if model.kind != entropy.UNIFORM:
            out += struct.pack("<e", model.param)
        symbols.append(entropy.LayerSymbols(np.ones(t.shape, dtype=bool), values, model))
    try:
        latents, reaches = sarm.encode_latents(net.grids, net.integer_arm(), trim_tries, net.grid_levels)
    except ValueError as exc:
        raise FormatError(f"latents cannot be coded: {exc}") from None
    check_cost(net.decode_cost(net.grid_levels, reaches), "this latent network's file")  # never write what a reader refuses
    out += bytes(reaches)
    weights = entropy.encode_stream(symbols)
    out += varint(len(weights)) + weights + varint(len(latents)) + latents
    return with_crc(out)


def _step_bytes(scale: float, pow2: bool) -> bytes:
    """A step as the file stores it: -log2 (u8) for the ARM's power-of-two steps, else float16."""
    if pow2:
        return bytes([1 - int(np.frexp(scale)[1])])
    return struct.pack("<e", scale)


def unpack(data: bytes) -> ParsedLatent:
    """Parse and decode a version 4 to 7 file whose envelope (``container.check_envelope``)
    has been checked.  Raises FormatError on any defect."""
    r = Reader(data, len(data) - CRC_BYTES)
    _, version, width, height, channels, kind = r.unpack(HEADER.format, "header")
    if kind != KIND_LATENT:
        raise FormatError(f"unknown network kind {kind} (version {version} defines {KIND_LATENT}: latent grids)")
    check_dimensions(width, height, channels)
    (n_grids,) = r.unpack("<B", "shape record")
    if version != LATENT_VERSION:  # check_levels below bounds the count
        levels = tuple(r.take(n_grids, "shape record"))
    else:
        if not 1 <= n_grids <= max_levels(height, width):
            raise FormatError(f"{n_grids} latent grids for a {width}x{height} image "
                              f"(1..{max_levels(height, width)})")
        levels = tuple(range(n_grids))
    check_levels(levels, width, height)
    (context,) = r.unpack("<B", "shape record")
    if not 1 <= context <= sarm.MAX_CONTEXT:
        raise FormatError(f"ARM context {context} outside 1..{sarm.MAX_CONTEXT}")
    channel = r.unpack("<B", "shape record")[0] if version == LATENT_CHANNEL_VERSION else 0
    if not 0 <= channel <= sarm.MAX_CHANNEL:
        raise FormatError(f"ARM channel inputs {channel} outside 0..{sarm.MAX_CHANNEL}")
    (n_synth,) = r.unpack("<B", "shape record")
    if not 1 <= n_synth <= MAX_SYNTH_LAYERS:
        raise FormatError(f"{n_synth} synthesis layers (1..{MAX_SYNTH_LAYERS})")
    synth_widths = list(r.take(n_synth - 1, "shape record"))
    has_conv, n_arm = r.unpack("<BB", "shape record")
    if has_conv > 1:
        raise FormatError(f"convolution flag {has_conv} (0 or 1)")
    if not 1 <= n_arm <= sarm.MAX_ARM_LAYERS:
        raise FormatError(f"{n_arm} ARM layers (1..{sarm.MAX_ARM_LAYERS})")
    arm_widths = list(r.take(n_arm - 1, "shape record"))
    if any(not 1 <= v <= MAX_SYNTH_WIDTH for v in synth_widths):
        raise FormatError(f"synthesis widths {synth_widths} outside 1..{MAX_SYNTH_WIDTH}")
    if any(not 1 <= v <= sarm.MAX_ARM_WIDTH for v in arm_widths):
        raise FormatError(f"ARM widths {arm_widths} outside 1..{sarm.MAX_ARM_WIDTH}")
    dims = [n_grids, *synth_widths, channels]
    shapes = [(o, i, False) for o, i in zip(dims[1:], dims[:-1])]
    if has_conv:
        shapes.append((channels, 9 * channels, False))
    adims = [context + channel, *arm_widths, 2]
    shapes += [(o, i, True) for o, i in zip(adims[1:], adims[:-1])]
    records = [_read_latent_record(r, i, (o, inp), pow2) for i, (o, inp, pow2) in enumerate(shapes)]
    learned = version in (LATENT_UPSAMPLING_VERSION, LATENT_CHANNEL_VERSION)
    up_record = _read_upsampling_record(r, max(levels)) if learned else None
    reaches = list(r.take(n_grids, "latent reaches"))
    weights = r.payload("weights payload")
    latents = r.payload("latents payload")
    if r.pos != r.end:
        raise FormatError(f"{r.end - r.pos} unexpected bytes after the latents payload")
    tensors = []
    for rec in records:
        tensors += [(rec.shape, 0, rec.model), ((1, rec.shape[0]), 0, entropy.bias_model(rec.bits))]
    if up_record is not None:
        tensors.append((up_record.shape, 0, up_record.model))
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
    upsampling = None
    if up_record is not None:
        _, values = next(decoded)
        upsampling = QuantizedTensor(np.asarray(values, np.int32).reshape(up_record.shape),
                                     np.ones(up_record.shape, dtype=bool), up_record.bits, up_record.scale,
                                     1 << (up_record.bits - 1))
    synthesis, conv, arm_layers = layers[:n_synth], layers[n_synth] if has_conv else None, layers[n_synth + has_conv:]
    shapes = grid_shapes(height, width, levels)
    stored = None if version == LATENT_VERSION else levels
    shell = LatentNetwork(width, height, channels, [], synthesis, conv, arm_layers, stored, upsampling, channel)
    shell.validate_layers(levels)  # chains, steps and limits, before any latent is allocated
    check_cost(shell.decode_cost(levels, reaches), f"the {width}x{height} latent file")
    grids = sarm.decode_latents(latents, shapes, reaches, shell.integer_arm(), levels=levels)
    net = LatentNetwork(width, height, channels, grids, synthesis, conv, arm_layers, stored, upsampling, channel)
    fixed = (len(data) - CRC_BYTES - sum(rec.bytes for rec in records) - (up_record.bytes if up_record else 0)
             - len(weights) - len(latents))
    return ParsedLatent(net, records, reaches, len(data), fixed, len(weights), len(latents), up_record)


def _read_model(r: Reader, what: str, bits: int, kind: int) -> entropy.WeightModel:
    """A record's weight model over 0 .. 2^bits - 1 around the zero point: uniform, or ``kind``
    with the f16 parameter that follows."""
    if kind == entropy.UNIFORM:
        return entropy.WeightModel(entropy.UNIFORM, 0, (1 << bits) - 1)
    (param,) = r.unpack("<e", what)
    model = entropy.WeightModel(kind, 0, (1 << bits) - 1, 1 << (bits - 1), float(param))
    model.validate(bits)
    return model


def _read_upsampling_record(r: Reader, steps: int) -> LatentRecord:
    """Versions 6 and 7's upsampling record: u8 P (the coarsest grid's level, at least 1), u8 bits,
    u8 model, f16 step, f16 parameter unless the model is uniform."""
    what = "upsampling record"
    start = r.pos
    count, bits, flags = r.unpack("<BBB", what)
    if steps < 1 or count != steps:
        raise FormatError(f"{what}: {count} filters for grids whose coarsest level is {steps} (must be equal, >= 1)")
    if not MIN_BITS <= bits <= MAX_BITS:
        raise FormatError(f"{what}: bit width {bits} outside {MIN_BITS}..{MAX_BITS}")
    if flags not in entropy.MODEL_NAMES:
        raise FormatError(f"{what}: unknown model {flags}")
    (step,) = r.unpack("<e", what)
    if not (np.isfinite(step) and step > 0):
        raise FormatError(f"{what}: step must be positive and finite, got {step}")
    model = _read_model(r, what, bits, flags)
    return LatentRecord((count, UPSAMPLING_TAPS), bits, float(step), float(step), model, r.pos - start)


def _read_latent_record(r: Reader, i: int, shape: tuple[int, int], pow2: bool) -> LatentRecord:
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
    model = _read_model(r, what, bits, flags)
    return LatentRecord(shape, bits, scales[0], scales[1], model, r.pos - start)
