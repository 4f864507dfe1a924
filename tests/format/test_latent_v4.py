"""Format versions 4 to 7 (latent-grid networks): exact round trips, byte-identical rewrites,
the lowest version that describes a network, a byte breakdown that sums to the file, and
damaged files refused with FormatError only."""

import struct
import time
import zlib

import numpy as np
import pytest

import sirencodec
from sirencodec import FormatError, limits
from sirencodec.format import LATENT_LEVELS_VERSION, LATENT_VERSION, MAGIC, arm, latent_v4
from tests.netgen import random_latent_network


def refresh_crc(data: bytes) -> bytes:
    return data[:-4] + struct.pack("<I", zlib.crc32(data[:-4]))


def test_round_trip_many_random_latent_networks():
    rng = np.random.default_rng(0)
    for trial in range(30):
        width, height = (int(v) for v in rng.integers(1, 24, 2))
        net = random_latent_network(
            rng, width=width, height=height, channels=int(rng.choice([1, 3])),
            levels=int(rng.integers(1, latent_v4.max_levels(height, width) + 1)),
            synthesis=tuple(int(v) for v in rng.integers(1, 9, int(rng.integers(0, 3)))),
            conv=bool(rng.integers(0, 2)), context=int(rng.integers(1, arm.MAX_CONTEXT + 1)),
            arm=tuple(int(v) for v in rng.integers(1, 9, int(rng.integers(0, 3)))),
            bits=int(rng.integers(2, 13)), latent_scale=float(rng.uniform(0.2, 4.0)))
        data = latent_v4.pack(net)
        assert data[:3] == MAGIC and data[3] == LATENT_VERSION
        parsed = sirencodec.unpack(data)
        got = parsed.network
        for a, b in zip(got.grids, net.grids):
            assert np.array_equal(a, b)
        for x, y in zip(latent_v4.latent_layers(got), latent_v4.latent_layers(net)):
            assert np.array_equal(x[0].weight.q, y[0].weight.q) and x[0].weight.scale == y[0].weight.scale
            assert np.array_equal(x[0].bias, y[0].bias)
        assert latent_v4.pack(got) == data
        assert np.array_equal(sirencodec.decode(data), sirencodec.render(net))


