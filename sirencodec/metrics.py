"""Distortion metrics on decoded uint8 images: PSNR (the headline) and SSIM."""

from __future__ import annotations

import math

import numpy as np
from skimage.metrics import structural_similarity

from sirencodec.errors import InputError


def _check_pair(reference: np.ndarray, decoded: np.ndarray) -> None:
    if reference.shape != decoded.shape:
        raise InputError(f"decoded shape {decoded.shape} differs from the original {reference.shape}")
    if reference.dtype != np.uint8 or decoded.dtype != np.uint8:
        raise InputError("metrics are defined on uint8 images only")


def mse(reference: np.ndarray, decoded: np.ndarray) -> float:
    """Mean squared error over all samples (pixel values as stored: 0..255 for uint8)."""
    _check_pair(reference, decoded)
    diff = reference.astype(np.float64) - decoded.astype(np.float64)
    return float(np.mean(diff * diff))


def psnr(reference: np.ndarray, decoded: np.ndarray) -> float:
    """``10 * log10(255**2 / MSE)`` over all samples; ``inf`` for identical images."""
    error = mse(reference, decoded)
    return math.inf if error == 0.0 else 10.0 * math.log10(255.0**2 / error)


def ssim(reference: np.ndarray, decoded: np.ndarray) -> float:
    """scikit-image SSIM (data_range 255, 7x7 window shrunk for tiny images); NaN below 3 px."""
    _check_pair(reference, decoded)
    side = min(reference.shape[0], reference.shape[1])
    window = min(7, side if side % 2 else side - 1)
    if window < 3:
        return math.nan
    channel_axis = 2 if reference.ndim == 3 else None
    return float(
        structural_similarity(
            reference, decoded, data_range=255, channel_axis=channel_axis, win_size=window
        )
    )
