"""The limits a decoder enforces before it allocates or computes anything (format_spec.md
section 7), in one place for the readers, the writers (which never write what a reader
refuses) and the encoders (which refuse such a network before training it)."""

from __future__ import annotations

from .errors import FormatError

MAX_FILE_BYTES = 64 * 1024 * 1024  # a reader refuses larger inputs
MAX_DIMENSION = 65535  # width and height are u16
MAX_PIXELS = 1 << 26  # 67,108,864 pixels (8192 x 8192) for both the stored and rendered size
MIN_BITS, MAX_BITS = 2, 16  # bit widths of stored integers

# SIREN files (versions 1-3).
MAX_HIDDEN_WIDTH = 1024
MAX_HIDDEN_LAYERS = 64
MAX_WEIGHTS = 1 << 22  # total weight entries of all layers (4,194,304)
# Decoding cost (format_spec.md section 7): what decoding a file costs, computed from its header
# before any payload is decoded, in units of about 0.1 ns of one core of the reference machine
# (the formulas: ``siren_v3.decode_cost``, ``latent_v4.decode_cost``; their fit to measured
# times: docs/results/decode/README.md).  A reader refuses a file, or a render size, above the
# cap; a writer never writes one, and the encoders refuse such a network before training it.
MAX_DECODE_COST = 25 * 10**9  # about 2.5 s of one core: every file decodes within 5 s
# A render at a size the user asks for (srndec --size/--scale) may cost more, as asked, up to
# this (about 100 s of one core: a 4096 x 4096 render of the default SIREN costs 6.2e11).
MAX_RENDER_COST = 10**12
RESAMPLE_COST = 200  # per output pixel of a latent image rendered at another size (Pillow)

# Decoder tiling: activations of one tile hold at most this many float32 values (16 MiB) per buffer.
TILE_FLOATS = 1 << 22


def check_dimensions(width: int, height: int, channels: int) -> None:
    """FormatError unless a W x H image of ``channels`` (1 or 3) is within the limits."""
    if channels not in (1, 3):
        raise FormatError(f"channel count must be 1 or 3, got {channels}")
    if not (1 <= width <= MAX_DIMENSION and 1 <= height <= MAX_DIMENSION):
        raise FormatError(f"image size {width}x{height} outside 1..{MAX_DIMENSION}")
    if width * height > MAX_PIXELS:
        raise FormatError(f"image size {width}x{height} exceeds the pixel cap of {MAX_PIXELS}")


def check_cost(cost: int, what: str, resized: bool = False) -> None:
    """FormatError if ``cost`` (decoding cost units) exceeds MAX_DECODE_COST (MAX_RENDER_COST for
    a render at a size the user asked for: ``resized``)."""
    cap = MAX_RENDER_COST if resized else MAX_DECODE_COST
    if cost > cap:
        kind = "render cost limit" if resized else "cost limit"
        raise FormatError(f"{what} exceeds the decoder's {kind} ({cost:.3g} > {cap:.3g} units, "
                          f"about {cost / 1e10:.1f} s)")
