"""``encode``: what ``srnenc`` does, as a function; ``srnenc`` is a thin layer over it.

    result = sirencodec.encode(image)                          # the latent network, quality 5
    result = sirencodec.encode(image, target_bpp=0.8)          # its rate control
    result = sirencodec.encode(image, network="siren", quality=3)
    result = sirencodec.encode(image, preset="fast", bits=9)   # a fixed SIREN
    result.data, result.decoded, result.report                 # file bytes, its decode, the report

Keyword arguments carry srnenc's option names (``--target-bpp`` is ``target_bpp``).  The
network kind is ``network`` if given, else a SIREN when any SIREN option (``preset``,
``width``, ``bits``, ``prune``, ...) is given, else the latent network.  Rate is set by one of
``quality`` (1..8, the default mode), ``target_bpp``, ``target_psnr``, or for the latent network
``lam`` (a fixed rate weight); for a SIREN, a preset or network option without a rate option
encodes that fixed network.  :func:`plan` checks the options without touching an image (srnenc
calls it before reading its input); ``plan(...).run(image)`` is ``encode(image, ...)``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InputError
from .latent.choice import candidate_configs, encode_choice, encode_choices_many, for_image
from .latent.config import CHOICES, DEFAULT_EFFORT, LatentConfig, effort_config
from .progress import Progress
from .ratecontrol import DEFAULT_QUALITY
from .result import EncodeResult
from .siren.config import PRESETS, FitConfig

NETWORKS = ("latent", "siren")
# encode()'s SIREN keywords (srnenc's SIREN options) -> the FitConfig field each sets.
SIREN_OPTIONS = {
    "width": "hidden_width", "depth": "hidden_layers", "bits": "bits", "first_bits": "first_bits",
    "last_bits": "last_bits", "prune": "prune", "layer_prune": "layer_prune", "fit_steps": "fit_steps",
    "prune_steps": "prune_steps", "qat_steps": "qat_steps", "lr": "lr", "qat_lr": "qat_lr", "omega0": "omega0",
    "agp_t0": "agp_t0", "agp_n": "agp_n", "agp_dt": "agp_dt", "range_update_every": "range_update_every",
    "bias_dtype": "bias_dtype", "bias_bits": "bias_bits", "first_bias_bits": "first_bias_bits",
    "batch_pixels": "batch_pixels", "bit_allocation": "allocate_bits", "quant_noise": "quant_noise",
}
# The SIREN options that fix the network; rate control chooses these itself.
NETWORK_OPTIONS = ("width", "depth", "bits", "first_bits", "last_bits", "prune", "layer_prune")
RATE_OPTIONS = ("quality", "target_bpp", "target_psnr", "lam")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class Encoding:
    """A checked set of encoder options: the network kind, the mode ("quality", "target_bpp",
    "target_psnr", "lam" or, for a SIREN, "fixed"), its value and the training settings; for
    the latent network, ``candidates``: the networks it chooses among per image
    (``latent.choice``; empty: ``config`` alone)."""

    network: str
    mode: str
    value: float | None
    config: LatentConfig | FitConfig
    device: str = "auto"
    candidates: tuple[LatentConfig, ...] = ()

    def networks(self, image: np.ndarray) -> list[LatentConfig]:
        """The latent networks this encoding trains on ``image``: ``config``, or each candidate
        that differs on an image of its channels."""
        if len(self.candidates) < 2:
            return [self.config]
        return for_image(self.candidates, 3 if np.ndim(image) == 3 else 1)

    def fixed_lam(self) -> float | None:
        """The latent network's fixed rate weight (mode "quality" or "lam"); None under rate control."""
        from .latent.ratecontrol import quality_lam

        if self.network != "latent" or self.mode not in ("quality", "lam"):
            return None
        return quality_lam(int(self.value)) if self.mode == "quality" else self.value

    def fixed_networks(self, image: np.ndarray) -> list[LatentConfig]:
        """``networks(image)`` at this encoding's fixed rate weight (``fixed_lam``)."""
        return [dataclasses.replace(c, lam=self.fixed_lam()) for c in self.networks(image)]

    def run(self, image: Any, progress: Progress | None = None) -> EncodeResult:
        """Encode ``image``: a uint8 [H, W] or [H, W, 3] array, or an image file's path or bytes."""
        notes: list[str] = []
        if isinstance(image, (str, os.PathLike, bytes, bytearray)):
            from .imageio import load_image

            image, notes = load_image(image)
        result = self._encode(image, progress)
        if notes:
            result.report["warnings"] = notes
        return result

    def run_many(self, images: Sequence[Any], progress: Progress | None = None, batch: int | None = None,
                 workers: int | None = None,
                 on_result: Callable[[int, EncodeResult], None] | None = None) -> list[EncodeResult]:
        """Encode each of ``images`` (as ``run`` takes them); the results in input order, and
        ``on_result(index, result)`` called as each is done. A latent network at a fixed rate
        weight (``quality`` or ``lam``), or a fixed SIREN, trains together with the others of
        its image's shape, at most ``batch`` networks per batch (default: as many as memory
        holds, ``batching.batch_limit``), and ``workers`` processes (default: one per core)
        finish the files; rate control encodes image after image."""
        loaded, notes = [], []
        for image in images:
            if isinstance(image, (str, os.PathLike, bytes, bytearray)):
                from .imageio import load_image

                image, note = load_image(image)
            else:
                note = []
            loaded.append(image)
            notes.append(note)
        if batch is not None and batch < 1:
            raise InputError(f"batch must be at least 1, got {batch}")
        results: list[EncodeResult | None] = [None] * len(loaded)

        def done(index: int, result: EncodeResult) -> None:
            if notes[index]:
                result.report["warnings"] = notes[index]
            results[index] = result
            if on_result is not None:
                on_result(index, result)

        if self.network == "latent" and self.mode in ("quality", "lam"):
            self._encode_batched(loaded, progress, batch, workers, done)
        elif self.network == "siren" and self.mode == "fixed":
            from .siren.encode import encode_siren_many

            encode_siren_many(loaded, [self.config] * len(loaded), self.device, progress, batch, workers, done)
        else:
            for index, image in enumerate(loaded):
                done(index, self._encode(image, progress))
        return results

    def _encode_batched(self, images: list[np.ndarray], progress: Progress | None, batch: int | None,
                        workers: int | None, done: Callable[[int, EncodeResult], None]) -> None:
        def labelled(index: int, result: EncodeResult) -> None:
            if self.mode == "quality":
                result.report["quality"] = int(self.value)
            done(index, result)

        encode_choices_many(images, [self.fixed_networks(image) for image in images], self.mode, self.device,
                            progress, batch, workers, labelled)

    def _encode(self, image: np.ndarray, progress: Progress | None) -> EncodeResult:
        """A latent network chooses among its ``networks`` (``latent.choice``); each is encoded
        by ``_encode_one``."""
        if self.network == "latent":
            networks = self.networks(image)
            if len(networks) > 1:
                return encode_choice(image, networks, self.mode, lambda c, p: self._encode_one(image, c, p), progress)
        return self._encode_one(image, self.config, progress)

    def _encode_one(self, image: np.ndarray, config: LatentConfig | FitConfig,
                    progress: Progress | None) -> EncodeResult:
        """Both codecs' rate control has ``encode_quality``, ``encode_target_bpp`` and
        ``encode_target_psnr`` with one signature; a fixed rate weight or network is encoded as is."""
        if self.network == "latent":
            from .latent import ratecontrol
            from .latent.encode import encode_latent

            if self.mode == "lam":
                return encode_latent(image, dataclasses.replace(config, lam=self.value), self.device, progress)
        else:
            from .siren import ratecontrol
            from .siren.encode import encode_siren

            if self.mode == "fixed":
                return encode_siren(image, config, self.device, progress)
        value = int(self.value) if self.mode == "quality" else self.value
        return getattr(ratecontrol, f"encode_{self.mode}")(image, value, config, self.device, progress)


