"""The seeded values of format version 3 (format_spec.md section 5): fixed, exact, portable."""

import math

import numpy as np

from sirencodec.format import seeded


def test_splitmix64_matches_the_reference_outputs():
    # SplitMix64 seeded with 0 (Steele, Lea and Flood 2014; the spec quotes these three).
    assert [int(x) for x in seeded.splitmix64(0, 3)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_values_follow_the_spec_formula_in_exact_arithmetic():
    x = [int(v) for v in seeded.splitmix64(5, 50)]
    u = [v >> 41 for v in x]
    bound = seeded.bias_bound(45)
    assert bound == float(np.float32(1 / math.sqrt(45)))
    expected = np.array([np.float32((2 * k + 1 - 2**23) / 2**23) * np.float32(bound) for k in u], np.float32)
    got = seeded.uniform(5, (50,), bound)
    assert got.tobytes() == expected.tobytes()
    assert np.array_equal(seeded.biases(2, 50, 45), got)  # stream 2i + 1 of layer 2


def test_first_weights_are_a_prefix_in_row_major_order_and_in_bounds():
    small, large = seeded.first_weights((4, 2)), seeded.first_weights((64, 2))
    assert small.dtype == np.float32 and small.shape == (4, 2)
    assert np.array_equal(small, large[:4])
    assert np.abs(large).max() < 0.5
    assert abs(float(large.std()) - 1 / math.sqrt(12)) < 0.05  # U(-1/2, 1/2)
    assert not np.array_equal(seeded.biases(0, 4, 2), seeded.biases(1, 4, 2))  # distinct streams
