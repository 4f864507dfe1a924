"""Reading the benchmark's input images as uint8 arrays."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from sirencodec.errors import InputError


def read_image(path: str | os.PathLike[str]) -> tuple[np.ndarray, list[str]]:
    """Pixels (uint8 [H, W] or [H, W, 3]) and notes about conversions, via sirencodec's reader.

    Falls back to a plain Pillow reader when ``sirencodec.imageio`` is unavailable.
    Any unreadable input raises :class:`InputError`.
    """
    try:
        from sirencodec.imageio import load_image
    except ImportError:
        return _pillow_read(Path(path)), []
    try:
        result = load_image(path)
    except InputError as error:
        message = str(error)
        raise InputError(message if str(path) in message else f"{path}: {message}") from None
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read image {path}: {error}") from None
    if isinstance(result, tuple):
        pixels, notes = result
        return np.asarray(pixels, dtype=np.uint8), list(notes)
    return np.asarray(result, dtype=np.uint8), []


def _pillow_read(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            image.load()
            mode = "L" if image.mode in ("1", "L", "LA", "I", "I;16") else "RGB"
            return np.asarray(image.convert(mode), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as error:
        raise InputError(f"cannot read image {path}: {error}") from None
