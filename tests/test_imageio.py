"""The one image check both encoders use, and the one atomic writer."""

import numpy as np
import pytest

from sirencodec.errors import InputError
from sirencodec.imageio import atomic_write, channels, check_image
from sirencodec.limits import MAX_DIMENSION


def test_check_image_accepts_gray_and_rgb_and_squeezes_one_channel():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert check_image(gray).shape == (3, 4) and channels(gray) == 1
    assert check_image(gray[:, :, None]).shape == (3, 4)
    assert np.array_equal(check_image(gray[:, :, None]), gray)
    rgb = np.zeros((3, 4, 3), np.uint8)
    assert check_image(rgb).shape == (3, 4, 3) and channels(rgb) == 3
    view = np.zeros((6, 8), np.uint8)[::2, ::2]
    assert check_image(view).flags["C_CONTIGUOUS"]


@pytest.mark.parametrize("bad", [np.zeros((3, 4), np.float32), np.zeros((3, 4, 2), np.uint8), np.zeros(5, np.uint8),
                                 np.zeros((0, 4), np.uint8), np.zeros((1, MAX_DIMENSION + 1), np.uint8),
                                 [[1, 2], [3, 4]]])
def test_check_image_refuses_what_no_encoder_takes(bad):
    with pytest.raises(InputError):
        check_image(bad)


def test_atomic_write_replaces_on_success_and_leaves_nothing_on_failure(tmp_path):
    path = tmp_path / "out.txt"
    with atomic_write(path, "w") as f:
        f.write("first\n")
    assert path.read_text() == "first\n"
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write(b"half")
            raise RuntimeError("interrupted")
    assert path.read_text() == "first\n" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
