"""What an encode returns, and the one path that measures it.

The encoder closes the loop the way a codec must: the report's bytes, bpp, PSNR and SSIM come
from the file it just wrote, decoded by the real (numpy) decoder, never from the training
network or a parameter count.  Both codecs build their result with :func:`finish`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .decoder import decode
from .metrics import psnr, ssim


@dataclass
class EncodeResult:
    data: bytes  # the complete .srn file
    decoded: np.ndarray  # what decode(data) returns, uint8 like the input
    report: dict = field(default_factory=dict)  # what srnenc --json prints (without "file")


def finish(image: np.ndarray, write: Callable[[], bytes], *, kind: str, network: dict[str, Any],
           seconds: dict[str, float], start: float, device: Any, config: Any,
           extra: dict[str, Any] | None = None) -> EncodeResult:
    """Write the file (``write()``), decode it with the real decoder, and report.

    ``kind``: "latent" or "siren"; ``network``: report fields describing the network written;
    ``seconds``: the encoder's stage times; ``start``: ``time.perf_counter()`` when the encode
    began; ``config``: the settings trained with (a dataclass); ``extra``: rate control's fields."""
    t = time.perf_counter()
    data = write()
    write_s = time.perf_counter() - t
    t = time.perf_counter()
    decoded = decode(data)
    decode_s = time.perf_counter() - t
    h, w = image.shape[:2]
    report = {
        "bytes": len(data),
        "bpp": 8 * len(data) / (h * w),
        "psnr": psnr(image, decoded),
        "ssim": ssim(image, decoded),
        "width": w,
        "height": h,
        "kind": kind,
        **network,
        "device": str(device),
        "seconds": {**{k: round(v, 3) for k, v in seconds.items()}, "write": round(write_s, 3),
                    "decode": round(decode_s, 3), "total": round(time.perf_counter() - start, 3)},
        "config": dataclasses.asdict(config),
        **(extra or {}),
    }
    return EncodeResult(data, decoded, report)


def json_safe(value: Any) -> Any:
    """``value`` as strict JSON can hold it: non-finite floats (the PSNR of an exact decode)
    as None, numpy scalars as numbers, other odd objects as strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, np.ndarray):
        return f"<array {value.shape} {value.dtype}>"
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)