def plan(*, quality: int | None = None, target_bpp: float | None = None, target_psnr: float | None = None,
         lam: float | None = None, network: str | None = None, latent_steps: int | None = None,
         effort: str | None = None, latent_options: Mapping[str, Any] | None = None,
         preset: str | None = None, seed: int | None = None, device: str = "auto", **siren_options) -> Encoding:
    """Check encoder options (``encode``'s keywords) and say what they encode; InputError
    naming the first that cannot be used, TypeError for an unknown keyword. The latent
    network's config is its ``effort`` level's (``latent.config.EFFORTS``) with
    ``latent_options`` (``LatentConfig`` fields of ``latent.config.TUNABLE``), ``latent_steps``
    and ``seed`` replacing its own; a level with ``latent.config.CHOICES`` chooses per image
    among those variants of it, in the fields these options leave free."""
    unknown = sorted(set(siren_options) - set(SIREN_OPTIONS))
    if unknown:
        raise TypeError(f"encode() got unknown option(s) {', '.join(unknown)}")
    siren_given = {k: v for k, v in siren_options.items() if v is not None}
    if network is not None and network not in NETWORKS:
        raise InputError(f"network must be one of {', '.join(NETWORKS)}, got {network!r}")
    named = sorted(_flag(k) for k in [*siren_given, *(["preset"] if preset is not None else [])])
    kind = network or ("siren" if named else "latent")
    given = {"quality": quality, "target_bpp": target_bpp, "target_psnr": target_psnr, "lam": lam}
    rates = [k for k in RATE_OPTIONS if given[k] is not None]
    if len(rates) > 1:
        raise InputError(f"{' and '.join(map(_flag, rates))} cannot be combined; give one")
    if kind == "latent":
        if named:
            raise InputError(f"{', '.join(named)} set a SIREN; give --network siren, or drop them "
                             "for the latent network")
        fields = {**(latent_options or {}),
                  **{k: v for k, v in (("steps", latent_steps), ("seed", seed)) if v is not None}}
        config = effort_config(effort, fields)
        candidates = candidate_configs(config, CHOICES.get(effort or DEFAULT_EFFORT, ()), fixed=fields)
        mode = rates[0] if rates else "quality"
        value = given[mode]
        return Encoding("latent", mode, DEFAULT_QUALITY if value is None else value, config, device,
                        candidates if len(candidates) > 1 else ())
    latent_given = [_flag(k) for k, v in (("lam", lam), ("latent_steps", latent_steps), ("effort", effort))
                    if v is not None] + (["latent_options"] if latent_options else [])
    if latent_given:
        verb = "applies" if len(latent_given) == 1 else "apply"
        raise InputError(f"{' and '.join(latent_given)} {verb} to the latent network, not a SIREN")
    fields = _siren_fields(siren_given)
    if seed is not None:
        fields["seed"] = seed
    network_named = sorted(_flag(k) for k in siren_given if k in NETWORK_OPTIONS)
    if rates and network_named:
        raise InputError(f"{_flag(rates[0])} chooses the network itself; drop {', '.join(network_named)}")
    if preset is not None and preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose from {', '.join(sorted(PRESETS))}")
    try:
        config = dataclasses.replace(PRESETS[preset or "default"], **fields)
    except TypeError as exc:
        raise InputError(f"invalid SIREN option: {exc}") from None
    if rates:
        mode = rates[0]
    else:
        mode = "fixed" if preset is not None or network_named else "quality"
    value = given.get(mode)
    if mode == "quality" and value is None:
        value = DEFAULT_QUALITY
    return Encoding("siren", mode, value, config, device)


