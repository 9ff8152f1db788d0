"""Mask statistics against values worked out by hand on small masks."""

import numpy as np
import pytest

from mri_cs.utils import center_keep_fraction, radial_keep_profile

# On a 10 x 10 grid the central disc covering 10 % of k-space has radius sqrt(10 / pi) = 1.78 around (5, 5):
# the 3 x 3 block of rows and columns 4..6 (the corners are at distance 1.41, the next ring at 2).
DISC = [(y, x) for y in (4, 5, 6) for x in (4, 5, 6)]


def mask_with(points, shape=(10, 10)):
    mask = np.zeros(shape)
    for p in points:
        mask[p] = 1
    return mask


@pytest.mark.parametrize(
    "points, expected",
    [
        (DISC, 1.0),
        ([(5, 5)], 1 / 9),
        ([(4, 4), (6, 6), (5, 4)], 3 / 9),
        ([(3, 5), (7, 5), (5, 3), (5, 7), (0, 0)], 0.0),  # the ring just outside the disc, and a corner
    ],
)
def test_center_keep_fraction(points, expected):
    assert center_keep_fraction(mask_with(points)) == pytest.approx(expected)


def test_center_keep_fraction_of_the_complement():
    assert center_keep_fraction(1 - mask_with(DISC)) == 0.0
    assert center_keep_fraction(np.ones((10, 10))) == 1.0


def test_radial_keep_profile():
    # 10 x 10, 2 bins: radius r = hypot(dy / 5, dx / 5) with dy, dx in -5..4 from (5, 5), bin edges 0, 0.707, 1.414.
    # The inner bin holds dy^2 + dx^2 < 12.5: 7 (dy = 0) + 2 * 7 (|dy| = 1) + 2 * 5 (|dy| = 2) + 2 * 3 (|dy| = 3) = 37
    # positions; the outer bin the other 63.
    radius, kept = radial_keep_profile(mask_with([(0, x) for x in range(10)]), bins=2)  # row 0: dy = -5, all outer
    np.testing.assert_allclose(radius, [np.sqrt(2) / 4, 3 * np.sqrt(2) / 4])
    np.testing.assert_allclose(kept, [0.0, 10 / 63])
    inner = [(y, x) for y in range(10) for x in range(10) if (y - 5) ** 2 + (x - 5) ** 2 < 12.5]
    assert len(inner) == 37
    np.testing.assert_allclose(radial_keep_profile(mask_with(inner), bins=2)[1], [1.0, 0.0])
    np.testing.assert_allclose(radial_keep_profile(mask_with([(5, 5), (5, 6)]), bins=2)[1], [2 / 37, 0.0])
