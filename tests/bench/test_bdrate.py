"""Bjøntegaard deltas (sirencodec.bench.bdrate) on synthetic curves with known answers."""

import math

import pytest

from sirencodec.bench.bdrate import bd_psnr, bd_rate, pareto_front
from sirencodec.errors import InputError

# A plausible codec curve: PSNR rises with log-rate, slightly concave.
ANCHOR = [(r, 22.0 + 9.0 * math.log2(r + 0.4) - 0.3 * r) for r in (0.2, 0.4, 0.8, 1.2, 2.0, 3.0)]


def test_identical_curves_give_zero():
    assert bd_rate(ANCHOR, ANCHOR) == pytest.approx(0.0, abs=1e-9)
    assert bd_psnr(ANCHOR, ANCHOR) == pytest.approx(0.0, abs=1e-9)


def test_rate_scaled_by_0_8_is_minus_20_percent():
    test = [(0.8 * r, p) for r, p in ANCHOR]
    assert bd_rate(ANCHOR, test) == pytest.approx(-20.0, abs=0.1)
    assert bd_psnr(ANCHOR, test) > 0  # same quality for fewer bits is better quality per bit
    assert bd_rate(test, ANCHOR) == pytest.approx(25.0, abs=0.1)  # and the inverse


def test_psnr_shifted_by_one_db():
    test = [(r, p + 1.0) for r, p in ANCHOR]
    assert bd_psnr(ANCHOR, test) == pytest.approx(1.0, abs=1e-9)
    assert bd_psnr(test, ANCHOR) == pytest.approx(-1.0, abs=1e-9)
    assert bd_rate(ANCHOR, test) < 0


def test_point_order_does_not_matter():
    test = [(0.8 * r, p) for r, p in reversed(ANCHOR)]
    assert bd_rate(ANCHOR[::-1], test) == pytest.approx(-20.0, abs=0.1)


def test_dominated_and_non_finite_points_are_dropped():
    noisy = [*ANCHOR, (1.0, 10.0), (5.0, math.inf), (0.0, 30.0), (2.0, ANCHOR[4][1] - 0.5)]
    assert pareto_front(noisy) == sorted(ANCHOR)
    assert bd_rate(ANCHOR, noisy) == pytest.approx(0.0, abs=1e-9)


def test_non_overlapping_curves_raise():
    low = [(0.1, 20.0), (0.2, 22.0)]
    high = [(2.0, 40.0), (4.0, 45.0)]
    with pytest.raises(InputError, match="overlap"):
        bd_rate(low, high)
    with pytest.raises(InputError, match="overlap"):
        bd_psnr(low, high)
    assert issubclass(InputError, ValueError)


def test_too_few_points_raise():
    with pytest.raises(InputError, match="at least 2"):
        bd_rate(ANCHOR, [(1.0, 30.0)])
    with pytest.raises(InputError, match="at least 2"):
        bd_psnr([(1.0, 30.0), (2.0, 29.0)], ANCHOR)  # the second point is dominated


def test_rate_range_limits_the_test_curve():
    from sirencodec.bench.bdrate import bd_psnr, bd_rate

    anchor = [(0.25, 28.0), (0.5, 31.0), (1.0, 34.0), (2.0, 37.0), (4.0, 40.0)]
    # The test curve needs 20 % fewer bits below 1 bpp and 20 % more above.
    test = [(r * (0.8 if r < 1.0 else 1.2 if r > 1.0 else 1.0), p) for r, p in anchor]
    low = bd_rate(anchor, test, rate_range=(0.2, 0.8))
    high = bd_rate(anchor, test, rate_range=(1.3, 4.8))
    assert low < -10 and high > 10
    assert low < bd_rate(anchor, test) < high
    # A range covering the whole curve changes nothing.
    assert bd_rate(anchor, test, rate_range=(0.01, 100)) == pytest.approx(bd_rate(anchor, test))
    assert bd_psnr(anchor, test, rate_range=(0.01, 100)) == pytest.approx(bd_psnr(anchor, test))
    with pytest.raises(InputError):
        bd_rate(anchor, test, rate_range=(1.0, 0.5))
