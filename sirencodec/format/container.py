"""The `.srn` container: what every file version shares (format_spec.md sections 1, 2, 7, 9).

    file = magic "SRN" (3) | version (u8) | version-specific body | CRC-32 (u32 LE) of all before it

A reader checks the envelope (size cap, magic, version, minimum length, CRC) before it parses
anything; ``Reader`` then reads the body with every read bounds-checked, so a truncated or
crafted file raises :class:`FormatError` and nothing else.  The bodies are written and read by
``siren_v3`` (versions 1-3) and ``latent_v4`` (versions 4 to 7).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping

from ..errors import FormatError
from ..limits import MAX_FILE_BYTES

MAGIC = b"SRN"
# A file carries the lowest version that describes it (format_spec.md section 9): SIREN files
# are written as version 3 (2 added quantized biases, 3 seeded residuals), latent-grid files as 4,
# as 5 when their grids are not one per level (5 lists each grid's level), and as 6 when they
# learn their upsampling filters (6 adds them to version 5's layout), and as 7 when their ARM
# also reads co-located latents of other grids (7 adds that count to version 6's layout).
SIREN_VERSION = 3
LATENT_VERSION = 4
LATENT_LEVELS_VERSION = 5
LATENT_UPSAMPLING_VERSION = 6
LATENT_CHANNEL_VERSION = 7
LATENT_VERSIONS = (LATENT_VERSION, LATENT_LEVELS_VERSION, LATENT_UPSAMPLING_VERSION, LATENT_CHANNEL_VERSION)
FORMAT_VERSION = LATENT_CHANNEL_VERSION  # the newest
READ_VERSIONS = (1, 2, 3, 4, 5, 6, 7)
CRC_BYTES = 4


def with_crc(body: bytes | bytearray) -> bytes:
    """``body`` followed by its CRC-32 (u32, little-endian): a complete file."""
    return bytes(body) + struct.pack("<I", zlib.crc32(body))


def check_envelope(data: bytes, header_bytes: Mapping[int, int]) -> int:
    """Type, size cap, magic, version, minimum length (``header_bytes[version]`` plus the CRC)
    and CRC: the checks made before anything is parsed.  Returns the version."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise FormatError("expected bytes")
    if len(data) > MAX_FILE_BYTES:
        raise FormatError(f"file of {len(data)} bytes exceeds the {MAX_FILE_BYTES}-byte limit")
    if len(data) < 4 or bytes(data[:3]) != MAGIC:
        raise FormatError("not a .srn file (bad magic bytes)")
    version = data[3]
    if version not in READ_VERSIONS:
        raise FormatError(f"unsupported .srn format version {version} (this decoder reads versions "
                          f"{', '.join(map(str, READ_VERSIONS))})")
    if len(data) < header_bytes[version] + CRC_BYTES:
        raise FormatError(f"file truncated: {len(data)} bytes is shorter than the header and CRC")
    (stored,) = struct.unpack("<I", bytes(data[-CRC_BYTES:]))
    if zlib.crc32(bytes(data[:-CRC_BYTES])) != stored:
        raise FormatError("CRC-32 mismatch: the file is corrupt or truncated")
    return version


def varint(n: int) -> bytes:
    """Unsigned LEB128."""
    b = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        b.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(b)


class Reader:
    """Bounds-checked reads of ``data[:end]`` (the body, before the CRC)."""

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

    def payload(self, what: str) -> bytes:
        """A varint length, then that many bytes."""
        n = self.varint(f"{what} length")
        if n > self.end - self.pos:
            raise FormatError(f"{what} length {n} runs past the end of the file")
        return self.take(n, what)
