"""The coordinate grid, exactly as `format_spec.md` section 3 defines it.

Pixel (row r, column c) of an H x W image sits at its centre:

    x = (2c + 1) / W - 1        y = (2r + 1) / H - 1

so the image covers the square [-1, 1]^2 for any W and H (W = 1 gives x = 0), and a
rendering at another resolution samples the same continuous function.  Input feature 0
is x, feature 1 is y; pixels are listed in row-major order.  The encoder (torch) and the
decoder (numpy) both take the grid from here.
"""

import numpy as np


def axis(n: int) -> np.ndarray:
    """Pixel-centre positions of an axis of ``n`` samples in [-1, 1], float32 [n]."""
    # Computed in float64 and rounded once, so every implementation gets identical values.
    return ((2.0 * np.arange(n, dtype=np.float64) + 1.0) / n - 1.0).astype(np.float32)


def rows_coordinates(height: int, width: int, row_start: int, row_stop: int) -> np.ndarray:
    """Coordinates of rows ``row_start:row_stop`` of an H x W grid, float32 [(stop-start)*W, 2]."""
    xs = axis(width)
    ys = axis(height)[row_start:row_stop]
    out = np.empty((len(ys), width, 2), dtype=np.float32)
    out[:, :, 0] = xs[None, :]
    out[:, :, 1] = ys[:, None]
    return out.reshape(-1, 2)


def coordinates(height: int, width: int) -> np.ndarray:
    """All pixel coordinates of an H x W image in row-major order, float32 [H*W, 2]."""
    return rows_coordinates(height, width, 0, height)
