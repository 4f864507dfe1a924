"""Corrupt input: every damaged file either decodes or raises FormatError, nothing else."""

import struct
import time
import zlib

import numpy as np
import pytest

import sirencodec
from sirencodec import FormatError
from sirencodec.format.siren_v3 import HEADER, HEADER_FIELDS
from tests.netgen import random_network


def refresh_crc(data: bytes) -> bytes:
    return data[:-4] + struct.pack("<I", zlib.crc32(data[:-4]))


def decode_or_format_error(data: bytes) -> bool:
    try:
        sirencodec.decode(data)
        return True
    except FormatError as exc:
        assert str(exc) and "\n" not in str(exc)
        return False


@pytest.fixture(scope="module")
def sample() -> bytes:
    net = random_network(np.random.default_rng(11), width=9, height=7, channels=3, hidden_width=6,
                         hidden_layers=2, bits=7, sparsity=0.3, distribution="laplace",
                         bias_dtype=("quantized", "float16", "quantized", "float32"),  # every bias storage
                         seeded_residuals=True)
    return sirencodec.pack(net)


@pytest.fixture(scope="module")
def latent_sample() -> bytes:
    """A format version 4 file (latent grids), RGB, three grids."""
    from sirencodec.format import pack_latent
    from tests.netgen import random_latent_network

    return pack_latent(random_latent_network(np.random.default_rng(11), width=11, height=7, channels=3,
                                             levels=3, synthesis=(4,), arm=(3,), bits=6))


@pytest.mark.parametrize("which", ["sample", "latent_sample"])
def test_every_truncation_raises(which, request):
    data = request.getfixturevalue(which)
    for n in range(len(data)):
        with pytest.raises(FormatError):
            sirencodec.decode(data[:n])


@pytest.mark.parametrize("which", ["sample", "latent_sample"])
def test_random_bit_flips_are_caught(which, request):
    sample = request.getfixturevalue(which)
    rng = np.random.default_rng(0)
    for _ in range(3000):
        data = bytearray(sample)
        for _ in range(int(rng.integers(1, 4))):
            pos = int(rng.integers(0, len(data)))
            data[pos] ^= 1 << int(rng.integers(0, 8))
        # The CRC catches every 1-3 bit error in a file this small.
        with pytest.raises(FormatError):
            sirencodec.decode(bytes(data))


def test_mutations_with_valid_crc_decode_or_raise(sample):
    """A crafted file with a correct CRC must still be parsed defensively."""
    rng = np.random.default_rng(1)
    decoded = 0
    start = time.monotonic()
    for _ in range(3000):
        data = bytearray(sample[:-4])
        for _ in range(int(rng.integers(1, 4))):
            pos = int(rng.integers(0, len(data)))
            if rng.random() < 0.5:
                data[pos] ^= 1 << int(rng.integers(0, 8))
            else:
                data[pos] = int(rng.integers(0, 256))
        if rng.random() < 0.2:  # also damage lengths: cut or extend
            data = data[: int(rng.integers(0, len(data)))] if rng.random() < 0.5 else data + bytes(3)
        decoded += decode_or_format_error(refresh_crc(bytes(data) + b"\0\0\0\0"))
    assert 0 < decoded < 3000
    assert time.monotonic() - start < 60


@pytest.mark.parametrize("field, value, message", [
    ("magic", b"PNG", "magic"),
    ("version", 9, "version 9"),
    ("width", 0, "size"),
    ("channels", 2, "channel count"),
    ("hidden_width", 1025, "hidden width"),
    ("hidden_layers", 65, "hidden layer count"),
])
def test_header_fields_out_of_range(sample, field, value, message):
    fields = list(HEADER.unpack(sample[:HEADER.size]))
    fields[HEADER_FIELDS.index(field)] = value
    data = refresh_crc(HEADER.pack(*fields) + sample[HEADER.size:])
    with pytest.raises(FormatError, match=message):
        sirencodec.decode(data)


def test_absurd_dimensions_rejected_before_allocation(sample):
    fields = list(HEADER.unpack(sample[:HEADER.size]))
    fields[2], fields[3] = 65535, 65535  # 65535 x 65535 x 3 would be 12 GiB
    data = refresh_crc(HEADER.pack(*fields) + sample[HEADER.size:])
    with pytest.raises(FormatError, match="pixel cap"):
        sirencodec.decode(data)


def test_too_many_parameters_rejected(sample):
    fields = list(HEADER.unpack(sample[:HEADER.size]))
    fields[5], fields[6] = 64, 1024  # 64 hidden layers of 1024 x 1024: 67 M weights
    data = refresh_crc(HEADER.pack(*fields) + sample[HEADER.size:])
    with pytest.raises(FormatError, match="cap"):
        sirencodec.decode(data)


def test_decode_work_capped(sample):
    """A legal size and a legal network can still add up to hours of decoding: refused."""
    fields = list(HEADER.unpack(sample[:HEADER.size]))
    fields[2], fields[3], fields[5], fields[6] = 8192, 8192, 10, 512  # 67 M pixels x 2.6 M weights
    data = refresh_crc(HEADER.pack(*fields) + sample[HEADER.size:])
    start = time.perf_counter()
    with pytest.raises(FormatError, match="cost limit"):
        sirencodec.decode(data)
    assert time.perf_counter() - start < 1


def test_render_size_beyond_cap_rejected(sample):
    with pytest.raises(FormatError, match="pixel cap"):
        sirencodec.decode(sample, size=(60000, 60000))
    with pytest.raises(FormatError):
        sirencodec.decode(sample, scale=1e9)


def test_crc_mismatch_named(sample):
    data = sample[:-1] + bytes([sample[-1] ^ 0x10])
    with pytest.raises(FormatError, match="CRC"):
        sirencodec.decode(data)


def test_trailing_garbage_rejected(sample):
    with pytest.raises(FormatError, match="payload length"):
        sirencodec.decode(refresh_crc(sample[:-4] + b"xx" + b"\0\0\0\0"))


def test_not_bytes_and_empty():
    for bad in (b"", b"S", b"SRN", b"\x89PNG\r\n\x1a\n"):
        with pytest.raises(FormatError):
            sirencodec.decode(bad)

