"""Encode an image as a SIREN file of a fixed network: train (fit, AGP prune, QAT), write,
decode, measure.  Rate control, which chooses the network itself: ``ratecontrol``."""

from __future__ import annotations

import time

import numpy as np

from ..device import resolve_device
from ..errors import FormatError, InputError
from ..format.siren_v3 import QuantizedNetwork, check_work, count_weights, pack
from ..imageio import channels, check_image
from ..progress import Progress
from ..result import EncodeResult, finish
from .config import PRESETS, FitConfig


def encode_siren(image: np.ndarray, config: FitConfig | None = None, device: str = "auto",
                 progress: Progress | None = None) -> EncodeResult:
    """Encode a uint8 [H, W] or [H, W, 3] image with ``config``'s network (default: the
    "default" preset)."""
    from .fit import fit_network

    config = PRESETS["default"] if config is None else config
    image = check_image(image)
    check_network_fits(image, config)
    dev = resolve_device(device)
    start = time.perf_counter()
    fitted = fit_network(image, config, dev, progress)
    return finish_siren(image, fitted.network, fitted.config, dev, start, fitted.stage_seconds, fitted.restarts)


def check_network_fits(image: np.ndarray, config: FitConfig) -> None:
    """InputError, before training, if the decoder's work limit would refuse this network's file."""
    try:
        check_work(image.shape[1], image.shape[0],
                   count_weights(config.hidden_width, config.hidden_layers, channels(image)))
    except FormatError as exc:
        raise InputError(str(exc)) from None


def finish_siren(image: np.ndarray, net: QuantizedNetwork, config: FitConfig, device, start: float,
                 stage_seconds: dict[str, float], restarts: int, extra: dict | None = None) -> EncodeResult:
    """Write ``net``, decode the file with the real decoder and report (``result.finish``)."""
    layers = []
    for i, layer in enumerate(net.layers):
        mask = layer.weight.mask
        layers.append({"index": i, "shape": list(mask.shape), "bits": layer.weight.bits,
                       "sparsity": float(1.0 - mask.mean()), "bias_dtype": layer.bias_dtype})
    pruned = sum(int(ly.weight.mask.size - ly.weight.mask.sum()) for ly in net.layers)
    network = {"channels": net.channels, "hidden_width": net.hidden_width, "hidden_layers": net.hidden_layers,
               "sparsity": pruned / net.num_weights, "layers": layers, "restarts": restarts}
    return finish(image, lambda: pack(net), kind="siren", network=network, seconds=stage_seconds, start=start,
                  device=device, config=config, extra=extra)
