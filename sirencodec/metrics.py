"""Distortion metrics on decoded uint8 images: PSNR (the headline: over every sample, RGB for
colour), the YCbCr-weighted PSNR that image-coding papers also report, and SSIM."""

from __future__ import annotations

import math

import numpy as np

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


DISTORTIONS = ("rgb", "ycbcr")
"""What a latent network's training minimises: ``rgb`` the MSE over every sample (what PSNR
measures), ``ycbcr`` the MSE of JFIF's YCbCr planes weighted 6:1:1 (what ``psnr_ycbcr``
weighs; it loses on both PSNRs, docs/results/levers/README.md). Both are the plain MSE on a
gray image."""


def distortion_mix(kind: str, channels: int) -> np.ndarray | None:
    """None for the plain MSE (``rgb``, or one channel); for ``ycbcr`` the [3, 3] matrix
    A = diag(sqrt(w / sum w)) @ YCBCR with distortion = sum_k mean((A e)_k ** 2) for per-pixel
    errors e. InputError for an unknown ``kind``."""
    if kind not in DISTORTIONS:
        raise InputError(f"unknown distortion {kind!r}; choose from {', '.join(DISTORTIONS)}")
    if kind == "rgb" or channels == 1:
        return None
    if channels != 3:
        raise InputError(f"the ycbcr distortion needs 1 or 3 channels, got {channels}")
    weights = np.asarray(YCBCR_WEIGHTS) / sum(YCBCR_WEIGHTS)
    return np.sqrt(weights)[:, None] * YCBCR


def distortion(reference: np.ndarray, decoded: np.ndarray, kind: str = "rgb") -> float:
    """The distortion ``kind`` (``DISTORTIONS``) of a uint8 pair, in squared pixel values:
    ``mse`` for ``rgb`` or a gray pair, the 6:1:1-weighted YCbCr MSE for ``ycbcr``."""
    _check_pair(reference, decoded)
    mix = distortion_mix(kind, 1 if reference.ndim == 2 else reference.shape[2])
    if mix is None:
        return mse(reference, decoded)
    diff = (reference.astype(np.float64) - decoded.astype(np.float64)) @ mix.T
    return float(np.sum(np.mean(diff * diff, axis=(0, 1))))


def ssim(reference: np.ndarray, decoded: np.ndarray) -> float:
    """scikit-image SSIM (data_range 255, 7x7 window shrunk for tiny images); NaN below 3 px."""
    _check_pair(reference, decoded)
    side = min(reference.shape[0], reference.shape[1])
    window = min(7, side if side % 2 else side - 1)
    if window < 3:
        return math.nan
    channel_axis = 2 if reference.ndim == 3 else None
    from skimage.metrics import structural_similarity  # (scikit-image loads slowly; only SSIM needs it)

    return float(
        structural_similarity(
            reference, decoded, data_range=255, channel_axis=channel_axis, win_size=window
        )
    )