def test_version_5_stores_each_grids_level():
    """Grids at any levels (repeated, skipped, in any order): grid i is ceil(H / 2^l_i) x
    ceil(W / 2^l_i) (format_spec.md section 10), written as version 5 unless the levels are
    0 .. L-1, which version 4 describes (and then the bytes are version 4's)."""
    rng = np.random.default_rng(50)
    versions = set()
    for _ in range(20):
        width, height = (int(v) for v in rng.integers(1, 20, 2))
        deepest = latent_v4.max_levels(height, width) - 1
        levels = tuple(int(v) for v in rng.integers(0, deepest + 1, int(rng.integers(1, 7))))
        net = random_latent_network(rng, width=width, height=height, channels=int(rng.choice([1, 3])),
                                    grid_levels=levels, latent_scale=float(rng.uniform(0.3, 3.0)))
        data = latent_v4.pack(net)
        canonical = levels == tuple(range(len(levels)))
        assert data[3] == (LATENT_VERSION if canonical else LATENT_LEVELS_VERSION)
        versions.add(data[3])
        got = sirencodec.unpack(data).network
        assert got.grid_levels == levels
        for g, lv, want in zip(got.grids, levels, net.grids):
            assert g.shape == (-(-height // 2**lv), -(-width // 2**lv)) and np.array_equal(g, want)
        assert latent_v4.pack(got) == data
        assert np.array_equal(sirencodec.decode(data), sirencodec.render(net))
        assert sirencodec.inspect(data)["grid_levels"] == list(levels)
    assert LATENT_LEVELS_VERSION in versions
    net = random_latent_network(np.random.default_rng(51), levels=3)
    same = latent_v4.LatentNetwork(net.width, net.height, net.channels, net.grids, net.synthesis, net.conv,
                                   net.arm, (0, 1, 2))
    assert latent_v4.pack(same) == latent_v4.pack(net) and latent_v4.pack(net)[3] == LATENT_VERSION


def test_version_5_shape_record_is_checked():
    """The grid count (1..32) and each level (below the image's level count) are checked
    before any latent is decoded; the writer refuses what the reader would."""
    net = random_latent_network(np.random.default_rng(52), width=12, height=8, grid_levels=(1, 1, 3))
    data = latent_v4.pack(net)
    count = latent_v4.HEADER.size  # the shape record's first byte: the number of grids
    assert data[count:count + 4] == bytes([3, 1, 1, 3])
    for pos, value, message in ((count, 0, "latent grids"), (count, latent_v4.MAX_GRIDS + 1, "latent grids"),
                                (count + 3, 5, "levels"), (count + 1, 255, "levels")):  # 12x8: levels 0..4 (12, 6, 3, 2, 1)
        bad = refresh_crc(data[:pos] + bytes([value]) + data[pos + 1:])
        with pytest.raises(FormatError, match=message):
            sirencodec.decode(bad)
    for levels in ((1, 1), (1, 1, 5), ()):
        with pytest.raises(FormatError):
            latent_v4.pack(latent_v4.LatentNetwork(net.width, net.height, 1, net.grids, net.synthesis, net.conv,
                                                   net.arm, levels))


def _copying_arm(net, j: int, channel: int):
    """``net`` with an ARM that predicts each latent as its j-th channel input exactly (weight 1
    on it, nothing else, the smallest scale)."""
    from sirencodec.format import QuantizedLayer, QuantizedTensor

    def layer(w, b):  # steps 2^-4: the integers are 16 * value around the zero point 2^7
        qt = QuantizedTensor((128 + 16 * w).astype(np.int32), np.ones(w.shape, bool), 8, 2.0**-4, 128)
        code = QuantizedTensor((128 + 16 * b[None]).astype(np.int32), np.ones((1, len(b)), bool), 8, 2.0**-4, 128)
        return QuantizedLayer(qt, code.dequantize()[0], "quantized", code)

    w = np.zeros((2, net.context + channel))
    w[0, net.context + j - 1] = 1
    return latent_v4.LatentNetwork(net.width, net.height, net.channels, net.grids, net.synthesis, net.conv,
                                   [layer(w, np.array([0.0, -7.0]))], net.levels, net.upsampling, channel)


def test_version_7_arm_reads_the_grids_before_at_its_level_nearest_first():
    """Channel input j of a latent is the co-located latent of the j-th nearest grid before it at
    its level (format_spec.md section 10). An ARM that copies input j predicts exactly the
    grids that repeat that one, whose reach (the file's byte for each grid) is then 0."""
    base = random_latent_network(np.random.default_rng(70), width=12, height=8, grid_levels=(0, 1, 1, 1, 2),
                                 upsampling_bits=6, latent_scale=3.0)
    a, b = base.grids[1], base.grids[2]
    assert not np.array_equal(a, b) and np.count_nonzero(a) and np.count_nonzero(b)
    for j, grids, copies in ((1, [a, a, a], [2, 3]),  # each level-1 grid repeats the one just before it
                             (2, [a, b, a], [3])):  # the third repeats the first, two before it
        net = _copying_arm(base, j, 2)
        net = latent_v4.LatentNetwork(net.width, net.height, 1, [base.grids[0], *grids, base.grids[4]], net.synthesis,
                                      net.conv, net.arm, net.levels, net.upsampling, 2)
        data = latent_v4.pack(net)
        assert data[3] == 7
        parsed = latent_v4.unpack(data)
        assert [i for i, r in enumerate(parsed.reaches) if r == 0] == copies
        assert all(np.array_equal(g, want) for g, want in zip(parsed.network.grids, net.grids))
    # Grid 0 and grid 4 have no grid before them at their level: their channel inputs are 0,
    # the prediction 0, and their reach their largest latent.
    assert parsed.reaches[0] == np.abs(base.grids[0]).max() and parsed.reaches[4] == np.abs(base.grids[4]).max()


def test_version_7_shape_record_is_checked():
    """J (the byte after K) is 0..3; a version 7 file with J = 0 reads as the version 6 network
    it describes; the writer writes the lowest version and refuses what the reader would."""
    net = random_latent_network(np.random.default_rng(71), width=12, height=8, grid_levels=(0, 1, 1, 2),
                                upsampling_bits=6, channel_context=1)
    data = latent_v4.pack(net)
    k = latent_v4.HEADER.size + 1 + len(net.grids)  # K, then J
    assert (data[3], data[k], data[k + 1]) == (7, 8, 1)
    for value in (4, 255):
        with pytest.raises(FormatError, match="channel inputs"):
            sirencodec.decode(refresh_crc(data[:k + 1] + bytes([value]) + data[k + 2:]))
    v6 = random_latent_network(np.random.default_rng(72), width=12, height=8, grid_levels=(0, 1, 1, 2),
                               upsampling_bits=6)
    six = latent_v4.pack(v6)
    assert six[3] == 6
    seven = refresh_crc(six[:3] + bytes([7]) + six[4:k + 1] + bytes([0]) + six[k + 1:])
    assert latent_v4.pack(latent_v4.unpack(seven).network) == six
    assert np.array_equal(sirencodec.decode(seven), sirencodec.decode(six))
    for bad in (dict(channel_context=4), dict(upsampling=None)):
        fields = {f: getattr(net, f) for f in ("width", "height", "channels", "grids", "synthesis", "conv", "arm",
                                               "levels", "upsampling", "channel_context")}
        with pytest.raises(FormatError):
            latent_v4.pack(latent_v4.LatentNetwork(**{**fields, **bad}))


def test_inspect_breakdown_sums_to_the_file():
    net = random_latent_network(np.random.default_rng(1))
    data = latent_v4.pack(net)
    info = sirencodec.inspect(data)
    assert info["kind"] == "latent" and info["format_version"] == LATENT_VERSION
    assert sum(info["bytes"].values()) == len(data) == info["total_bytes"]
    assert info["latents"] == sum(g.size for g in net.grids)


def test_decode_renders_other_sizes_by_resampling():
    data = latent_v4.pack(random_latent_network(np.random.default_rng(2), width=16, height=12))
    assert sirencodec.decode(data, size=(40, 30)).shape == (30, 40)
    assert sirencodec.decode(data, scale=0.5).shape == (6, 8)


def test_writer_refuses_invalid_networks():
    rng = np.random.default_rng(3)
    net = random_latent_network(rng)
    bad_grid = [np.zeros((2, 2), np.int64)] + net.grids[1:]
    too_large = [np.full(g.shape, arm.MAX_LATENT + 1) for g in net.grids]
    layer = net.arm[0]
    odd_step = sirencodec.QuantizedTensor(layer.weight.q, layer.weight.mask, layer.weight.bits, 0.3,
                                          layer.weight.zero_point)
    for bad in (
        latent_v4.LatentNetwork(net.width, net.height, 1, bad_grid, net.synthesis, net.conv, net.arm),
        latent_v4.LatentNetwork(net.width, net.height, 1, too_large, net.synthesis, net.conv, net.arm),
        latent_v4.LatentNetwork(net.width, net.height, 1, net.grids, net.synthesis, net.conv,
                                [sirencodec.QuantizedLayer(odd_step, layer.bias, "quantized", layer.bias_code)]
                                + net.arm[1:]),
        latent_v4.LatentNetwork(net.width, net.height, 1, net.grids[:1] * 9, net.synthesis, net.conv, net.arm),
    ):
        with pytest.raises(FormatError):
            latent_v4.pack(bad)
    # A file the reader's cost limit refuses: the writer refuses it too.
    cap, limits.MAX_DECODE_COST = limits.MAX_DECODE_COST, 1000
    try:
        with pytest.raises(FormatError, match="cost limit"):
            latent_v4.pack(net)
    finally:
        limits.MAX_DECODE_COST = cap
    far = [g.copy() for g in net.grids]
    far[0][0, 0] = 4 * arm.MAX_REACH  # further from its predicted mean than any alphabet reaches
    with pytest.raises(FormatError):
        latent_v4.pack(latent_v4.LatentNetwork(net.width, net.height, 1, far, net.synthesis, net.conv,
                                                      net.arm))


@pytest.fixture(scope="module")
def sample() -> bytes:  # truncations and bit flips of this file: tests/format/test_corruption.py
    return latent_v4.pack(random_latent_network(np.random.default_rng(11), width=11, height=7, channels=3,
                                                       levels=3, synthesis=(4,), arm=(3,), bits=6))


def test_mutations_with_valid_crc_decode_or_raise_quickly(sample):
    """A crafted file with a correct CRC must still be parsed defensively: it decodes or
    raises FormatError, one line, in bounded time."""
    rng = np.random.default_rng(1)
    outcomes = {True: 0, False: 0}
    slowest = 0.0
    for _ in range(400):
        data = bytearray(sample[:-4])
        for _ in range(int(rng.integers(1, 4))):
            data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        start = time.perf_counter()
        try:
            sirencodec.decode(refresh_crc(bytes(data) + b"\0\0\0\0"))
            outcomes[True] += 1
        except FormatError as exc:
            assert str(exc) and "\n" not in str(exc)
            outcomes[False] += 1
        slowest = max(slowest, time.perf_counter() - start)
    assert outcomes[False] > 0
    assert slowest < 10  # no file, however crafted, makes the decoder hang


def test_header_fields_are_checked(sample):
    def with_byte(pos: int, value: int) -> bytes:
        data = bytearray(sample[:-4])
        data[pos] = value
        return refresh_crc(bytes(data) + b"\0\0\0\0")

    for pos, value, message in ((9, 2, "kind"), (10, 0, "grids"), (10, 40, "grids"), (11, 0, "context"),
                                (11, 17, "context")):
        with pytest.raises(FormatError, match=message):
            sirencodec.decode(with_byte(pos, value))


def test_a_crafted_huge_latent_file_is_refused_before_decoding():
    """Dimensions at the pixel cap with the widest alphabet: the cost limit refuses it at once
    instead of decoding 89 million latents."""
    net = random_latent_network(np.random.default_rng(5), width=4, height=4, levels=1)
    data = bytearray(latent_v4.pack(net)[:-4])
    struct.pack_into("<HH", data, 4, 8192, 8192)
    records = sum(r.bytes for r in latent_v4.unpack(latent_v4.pack(net)).records)
    shape_record = 3 + (len(net.synthesis) - 1) + 2 + (len(net.arm) - 1)
    data[latent_v4.HEADER.size + shape_record + records] = arm.MAX_REACH  # the grid's reach
    start = time.perf_counter()
    with pytest.raises(FormatError, match="cost limit"):
        sirencodec.decode(refresh_crc(bytes(data) + b"\0\0\0\0"))
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("name", ["latent_gray.srn", "latent_rgb.srn", "latent_levels_rgb.srn"])
def test_every_byte_of_a_latent_file_is_under_its_crc(name):
    """Flipping any one bit of a version-4 file, its CRC left as written, is refused before
    anything is parsed: in the magic or version by their own checks, anywhere else as a CRC
    mismatch (CRC-32 detects every single-bit error)."""
    import zlib

    from sirencodec import FormatError, decode
    from tests import GOLDEN

    data = (GOLDEN / name).read_bytes()
    assert int.from_bytes(data[-4:], "little") == zlib.crc32(data[:-4])  # the envelope, from its definition
    for index in range(len(data) - 4):
        corrupt = bytearray(data)
        corrupt[index] ^= 1 << (index % 8)
        with pytest.raises(FormatError, match="magic|version" if index < 4 else "CRC"):
            decode(bytes(corrupt))


@pytest.mark.parametrize("name", ["latent_gray.srn", "latent_rgb.srn", "latent_levels_rgb.srn"])
def test_a_latent_image_at_another_size_is_its_bicubic_resampling(name):
    """format_spec: a latent-grid image is defined on its stored grid; other sizes are that
    image resampled with Pillow's bicubic filter; ``scale`` S gives round(S x size), at least 1."""
    from PIL import Image

    from sirencodec import decode
    from tests import GOLDEN

    data = (GOLDEN / name).read_bytes()
    base = decode(data)
    h, w = base.shape[:2]
    for size in ((2 * w + 1, max(1, h // 2 + 3)), (1, 1), (w, 3 * h)):
        want = np.asarray(Image.fromarray(base).resize(size, Image.Resampling.BICUBIC))
        assert np.array_equal(decode(data, size=size), want), size
    want = np.asarray(Image.fromarray(base).resize((round(1.5 * w), round(1.5 * h)), Image.Resampling.BICUBIC))
    assert np.array_equal(decode(data, scale=1.5), want)
    assert np.array_equal(decode(data, size=(w, h)), base)
