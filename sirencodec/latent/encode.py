"""Encode an image as a latent-grid file at a fixed rate weight: train, choose each layer's bit
width, write, decode, measure.  Rate control (``--quality``, ``--target-bpp``,
``--target-psnr``), which chooses the rate weight: ``ratecontrol``."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import numpy as np

from ..device import resolve_device
from ..errors import FormatError, InputError
from ..format import arm as sarm
from ..format import latent_v4
from ..imageio import check_image
from ..limits import check_cost
from ..progress import Progress
from ..result import EncodeResult, finish
from .config import LatentConfig, chroma_grids, grid_levels


def encode_latent(image: np.ndarray, config: LatentConfig | None = None, device: str = "auto",
                  progress: Progress | None = None, bits: int | None = None) -> EncodeResult:
    """Encode a uint8 image (gray or RGB) at the rate weight ``config.lam``: train
    (``fit.fit_latent``), quantize the weights (each layer's width chosen on real files by
    ``export.choose_bits``, or ``bits`` for every layer), write, decode, measure."""
    from .fit import fit_latent

    config = LatentConfig() if config is None else config
    image = latent_input(image, config)
    dev = resolve_device(device)
    start = time.perf_counter()
    fitted = fit_latent(image, config, str(dev), progress)
    return finish_latent(image, fitted, config, dev, start, bits)


def encode_latent_many(images: Sequence[np.ndarray], configs: Sequence[LatentConfig], device: str = "auto",
                       progress: Progress | None = None, batch: int | None = None, workers: int | None = None,
                       on_result: Callable[[int, EncodeResult], None] | None = None) -> list[EncodeResult]:
    """Encode each image at its config: the networks of one image shape and one training (the
    configs may differ in ``lam`` and ``seed``) train in batches of at most ``batch`` (default:
    as many as memory holds, ``batching.batch_limit``), and ``workers`` processes (default:
    one per core) finish the files: on a GPU while the next batch trains, on a CPU (whose
    cores the training uses) before it. Results in input order; ``on_result(index, result)``
    as each is done."""
    from ..batching import Finisher, batch_limit, batches, default_workers

    images = [latent_input(image, config) for image, config in zip(images, configs)]
    dev = resolve_device(device)
    keys = [(image.shape, dataclasses.replace(c, lam=0.0, seed=0)) for image, c in zip(images, configs)]
    groups = batches(keys, lambda key: batch_limit(*key[0][:2], dev, batch))
    results: list[EncodeResult | None] = [None] * len(images)
    workers = default_workers(len(images)) if workers is None else workers
    with Finisher(min(workers, len(images))) as finisher:
        pending: list[tuple[int, Future]] = []

        def collect(wait_all: bool) -> None:
            while pending and (wait_all or pending[0][1].done()):
                index, future = pending.pop(0)
                results[index] = future.result()
                if on_result is not None:
                    on_result(index, results[index])

        for indices in groups:
            futures = _train_batch([images[i] for i in indices], [configs[i] for i in indices], dev, progress, finisher)
            pending += list(zip(indices, futures))
            collect(wait_all=dev.type != "cuda")
        collect(wait_all=True)
    return results


def _train_batch(images: Sequence[np.ndarray], configs: Sequence[LatentConfig], dev, progress: Progress | None,
                 finisher) -> list[Future]:
    """Train one batch, and submit its files' finishing to ``finisher``."""
    from .fit import fit_latent_batch

    start = time.perf_counter()
    fits = fit_latent_batch(images, configs, str(dev), progress)
    share = (time.perf_counter() - start) / len(fits)
    for fitted in fits:
        fitted.seconds = share
    extra = {"batch": len(fits)}
    return [finisher.submit(finish_latent, image, fitted, config, dev, None, None, None, extra)
            for image, fitted, config in zip(images, fits, configs)]


def latent_input(image: np.ndarray, config: LatentConfig) -> np.ndarray:
    """``image`` as the latent encoder trains on it (``imageio.check_image``); InputError unless
    it and ``config`` can be encoded."""
    image = check_image(image)
    if config.steps < 1 or config.lam <= 0:
        raise InputError(f"latent encoding needs steps >= 1 and lam > 0, got {config.steps} and {config.lam}")
    check_network_fits(image, config)
    return image


def check_network_fits(image: np.ndarray, config: LatentConfig) -> None:
    """InputError, before training, if the file of this network could exceed the decoder's cost
    limit (with every grid at the widest alphabet, as a writer may have to code it)."""
    h, w = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    levels = grid_levels(h, w, config)
    chroma_grids(levels, config, channels)  # (InputError if a split synthesis has no chroma grid)
    synth = [len(levels), *config.hidden, channels]
    arm_dims = [config.context + config.channel_context, *config.arm_hidden, 2]
    cost = latent_v4.decode_cost(w, h, channels, levels, list(zip(synth[1:], synth[:-1])), config.conv,
                                 list(zip(arm_dims[1:], arm_dims[:-1])), [sarm.MAX_REACH] * len(levels),
                                 config.upsampling == "learned" and max(levels) > 0)
    try:
        check_cost(cost, f"a {w}x{h} image from this latent network")
    except FormatError as exc:
        raise InputError(f"{exc}; encode a smaller image or tiles of it") from None


def finish_latent(image: np.ndarray, fitted, config: LatentConfig, device, start: float | None,
                  bits: int | None = None, chosen: tuple | None = None, extra: dict | None = None) -> EncodeResult:
    """Quantize ``fitted`` (``chosen``: (widths, network, bytes) from rate control's search,
    whose bytes are rewritten by the real writer), write, decode with the real decoder and
    report (``result.finish``). ``start``: when the encode began (None: ``fitted.seconds`` ago)."""
    from .export import choose_bits, export

    t = time.perf_counter()
    if start is None:
        start = t - fitted.seconds
    write = None
    if chosen is not None:
        widths, net, _ = chosen
    elif bits is None:
        widths, net, written = choose_bits(fitted, image, fitted.lam, latent_v4.pack)
        write = lambda: written  # noqa: E731 - choose_bits already wrote the real file
    else:
        net = export(fitted, bits)
        widths = [ly.weight.bits for ly, _ in latent_v4.latent_layers(net)]
        widths += [net.upsampling.bits] if net.upsampling is not None else []
    choose_s = time.perf_counter() - t
    network = {"channels": net.channels, "levels": len(net.grids), "grid_levels": list(net.grid_levels),
               "latents_nonzero": [int(np.count_nonzero(g)) for g in net.grids], "layer_bits": widths,
               "lam": fitted.lam, "engine": fitted.engine}
    return finish(image, write or (lambda: latent_v4.pack(net)), kind="latent", network=network,
                  seconds={"fit": fitted.seconds, "bits": choose_s}, start=start, device=device, config=config,
                  extra=extra)
