"""Encode an image as a SIREN file of a fixed network: train (fit, AGP prune, QAT), write,
decode, measure.  Rate control, which chooses the network itself: ``ratecontrol``."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from ..device import resolve_device
from ..errors import FormatError, InputError
from ..format.siren_v3 import QuantizedNetwork, check_work, pack
from ..imageio import channels, check_image
from ..progress import Progress
from ..result import EncodeResult, finish
from .config import PRESETS, FitConfig

# Training memory per pixel, network, layer and hidden unit: the forward keeps each layer's
# pre-activation and sine (float32) and the backward adds a gradient of each (an estimate).
SIREN_BYTES_PER_UNIT = 16


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


def encode_siren_many(images: Sequence[np.ndarray], configs: Sequence[FitConfig], device: str = "auto",
                      progress: Progress | None = None, batch: int | None = None, workers: int | None = None,
                      on_result: Callable[[int, EncodeResult], None] | None = None) -> list[EncodeResult]:
    """Encode each image with its config's fixed network: networks of one image shape and one
    ``batch.SHARED`` training (any widths) train together (``batch.fit_network_batch``), at most ``batch``
    per batch (default: as many as memory holds), then each file is written, decoded and
    measured on ``workers`` processes. Results in input order; ``on_result(index, result)`` as
    each is done. Each report's stage seconds are the network's share of its batch's."""
    from ..batching import Finisher, batch_limit, batches, default_workers
    from .batch import batch_key, fit_network_batch

    images = [check_image(image) for image in images]
    for image, config in zip(images, configs):
        check_network_fits(image, config)
    dev = resolve_device(device)
    keys = [(image.shape, batch_key(config)) for image, config in zip(images, configs)]

    def limit(key: tuple) -> int:
        group = [c for k, c in zip(keys, configs) if k == key]  # one depth; a batch pads to the widest
        config = max(group, key=lambda c: c.hidden_width)
        per_pixel = SIREN_BYTES_PER_UNIT * config.hidden_width * (config.hidden_layers + 2)
        pixels = min(key[0][0] * key[0][1], config.batch_pixels)
        return batch_limit(pixels, 1, dev, batch, per_pixel)

    results: list[EncodeResult | None] = [None] * len(images)
    workers = default_workers(len(images)) if workers is None else workers
    with Finisher(min(workers, len(images))) as finisher:
        for indices in batches(keys, limit):
            start = time.perf_counter()
            fits = fit_network_batch([images[i] for i in indices], [configs[i] for i in indices], dev, progress)
            began = time.perf_counter() - (time.perf_counter() - start) / len(indices)  # its share
            futures = [finisher.submit(finish_siren, images[i], fitted.network, fitted.config, dev, began,
                                       fitted.stage_seconds, fitted.restarts, {"batch": len(indices)})
                       for i, fitted in zip(indices, fits)]
            for i, future in zip(indices, futures):
                results[i] = future.result()
                if on_result is not None:
                    on_result(i, results[i])
    return results


def check_network_fits(image: np.ndarray, config: FitConfig) -> None:
    """InputError, before training, if the decoder's cost limit would refuse this network's file."""
    try:
        check_work(image.shape[1], image.shape[0], config.hidden_width, config.hidden_layers, channels(image))
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
