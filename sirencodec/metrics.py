"""Distortion metrics on decoded uint8 images: PSNR (the headline: over every sample, RGB for
colour), the YCbCr-weighted PSNR that image-coding papers also report, and SSIM."""

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


# JFIF's full-range BT.601 RGB -> YCbCr (ITU-T T.871 section 7), the offsets dropped (they
# cancel in a difference): rows Y, Cb, Cr.
YCBCR = np.array([[0.299, 0.587, 0.114],
                  [-0.299 / 1.772, -0.587 / 1.772, 0.5],
                  [0.5, -0.587 / 1.402, -0.114 / 1.402]])
YCBCR_WEIGHTS = (6.0, 1.0, 1.0)  # (6 PSNR_Y + PSNR_Cb + PSNR_Cr) / 8, as JPEG AI and VVC's reports weigh them


def psnr_ycbcr(reference: np.ndarray, decoded: np.ndarray) -> float:
    """The YCbCr-weighted PSNR of an RGB pair: each plane's PSNR (peak 255) after JFIF's
    full-range conversion in float (no rounding to 8 bits), weighted 6:1:1; NaN for a gray
    pair, which has no chroma; ``inf`` when a plane is exact."""
    _check_pair(reference, decoded)
    if reference.ndim != 3 or reference.shape[2] != 3:
        return math.nan
    diff = (reference.astype(np.float64) - decoded.astype(np.float64)) @ YCBCR.T
    planes = []
    for k in range(3):
        error = float(np.mean(diff[..., k] ** 2))
        planes.append(math.inf if error == 0.0 else 10.0 * math.log10(255.0**2 / error))
    return sum(w * p for w, p in zip(YCBCR_WEIGHTS, planes)) / sum(YCBCR_WEIGHTS)


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