def _siren_fields(options: dict[str, Any]) -> dict[str, Any]:
    """FitConfig fields from SIREN options, with srnenc's conventions: ``bias_bits`` and
    ``first_bias_bits`` 0 store floats, ``quant_noise`` 0 keeps the uniform allocation's
    distortion, ``layer_prune`` may be a comma-separated string."""
    fields = {SIREN_OPTIONS[k]: v for k, v in options.items()}
    if fields.get("quant_noise") == 0:
        fields["quant_noise"] = None
    for key in ("bias_bits", "first_bias_bits"):
        if fields.get(key) == 0:
            fields[key] = None
        elif key in fields and fields[key] < 2:
            raise InputError(f"{_flag(key)} must be 0 (floats) or 2..16, got {fields[key]}")
    profile = fields.get("layer_prune")
    if profile is not None:
        try:
            parts = profile.split(",") if isinstance(profile, str) else list(profile)
            fields["layer_prune"] = tuple(float(v) for v in parts)
        except (TypeError, ValueError):
            raise InputError(f"--layer-prune must be comma-separated numbers, got '{profile}'") from None
    return fields


def encode_many(images: Sequence[Any], *, progress: Progress | None = None, batch: int | None = None,
                workers: int | None = None, **options) -> list[EncodeResult]:
    """``[encode(image, **options) for image in images]``, with the networks that can train
    together trained in batches (latent networks at a fixed ``quality`` or ``lam``, and fixed
    SIRENs, by image shape: see :meth:`Encoding.run_many`); a network trained in a batch writes the file it
    would write alone, up to floating-point order."""
    return plan(**options).run_many(images, progress, batch, workers)


def encode(image: Any, *, progress: Progress | None = None, **options) -> EncodeResult:
    """Encode ``image`` (a uint8 [H, W] or [H, W, 3] array, or an image file's path or bytes)
    as srnenc would with these options (see the module docstring and :func:`plan`).

    Returns the file bytes (``.data``), what the real decoder returns from them (``.decoded``)
    and the report srnenc prints (``.report``); ``progress(stage, step, total, psnr)`` is called
    during training.  Imports torch on first use."""
    return plan(**options).run(image, progress)

