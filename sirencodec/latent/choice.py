"""Per-image choice among latent networks (``--effort best``): every candidate network is
trained and written, and the image keeps the file that does best at the encode's aim, judged
on the real file and what the real decoder returns from it:

* at a fixed rate weight (``--quality``, ``--lam``): the lowest ``D + lam * bpp``, the training
  loss itself (D the training's distortion of pixels in [0, 1]);
* at ``--target-bpp`` (every candidate's file within the budget): the highest PSNR;
* at ``--target-psnr`` (every candidate's file at the target or above): the fewest bytes.

A candidate that cannot be encoded (an InputError: a target out of its reach, a network over
the decoder's cost limit) is left out; if none can, the first one's error is raised. The
candidates are ``config.CHOICES``' variants of the effort level's network; those that coincide
on an image (``colour`` on a gray one) are trained once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from ..metrics import distortion
from ..progress import Progress, prefixed
from ..result import EncodeResult
from .config import LatentConfig, check_config


def candidate_configs(config: LatentConfig, variants: Sequence[Mapping[str, Any]],
                      fixed: Collection[str] = ()) -> tuple[LatentConfig, ...]:
    """``config`` with each of ``variants``' fields replaced, except the fields in ``fixed``
    (those the caller set), each checked (``check_config``); duplicates dropped, order kept."""
    out: list[LatentConfig] = []
    for variant in variants or ({},):
        candidate = check_config(dataclasses.replace(config, **{k: v for k, v in variant.items() if k not in fixed}))
        if candidate not in out:
            out.append(candidate)
    return tuple(out)


def for_image(candidates: Sequence[LatentConfig], channels: int) -> list[LatentConfig]:
    """The distinct networks ``candidates`` train on an image of ``channels`` planes: a gray
    image has one plane, so its synthesis' ``colour`` is moot."""
    out: list[LatentConfig] = []
    for candidate in candidates:
        if channels == 1:
            candidate = dataclasses.replace(candidate, colour="rgb")
        if candidate not in out:
            out.append(candidate)
    return out


def _key(result: EncodeResult, image: np.ndarray, mode: str) -> tuple:
    """What ``choose`` minimises for an encode of ``mode``."""
    r = result.report
    if mode == "target_bpp":
        return (-r["psnr"], r["bytes"])
    if mode == "target_psnr":
        return (r["bytes"], -r["psnr"])
    kind = r["config"]["distortion"]
    return (distortion(image, result.decoded, kind) / 255.0**2 + r["lam"] * r["bpp"], r["bytes"])


def _options(candidate: dict, first: dict) -> dict:
    """The fields in which a candidate's config differs from the first candidate's."""
    return {k: v for k, v in candidate.items() if k != "lam" and first.get(k) != v}


def choose(image: np.ndarray, outcomes: Sequence[EncodeResult | InputError], mode: str) -> EncodeResult:
    """The best of ``outcomes`` (each candidate's result, or the InputError its encode raised)
    for ``mode``, its report given ``choice``: every candidate's options (the fields in which
    it differs from the first), bytes, PSNR (and cost, at a fixed rate weight), and which was
    kept; ``seconds.total`` becomes the time of all of them."""
    results = [(i, o) for i, o in enumerate(outcomes) if isinstance(o, EncodeResult)]
    if not results:
        raise outcomes[0]
    if len(outcomes) == 1:
        return outcomes[0]
    keys = {i: _key(result, image, mode) for i, result in results}
    chosen = min(keys, key=lambda i: (keys[i], i))
    by = {"target_bpp": "psnr", "target_psnr": "bytes"}.get(mode, "cost")
    first = next(r for _, r in results).report["config"]
    listed = []
    for i, outcome in enumerate(outcomes):
        if isinstance(outcome, EncodeResult):
            r = outcome.report
            listed.append({"options": _options(r["config"], first), "bytes": r["bytes"], "psnr": r["psnr"],
                           **({"cost": keys[i][0]} if by == "cost" else {}), "seconds": r["seconds"]["total"]})
        else:
            listed.append({"error": str(outcome)})
    best = outcomes[chosen]
    best.report["choice"] = {"chosen": chosen, "by": by, "candidates": listed}
    best.report["seconds"] = {**best.report["seconds"], "chosen": best.report["seconds"]["total"],
                              "total": round(sum(c.get("seconds", 0.0) for c in listed), 3)}
    return best


def encode_choice(image: np.ndarray, candidates: Sequence[LatentConfig], mode: str,
                  encode_one: Callable[[LatentConfig, Progress | None], EncodeResult],
                  progress: Progress | None = None) -> EncodeResult:
    """Encode ``image`` with each candidate in turn (``encode_one(config, progress)``) and keep
    the best for ``mode`` (``choose``); progress stages are prefixed "net i/n"."""
    outcomes: list[EncodeResult | InputError] = []
    for i, config in enumerate(candidates):
        label = prefixed(progress, f"net {i + 1}/{len(candidates)}") if len(candidates) > 1 else progress
        try:
            outcomes.append(encode_one(config, label))
        except InputError as exc:
            outcomes.append(exc)
    return choose(image, outcomes, mode)


def encode_choices_many(images: Sequence[np.ndarray], candidates: Sequence[Sequence[LatentConfig]], mode: str,
                        device: str = "auto", progress: Progress | None = None, batch: int | None = None,
                        workers: int | None = None,
                        on_result: Callable[[int, EncodeResult], None] | None = None) -> list[EncodeResult]:
    """Each image encoded at a fixed rate weight by each of its ``candidates`` (configs with
    ``lam`` set), the best kept (``choose``); every (image, candidate) network trains in
    ``encode.encode_latent_many``'s batches (networks of one shape and training together).
    Results in input order; ``on_result(index, result)`` as each image's last candidate is done."""
    from .encode import encode_latent_many, latent_input

    jobs: list[tuple[int, int]] = []
    outcomes: list[list[EncodeResult | InputError | None]] = []
    for index, (image, configs) in enumerate(zip(images, candidates)):
        outcomes.append([None] * len(configs))
        for k, config in enumerate(configs):
            try:
                latent_input(image, config)
            except InputError as exc:
                outcomes[index][k] = exc
                continue
            jobs.append((index, k))
    results: list[EncodeResult | None] = [None] * len(images)

    def complete(index: int) -> None:
        if all(o is not None for o in outcomes[index]):
            results[index] = choose(images[index], outcomes[index], mode)
            if on_result is not None:
                on_result(index, results[index])

    def trained(job: int, result: EncodeResult) -> None:
        index, k = jobs[job]
        outcomes[index][k] = result
        complete(index)

    training = {i for i, _ in jobs}
    for index in range(len(images)):  # images none of whose candidates can train
        if index not in training:
            complete(index)
    if jobs:
        encode_latent_many([images[i] for i, _ in jobs], [candidates[i][k] for i, k in jobs], device, progress,
                           batch, workers, trained)
    return results
