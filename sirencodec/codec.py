"""encode(image, config) -> EncodeResult: train, write the file, decode it, measure.

The encoder closes the loop the way a codec must: the report's bytes, bpp, PSNR and SSIM
come from the file it just wrote, decoded by the real (numpy) decoder — never from the
training network or a parameter count.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .bitstream import pack
from .config import PRESETS, FitConfig
from .decoder import decode
from .errors import InputError
from .fit import Progress, fit_network
from .metrics import psnr, ssim
from .network import QuantizedNetwork, check_work, count_weights


@dataclass
class EncodeResult:
    data: bytes  # the complete .srn file
    decoded: np.ndarray  # what decode(data) returns, uint8 like the input
    report: dict = field(default_factory=dict)


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA when present; 'cuda' without a GPU is an input error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda requested but no CUDA device is available")
    if name not in ("cpu", "cuda"):
        raise InputError(f"device must be auto, cpu or cuda, got '{name}'")
    return torch.device(name)


def encode(image: np.ndarray, config: FitConfig | None = None, device: str = "auto",
           progress: Progress | None = None) -> EncodeResult:
    """Encode a uint8 [H, W] or [H, W, 3] image.  ``progress(stage, step, total, psnr)``."""
    config = PRESETS["default"] if config is None else config
    if isinstance(image, np.ndarray) and image.ndim in (2, 3):
        # Refuse up front a network the decoder's work limit would reject after training.
        channels = 1 if image.ndim == 2 else image.shape[2]
        check_work(image.shape[1], image.shape[0], count_weights(config.hidden_width, config.hidden_layers, channels))
    dev = resolve_device(device)
    start = time.perf_counter()
    fitted = fit_network(image, config, dev, progress)
    return finish(image, fitted.network, fitted.config, dev, start, fitted.stage_seconds, fitted.restarts)


def finish(image: np.ndarray, net: QuantizedNetwork, config: FitConfig, dev: torch.device, start: float,
           stage_seconds: dict[str, float], restarts: int, extra: dict | None = None) -> EncodeResult:
    """Write ``net`` to bytes, decode them with the real decoder and build the report.

    ``start``: ``time.perf_counter()`` when the encode began; ``extra``: report fields added
    by the caller (rate control's search)."""
    data, decoded, measured = _write_and_measure(image, pack, net)
    io_seconds = measured.pop("seconds")
    layers = []
    for i, layer in enumerate(net.layers):
        mask = layer.weight.mask
        layers.append({"index": i, "shape": list(mask.shape), "bits": layer.weight.bits,
                       "sparsity": float(1.0 - mask.mean()), "bias_dtype": layer.bias_dtype})
    total_weights = net.num_weights
    pruned = sum(int(mask.size - mask.sum()) for mask in (ly.weight.mask for ly in net.layers))
    report = {
        **measured,
        "channels": net.channels,
        "hidden_width": net.hidden_width,
        "hidden_layers": net.hidden_layers,
        "sparsity": pruned / total_weights,
        "layers": layers,
        "device": str(dev),
        "seconds": {**{k: round(v, 3) for k, v in stage_seconds.items()}, **io_seconds,
                    "total": round(time.perf_counter() - start, 3)},
        "restarts": restarts,
        "config": dataclasses.asdict(config),
        **(extra or {}),
    }
    return EncodeResult(data, decoded, report)


def _write_and_measure(image: np.ndarray, writer, net) -> tuple[bytes, np.ndarray, dict]:
    """``writer(net)`` -> bytes, decoded by the real decoder: (data, decoded, the report's
    rate, quality and write/decode times) — every figure from the file itself."""
    t = time.perf_counter()
    data = writer(net)
    write_s = time.perf_counter() - t
    t = time.perf_counter()
    decoded = decode(data)
    decode_s = time.perf_counter() - t
    h, w = image.shape[:2]
    return data, decoded, {
        "bytes": len(data),
        "bpp": 8 * len(data) / (h * w),
        "psnr": psnr(image, decoded),
        "ssim": ssim(image, decoded),
        "width": w,
        "height": h,
        "seconds": {"write": round(write_s, 3), "decode": round(decode_s, 3)},
    }


def latent_input(image: np.ndarray, config) -> np.ndarray:
    """``image`` as the latent encoder trains on it ([H, W] or [H, W, 3]); InputError unless
    it and ``config`` can be encoded as a latent-grid network."""
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim in (2, 3)):
        raise InputError("expected a uint8 [H, W] or [H, W, C] image")
    if image.ndim == 3 and image.shape[2] not in (1, 3):
        raise InputError(f"expected 1 or 3 channels, got {image.shape[2]}")
    if config.steps < 1 or config.lam <= 0:
        raise InputError(f"latent encoding needs steps >= 1 and lam > 0, got {config.steps} and {config.lam}")
    return image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image


def encode_latent(image: np.ndarray, config=None, device: str = "auto",
                  progress: Progress | None = None, bits: int | None = None) -> EncodeResult:
    """Encode a uint8 image (gray or RGB) as a latent-grid network (format version 4) at the
    rate weight ``config.lam``: train (``latentfit.fit_latent``), quantize the weights (each
    layer's width chosen on real files by ``latentfit.choose_bits``, or ``bits`` for every
    layer), write, decode, measure. ``progress(stage, step, total, psnr)`` as for ``encode``.
    Rate control (``--quality``, ``--target-bpp``, ``--target-psnr``): ``latentrate``."""
    from .latentfit import LatentConfig, fit_latent

    config = LatentConfig() if config is None else config
    image = latent_input(image, config)
    dev = resolve_device(device)
    start = time.perf_counter()
    fitted = fit_latent(image, config, str(dev), latent_progress(progress))
    return finish_latent(image, fitted, config, dev, start, bits)


def latent_progress(progress: Progress | None):
    return None if progress is None else (lambda s, n, p, b: progress("latent", s, n, p))


def finish_latent(image: np.ndarray, fitted, config, dev: torch.device, start: float, bits: int | None = None,
                  chosen: tuple | None = None, extra: dict | None = None) -> EncodeResult:
    """Quantize ``fitted`` (``chosen``: (widths, network, bytes) from rate control's search,
    whose bytes are rewritten by the real writer), write, decode with the real decoder and
    build the report."""
    from .bitstream import pack_latent
    from .latentfit import choose_bits, export

    t = time.perf_counter()
    writer = pack_latent
    if chosen is not None:
        widths, net, _ = chosen
    elif bits is None:
        widths, net, written = choose_bits(fitted, image, fitted.lam, pack_latent)
        writer = lambda _: written  # noqa: E731 - choose_bits already wrote the real file
    else:
        net = export(fitted, bits)
        widths = [ly.weight.bits for ly in net.synthesis + ([net.conv] if net.conv else []) + net.arm]
    choose_s = time.perf_counter() - t
    data, decoded, measured = _write_and_measure(image, writer, net)
    io_seconds = measured.pop("seconds")
    report = {
        **measured,
        "channels": net.channels,
        "kind": "latent",
        "levels": len(net.grids),
        "latents_nonzero": [int(np.count_nonzero(g)) for g in net.grids],
        "layer_bits": widths,
        "lam": fitted.lam,
        "device": str(dev),
        "seconds": {"fit": round(fitted.seconds, 3), "bits": round(choose_s, 3), **io_seconds,
                    "total": round(time.perf_counter() - start, 3)},
        "config": dataclasses.asdict(config),
        **(extra or {}),
    }
    return EncodeResult(data, decoded, report)
