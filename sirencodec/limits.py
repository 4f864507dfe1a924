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
# Rendered pixels x weights (multiply-adds) of one decode: bounds decoding time (a crafted
# 8192 x 8192 file with a million weights would otherwise take hours).  4096 x 4096 from a
# (64, 5) network is ~3.5e11; the cap is ~1.1e12 (about a minute on 2 cores).  Latent files
# bound their per-pixel synthesis work by the same figure.
MAX_DECODE_WORK = 1 << 40

# Latent-grid files (version 4): latents x alphabet size (2 * reach + 1) summed over the grids
# bounds the entropy decoder's work (a 256x256 file needs ~1e6; the cap takes ~10 s).
MAX_LATENT_WORK = 1 << 28

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
