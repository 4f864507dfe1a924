"""Reading the benchmark's input images as uint8 arrays (through sirencodec's reader)."""

from __future__ import annotations

import os

import numpy as np

from sirencodec.errors import InputError
from sirencodec.imageio import load_image


def read_image(path: str | os.PathLike[str]) -> tuple[np.ndarray, list[str]]:
    """Pixels (uint8 [H, W] or [H, W, 3]) and notes about conversions; InputError naming
    the file if it cannot be read."""
    try:
        return load_image(path)
    except InputError as error:
        message = str(error)
        raise InputError(message if str(path) in message else f"{path}: {message}") from None
