"""Latent grids' entropy coding (sirencodec.format.arm): exact round trips, a decoding order that
respects every context, a rate at the model's ideal code length, and bad streams refused."""

import constriction
import numpy as np
import pytest

from sirencodec.errors import FormatError
from sirencodec.format import arm
from sirencodec.format.entropy import words_to_bytes


def random_arm(rng, context=8, width=8, channel=0):
    shapes = [(width, context + channel), (width, width), (2, width)]
    weights = [rng.normal(0, 0.4, s) for s in shapes]
    biases = [rng.normal(0, 0.1, s[0]) for s in shapes]
    biases[-1][1] = 0.3  # ln(scale) near 0: unit-ish scales
    return arm.integer_arm(weights, biases, channel)


def round_trip(grids, iarm, levels=None):
    """Encode with constriction; decode with the compiled decoder and with the numpy one."""
    enc = constriction.stream.queue.RangeEncoder()
    reaches = arm.encode_grids(grids, iarm, enc, levels)
    words = enc.get_compressed()
    for compiled in (True, False):
        back = arm.decode_latents(words_to_bytes(words), [g.shape for g in grids], reaches, iarm, compiled, levels)
        for g, b in zip(grids, back):
            assert np.array_equal(g, b)
    return 4 * len(words), reaches


@pytest.mark.parametrize("context", [1, 8, 16])
def test_grids_round_trip_exactly(context):
    rng = np.random.default_rng(context)
    iarm = random_arm(rng, context)
    iarm.validate()
    shapes = [(33, 40), (17, 20), (1, 9), (9, 1), (1, 1), (5, 3)]
    grids = [np.round(rng.laplace(0, 1.5, s)).astype(np.int64) for s in shapes]
    nbytes, reaches = round_trip(grids, iarm)
    assert nbytes > 0 and max(reaches) > 0


@pytest.mark.parametrize("context", [1, 8, 16])
def test_sparse_grids_round_trip_exactly(context):
    """Mostly zero latents, as coarse grids are: most contexts are all zeros, and the decoders
    must give them the ARM's output for a zero input (its biases carried through the layers),
    next to nonzero neighbours in every position of the context."""
    rng = np.random.default_rng(100 + context)
    iarm = random_arm(rng, context)
    shapes = [(40, 37), (20, 19), (1, 12), (12, 1)]
    grids = [np.where(rng.random(s) < 0.06, rng.integers(-4, 5, s), 0).astype(np.int64) for s in shapes]
    assert sum(np.count_nonzero(g) for g in grids) > 20
    _, reaches = round_trip(grids, iarm)
    assert max(reaches) > 0


@pytest.mark.parametrize("channel", [1, 2, 3])
def test_grids_with_channel_inputs_round_trip_exactly(channel):
    """An ARM that also reads co-located latents of earlier grids at the same level: the compiled
    and the numpy decoder read the stream back, dense and sparse."""
    rng = np.random.default_rng(200 + channel)
    iarm = random_arm(rng, 8, channel=channel)
    iarm.validate()
    levels = (0, 1, 1, 2, 1, 2, 3)
    shapes = [(21, 18), (11, 9), (11, 9), (6, 5), (11, 9), (6, 5), (3, 3)]
    shared = rng.laplace(0, 1.5, (11, 9))
    grids = [np.round(shared + rng.laplace(0, 0.5, s) if s == (11, 9) else rng.laplace(0, 1.5, s)).astype(np.int64)
             for s in shapes]
    nbytes, reaches = round_trip(grids, iarm, levels)
    assert nbytes > 0 and min(reaches) > 0
    sparse = [np.where(rng.random(s) < 0.08, g, 0) for s, g in zip(shapes, grids)]
    round_trip(sparse, iarm, levels)


def test_wavefront_refuses_channel_sources_it_cannot_read():
    """A channel source must be an earlier grid of the same shape (the decoder reads it at the
    same position); anything else is a caller's error, not a read out of bounds."""
    wavefront = pytest.importorskip("sirencodec.format.wavefront")
    iarm = random_arm(np.random.default_rng(3), 4, channel=1)
    offsets = np.array(arm.OFFSETS[:4], np.int64)
    shapes = [(4, 4), (4, 4), (2, 2)]
    for sources in ([[-1], [1], [-1]], [[-1], [2], [-1]], [[-1], [0], [1]], [[-2], [-1], [-1]], [[-1], [-1]]):
        with pytest.raises(ValueError):
            wavefront.decode_grids(np.zeros(4, np.uint32), shapes, [0, 0, 0], 2, offsets, list(iarm.weights),
                                   list(iarm.biases), [np.zeros(0, np.uint64)] * 3, arm.MAX_LATENT,
                                   np.array(sources, np.int64))


def test_a_grid_on_its_predicted_floor_has_reach_zero_and_no_symbols():
    zero = arm.integer_arm([np.zeros((2, 8))], [np.array([0.25, -3.0])])  # mean 0.25: floor 0
    g = np.zeros((6, 7), dtype=np.int64)
    nbytes, reaches = round_trip([g, g[:2]], zero)
    assert reaches == [0, 0] and nbytes <= 8


def test_wavefront_order_decodes_every_neighbour_first():
    for context in (1, 8, 12, 16):
        alpha = arm.wave_alpha(context)
        h, w = 9, 11
        order = arm.wavefront_order(h, w, alpha)
        rank = np.empty(h * w, dtype=np.int64)
        rank[order] = np.arange(h * w)
        for idx in range(h * w):
            r, c = divmod(idx, w)
            for dy, dx in arm.OFFSETS[:context]:
                rr, cc = r + dy, c + dx
                if 0 <= rr < h and 0 <= cc < w:
                    assert rank[rr * w + cc] < rank[idx], (context, (r, c), (dy, dx))


def test_rate_is_the_ideal_code_length():
    rng = np.random.default_rng(5)
    iarm = random_arm(rng)
    grids = [np.round(rng.laplace(0, s, (64, 64))).astype(np.int64) for s in (0.4, 2.0)]
    nbytes, _ = round_trip(grids, iarm)
    ideal = sum(arm.arm_ideal_bits(g, iarm) for g in grids) / 8
    assert ideal <= nbytes <= ideal + 16


def test_a_good_model_codes_predictable_latents_cheaply():
    """A grid that follows its left neighbour codes far below its i.i.d. entropy when the ARM
    predicts the left neighbour with a small scale."""
    rng = np.random.default_rng(6)
    steps = rng.choice([-1, 0, 0, 0, 0, 0, 0, 1], size=(32, 64))
    grid = np.cumsum(steps, axis=1)
    w = np.zeros((2, 1))
    w[0, 0] = 1.0  # mean = left neighbour
    iarm = arm.integer_arm([w], [np.array([0.0, -1.0])])  # ln(b) = -1
    nbytes, _ = round_trip([grid], iarm)
    _, counts = np.unique(grid, return_counts=True)
    iid_bits = float(-(counts * np.log2(counts / counts.sum())).sum())
    assert 8 * nbytes < 0.5 * iid_bits


def test_probability_rows_are_deterministic_and_normalisable():
    rows = arm._Rows(4).table
    assert rows.shape == (arm.SCALE_TABLE, arm.MEAN_STEPS, 9)
    assert np.all(rows >= arm.PROB_FLOOR) and np.all(rows <= 1.0)
    # Mass of the Laplace over the alphabet: near 1 for small scales, less for wide ones.
    assert abs(rows[0, 8].sum() - 1.0) < 1e-6
    # Fraction 0 leans left of centre, fraction 15 right (the centre is (f + 0.5) / 16).
    mid = 4
    assert rows[20, 0, mid] > rows[20, 0, mid + 1] and rows[20, 15, mid + 1] > rows[20, 15, mid - 1]
    assert np.array_equal(rows, arm._Rows(4).table)


def test_stored_theta_table_matches_its_derivation():
    derived = arm.theta_table()
    ulps = np.abs(derived.view(np.int32).astype(np.int64) - arm.THETA.view(np.int32).astype(np.int64))
    assert ulps.max() <= 1
    assert np.all(np.diff(arm.THETA) > 0) and arm.THETA[0] > np.finfo(np.float32).tiny


def test_encoder_refuses_latents_it_cannot_code():
    rng = np.random.default_rng(7)
    iarm = random_arm(rng)
    enc = constriction.stream.queue.RangeEncoder()
    with pytest.raises(ValueError):
        arm.encode_grids([np.full((4, 4), arm.MAX_LATENT + 1)], iarm, enc)
    g = np.zeros((4, 4), dtype=np.int64)
    g[2, 2] = 4 * arm.MAX_REACH
    with pytest.raises(ValueError):
        arm.encode_grids([g], iarm, enc)


def test_bad_streams_and_headers_give_format_errors():
    rng = np.random.default_rng(8)
    iarm = random_arm(rng)
    with pytest.raises(FormatError):
        arm.decode_latents(bytes(8), [(4, 4)], [arm.MAX_REACH + 1], iarm)
    decoded = refused = 0
    for seed in range(40):
        payload = np.random.default_rng(seed).integers(0, 256, size=24, dtype=np.uint8).tobytes()
        try:
            out = arm.decode_latents(payload, [(8, 8), (4, 4)], [3, 5], iarm)
        except FormatError:
            refused += 1
            with pytest.raises(FormatError):  # the numpy decoder refuses it too
                arm.decode_latents(payload, [(8, 8), (4, 4)], [3, 5], iarm, compiled=False)
            continue
        back = arm.decode_latents(payload, [(8, 8), (4, 4)], [3, 5], iarm, compiled=False)
        assert all(np.array_equal(a, b) for a, b in zip(out, back))
        decoded += 1
        assert [g.shape for g in out] == [(8, 8), (4, 4)]
        assert all(np.abs(g).max() <= arm.MAX_LATENT for g in out)
    assert decoded > 0 and refused > 0  # random words are a stream like any other: both outcomes occur


def test_validate_rejects_malformed_arms():
    good = random_arm(np.random.default_rng(9))
    good.validate()
    bad = [
        arm.IntegerArm(good.weights[:-1] + (np.zeros((3, 8), np.int64),), good.biases[:-1] + (np.zeros(3, np.int64),)),
        arm.IntegerArm((np.zeros((8, 17), np.int64),) + good.weights[1:], good.biases),
        arm.IntegerArm(good.weights, good.biases[:-1] + (np.zeros(5, np.int64),)),
        arm.IntegerArm((good.weights[0] * 0 + (1 << 28),) + good.weights[1:], good.biases),
        arm.IntegerArm(good.weights, good.biases, arm.MAX_CHANNEL + 1),
        arm.IntegerArm(good.weights, good.biases, 8),  # no spatial neighbour left
    ]
    for b in bad:
        with pytest.raises(FormatError):
            b.validate()
