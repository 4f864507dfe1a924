"""The codecs a benchmark compares: Pillow anchors and sirencodec's two codecs.

Every codec turns a uint8 image ([H, W] or [H, W, 3]) and one *setting* — a small mapping
of named knobs such as ``{"quality": 50}`` or ``{"bits": 8, "prune": 0.2}`` — into the
bytes of a complete file, and decodes such bytes back.  The runner writes those bytes to
disk and decodes what it reads back from the file, so the rate is always a real file size.
"""

from __future__ import annotations

import dataclasses
import io
import math
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from PIL import Image, features

from sirencodec.errors import InputError
from sirencodec.progress import Progress

if TYPE_CHECKING:
    from sirencodec.siren.config import FitConfig

Setting = Mapping[str, Any]
"""One sweep point: knob name -> value."""


def format_value(value: Any) -> str:
    """A compact, stable text form of a setting value (``0.2``, ``8``, ``True``, ``0.1/0.3``)."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return "/".join(format_value(v) for v in value)
    return str(value)


def setting_label(setting: Setting) -> str:
    """``"bits=8,prune=0.2"`` for ``{"bits": 8, "prune": 0.2}``; ``"preset"`` when empty."""
    return ",".join(f"{key}={format_value(value)}" for key, value in setting.items()) or "preset"


def _to_channels(image: Image.Image, channels: int | None) -> np.ndarray:
    """Pixels of a decoded Pillow image as uint8 with ``channels`` (1 or 3; None: native)."""
    if channels is None:
        mode = image.mode if image.mode in ("L", "RGB") else "RGB"
    else:
        mode = "L" if channels == 1 else "RGB"
    return np.asarray(image.convert(mode), dtype=np.uint8)


class Codec(ABC):
    """An image codec under test: encode to file bytes, decode file bytes."""

    name: ClassVar[str]
    """Short name used on the command line and in results (``jpeg``, ``siren``)."""
    extension: ClassVar[str]
    """File name extension of the encoded files, with the dot."""

    @property
    def directory(self) -> str:
        """Sub-directory of an image's output folder that holds this codec's files."""
        return self.name

    def unavailable_reason(self) -> str | None:
        """Why this codec cannot run here (one line), or None when it can."""
        return None

    def label(self, setting: Setting) -> str:
        """The setting as a short, stable text label (also the results' ``setting``)."""
        return setting_label(setting)

    def columns(self, setting: Setting) -> dict[str, Any]:
        """Extra per-row result columns describing the setting (none by default)."""
        return {}

    @abstractmethod
    def default_sweep(self) -> list[Setting]:
        """The settings swept when the user gives none."""

    def for_image(self, setting: Setting, image: np.ndarray) -> Setting | None:
        """``setting`` as it applies to ``image`` (uint8 [H, W] or [H, W, C]), or None when it
        does not apply there (e.g. a chroma subsampling mode on a gray image)."""
        return setting

    @abstractmethod
    def encode(self, image: np.ndarray, setting: Setting) -> bytes:
        """The complete file for ``image`` at ``setting``."""

    @abstractmethod
    def decode(self, data: bytes, channels: int | None = None) -> np.ndarray:
        """The uint8 image stored in ``data`` (as 1 or 3 ``channels`` where the format allows)."""


class PillowCodec(Codec):
    """An anchor codec implemented by Pillow, swept over one numeric parameter and, on colour
    images, over its chroma subsampling modes (``chroma_modes``): its curve is then the envelope
    (Pareto front) of its modes, as BD metrics and plots take it."""

    pillow_format: ClassVar[str]
    parameter: ClassVar[str] = "quality"
    """The swept knob: Pillow's ``quality`` for most, target bpp for JPEG 2000."""
    sweep_values: ClassVar[tuple[float, ...]]
    options: ClassVar[dict[str, Any]] = {}
    """Fixed Pillow ``save`` options."""
    chroma_modes: ClassVar[dict[str, dict[str, Any]]] = {}
    """Pillow ``save`` options of each chroma mode a colour image is swept in (``"420"``: chroma
    at half resolution both ways, Pillow's default; ``"444"``: full resolution), default mode
    first; none when the codec has one mode. A gray image is coded once, without the knob."""

    def unavailable_reason(self) -> str | None:
        if not features.check(self.feature):
            return f"{self.name} skipped: this Pillow build lacks {self.feature} support"
        return None

    @property
    def feature(self) -> str:
        return {"JPEG": "jpg", "WEBP": "webp", "JPEG2000": "jpg_2000", "AVIF": "avif"}[
            self.pillow_format
        ]

    def point(self, value: float, chroma: str | None = None) -> dict[str, Any]:
        """The setting for one value of the swept parameter (in chroma mode ``chroma``)."""
        if not math.isfinite(value):
            raise InputError(f"{self.name}: {self.parameter} must be a finite number, got {value}")
        setting: dict[str, Any] = {self.parameter: int(value) if float(value).is_integer() else float(value)}
        if chroma is not None:
            setting["chroma"] = chroma
        return setting

    def sweep(self, values: Sequence[float]) -> list[Setting]:
        """``values`` of the swept parameter in every chroma mode (mode after mode)."""
        return [self.point(v, mode) for mode in (list(self.chroma_modes) or [None]) for v in values]

    def default_sweep(self) -> list[Setting]:
        return self.sweep(self.sweep_values)

    def for_image(self, setting: Setting, image: np.ndarray) -> Setting | None:
        if "chroma" not in setting or image.ndim == 3:
            return setting
        if setting["chroma"] != next(iter(self.chroma_modes), None):
            return None  # a gray image has no chroma: its one curve is the default mode's
        return {k: v for k, v in setting.items() if k != "chroma"}

    def _chroma_options(self, image: np.ndarray, setting: Setting) -> dict[str, Any]:
        mode = setting.get("chroma")
        if mode is None or image.ndim == 2:
            return {}
        if mode not in self.chroma_modes:
            modes = ", ".join(self.chroma_modes) or "none"
            raise InputError(f"{self.name}: unknown chroma mode {mode!r}; this codec has: {modes}")
        return dict(self.chroma_modes[mode])

    def save_options(self, image: np.ndarray, setting: Setting) -> dict[str, Any]:
        value = setting[self.parameter]
        if not 0 <= value <= 100:
            raise InputError(f"{self.name}: quality must be in 0..100, got {format_value(value)}")
        return {"quality": int(value), **self.options, **self._chroma_options(image, setting)}

    def encode(self, image: np.ndarray, setting: Setting) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, self.pillow_format, **self.save_options(image, setting))
        return buffer.getvalue()

    def decode(self, data: bytes, channels: int | None = None) -> np.ndarray:
        with Image.open(io.BytesIO(data)) as decoded:
            decoded.load()
            return _to_channels(decoded, channels)


class JpegCodec(PillowCodec):
    """Baseline JPEG (libjpeg via Pillow) with optimized Huffman tables."""

    name = "jpeg"
    extension = ".jpg"
    pillow_format = "JPEG"
    options = {"optimize": True}
    chroma_modes = {"420": {"subsampling": 2}, "444": {"subsampling": 0}}
    sweep_values = (2, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 85, 90, 93, 95, 97, 98)


class WebpCodec(PillowCodec):
    """Lossy WebP (libwebp via Pillow) at its slowest, best method; lossy WebP is 4:2:0 only."""

    name = "webp"
    extension = ".webp"
    pillow_format = "WEBP"
    options = {"method": 6}
    sweep_values = (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95, 100)


class AvifCodec(PillowCodec):
    """AVIF via Pillow's built-in plugin (libavif); lossless quality 100 is left out."""

    name = "avif"
    extension = ".avif"
    pillow_format = "AVIF"
    options = {"speed": 4}
    chroma_modes = {"420": {"subsampling": "4:2:0"}, "444": {"subsampling": "4:4:4"}}
    sweep_values = (0, 10, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95)

    def unavailable_reason(self) -> str | None:
        if not features.check("avif"):
            return "avif skipped: this Pillow has no AVIF support (Pillow >= 11.3 wheels include it)"
        return None


class Jpeg2000Codec(PillowCodec):
    """JPEG 2000 (OpenJPEG via Pillow), irreversible 9/7 wavelet, rate-controlled.

    The setting is a target rate in bpp; OpenJPEG's ``rates`` quality mode takes a
    compression ratio relative to the raw 8-bit samples, so ratio = 8 * channels / bpp.
    Files are bare codestreams (``.j2k``, no JP2 box wrapper) to avoid container overhead.
    Colour is coded 4:4:4 through the standard irreversible colour transform (``mct``): one mode.
    """

    name = "jpeg2000"
    extension = ".j2k"
    pillow_format = "JPEG2000"
    parameter = "bpp"
    options = {"quality_mode": "rates", "irreversible": True, "no_jp2": True}
    sweep_values = (0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)

    def save_options(self, image: np.ndarray, setting: Setting) -> dict[str, Any]:
        bpp = float(setting[self.parameter])
        channels = 1 if image.ndim == 2 else image.shape[2]
        if not 0 < bpp < 8 * channels:
            raise InputError(f"{self.name}: target bpp must be in (0, {8 * channels}), got {bpp:g}")
        # Colour with the standard irreversible component transform (Pillow's default is none,
        # which costs about 4 dB on a Kodak crop at 1 bpp).
        return {"quality_layers": [8.0 * channels / bpp], **self.options, "mct": 1 if channels == 3 else 0}


ANCHORS: dict[str, type[PillowCodec]] = {
    codec.name: codec for codec in (JpegCodec, WebpCodec, Jpeg2000Codec, AvifCodec)
}
"""Anchor codecs by name."""

LATENT, SIREN = "latent", "siren"
SRN_CODECS: tuple[str, ...] = (LATENT, SIREN)
"""sirencodec's own codecs: the latent-grid network (srnenc's default) and the SIREN."""
CODEC_NAMES: tuple[str, ...] = (*ANCHORS, *SRN_CODECS)
"""Every codec name the benchmark knows, in the default order."""


class SrnCodec(Codec):
    """One of sirencodec's codecs through its real encoder and decoder; the encoder's full
    :class:`~sirencodec.result.EncodeResult` of the latest :meth:`encode` is ``last_result``."""

    extension = ".srn"

    def __init__(self, device: str = "auto", progress: Progress | None = None) -> None:
        # Imports torch now rather than inside the first timed encode, and fails fast on a
        # device that is not there.
        from sirencodec.device import resolve_device

        resolve_device(device)
        self.device = device
        self.progress = progress
        """Passed to the encoder: called as ``progress(stage, step, total, psnr_or_None)``."""
        self.last_result: Any = None

    def default_sweep(self) -> list[Setting]:
        """srnenc's --quality levels."""
        from sirencodec.ratecontrol import QUALITY_LEVELS

        return [{"quality": q} for q in range(1, QUALITY_LEVELS + 1)]

    @abstractmethod
    def normalize(self, setting: Mapping[str, Any]) -> dict[str, Any]:
        """``setting`` with its keys checked and its values cast (they may be command-line strings)."""

    def decode(self, data: bytes, channels: int | None = None) -> np.ndarray:
        import sirencodec

        decoded = np.asarray(sirencodec.decode(data))
        if channels is not None and (1 if decoded.ndim == 2 else decoded.shape[2]) != channels:
            raise InputError(
                f"the .srn file decodes to shape {decoded.shape}, expected {channels} channel(s)"
            )
        return decoded


LATENT_SETTINGS: dict[str, tuple[type, ...]] = {
    "quality": (int,), "target_bpp": (float,), "target_psnr": (float,), "lam": (float,), "effort": (str,),
    "steps": (int,), "seed": (int,), "hard_fraction": (float,), "lr": (float,), "hard_lr": (float,),
    "levels": (int,), "latent_channels": (str,), "hidden": (str,), "conv": (bool,), "context": (int,),
    "arm_hidden": (str,), "distortion": (str,), "colour": (str,), "upsampling": (str,),
    "noise": (str,), "channel_context": (int,),
}
"""Settings of the latent codec: srnenc's rate options (one of quality, target_bpp,
target_psnr, lam), ``effort`` (srnenc's --effort), and the network's and training's
``LatentConfig`` fields (``steps`` is srnenc's --latent-steps; widths as ``hidden=24/24``, grids
per level as ``latent_channels=1/2/2``; ``distortion=ycbcr`` trains on the 6:1:1 YCbCr MSE,
``colour=ycbcr`` synthesizes YCbCr, ``upsampling=learned`` learns the x2 upsampling filters, ``noise=gaussian`` trains with annealed
Gaussian quantization noise)."""
RATE_SETTINGS: dict[str, tuple[type, ...]] = {
    "quality": (int,), "target_bpp": (float,), "target_psnr": (float,),
}
"""SIREN settings that run its rate control (which then chooses the network itself) instead of
a fixed network."""


_LATENT_RATES = ("quality", "target_bpp", "target_psnr", "lam")  # one at most; with "effort", srnenc's own options


class LatentCodec(SrnCodec):
    """The latent-grid network (format versions 4 to 7), srnenc's default codec."""

    name = LATENT

    def normalize(self, setting: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in setting.items():
            if key not in LATENT_SETTINGS:
                raise InputError(f"unknown latent setting {key!r}; valid: {', '.join(LATENT_SETTINGS)}")
            out[key] = _coerce(key, value, LATENT_SETTINGS[key])
        if sum(k in out for k in _LATENT_RATES) > 1:
            raise InputError("a latent setting takes one of quality, target_bpp, target_psnr, lam")
        from sirencodec.latent.config import effort_config  # the network's fields and ranges, before anything runs

        effort_config(out.get("effort"), {k: v for k, v in out.items() if k not in (*_LATENT_RATES, "effort")})
        return out

    def options(self, setting: Setting) -> dict[str, Any]:
        """srnenc's options (``sirencodec.encode``'s keywords) for ``setting``."""
        norm = self.normalize(setting)
        rate = {k: norm.pop(k) for k in (*_LATENT_RATES, "effort") if k in norm}
        return {**rate, "latent_options": norm, "network": LATENT, "device": self.device}

    def columns(self, setting: Setting) -> dict[str, Any]:
        from sirencodec.encoder import plan
        from sirencodec.latent.config import DEFAULT_EFFORT

        norm = self.normalize(setting)
        modes = {k: v for k, v in norm.items() if k in ("quality", "target_bpp", "target_psnr")}
        config = plan(**self.options(setting)).config
        if "lam" in norm:
            config = dataclasses.replace(config, lam=norm["lam"])
        return {"preset": LATENT, **modes, "effort": norm.get("effort", DEFAULT_EFFORT), **dataclasses.asdict(config)}

    def encode(self, image: np.ndarray, setting: Setting) -> bytes:
        from sirencodec.encoder import encode

        self.last_result = encode(image, progress=self.progress, **self.options(setting))
        return bytes(self.last_result.data)

    def batch_config(self, setting: Setting):
        """The LatentConfig ``setting`` trains at fixed rate weight (``quality`` or ``lam``):
        settings whose configs differ in lam and seed only train together; None for rate
        control's settings, which encode one by one."""
        from sirencodec.encoder import plan

        encoding = plan(**self.options(setting))
        lam = encoding.fixed_lam()
        return None if lam is None else dataclasses.replace(encoding.config, lam=lam)

    def encode_many(self, jobs: Sequence[tuple[np.ndarray, Setting]]) -> list[Any]:
        """EncodeResults of (image, setting) jobs whose ``batch_config`` is not None, the networks
        of one image shape and training trained together (``latent.choice.encode_choices_many``,
        which keeps each job's best where its effort level chooses among networks), in job order."""
        from sirencodec.encoder import plan
        from sirencodec.latent.choice import encode_choices_many

        results = encode_choices_many([image for image, _ in jobs],
                                      [plan(**self.options(s)).fixed_networks(image) for image, s in jobs], "lam",
                                      self.device, self.progress)
        for (_, setting), result in zip(jobs, results):
            if "quality" in setting:
                result.report["quality"] = int(setting["quality"])
        return results


class SirenCodec(SrnCodec):
    """The SIREN (format version 3); a setting overrides FitConfig fields of a preset, or runs
    rate control (``quality=Q``, ``target_bpp=X``, ``target_psnr=Y``) with the preset's training."""

    name = SIREN

    def __init__(self, preset: str = "default", device: str = "auto",
                 progress: Progress | None = None) -> None:
        from sirencodec.siren.config import PRESETS

        if preset not in PRESETS:
            raise InputError(f"unknown preset {preset!r}; choose from {', '.join(sorted(PRESETS))}")
        super().__init__(device, progress)
        self.preset = preset
        self.base: FitConfig = PRESETS[preset]

    @property
    def directory(self) -> str:
        return f"{self.name}-{self.preset}"

    def normalize(self, setting: Mapping[str, Any]) -> dict[str, Any]:
        """``setting`` with keys checked against FitConfig (or RATE_SETTINGS) and values cast
        to the field types."""
        fields = {**_field_types(self.base), **RATE_SETTINGS}
        out: dict[str, Any] = {}
        for key, value in setting.items():
            if key not in fields:
                raise InputError(
                    f"unknown siren setting {key!r}; valid: {', '.join(sorted(fields))}"
                )
            out[key] = _coerce(key, value, fields[key])
        if len(set(out) & set(RATE_SETTINGS)) > 1:
            raise InputError(f"give one of {', '.join(RATE_SETTINGS)} per siren setting")
        return out

    def config(self, setting: Setting) -> FitConfig:
        """The preset with the FitConfig fields of ``setting`` applied (value ranges are
        checked by the encoder; rate control then replaces the network)."""
        fields = {k: v for k, v in self.normalize(setting).items() if k not in RATE_SETTINGS}
        try:
            return dataclasses.replace(self.base, **fields)
        except (TypeError, ValueError) as error:
            raise InputError(f"invalid siren setting {setting_label(setting)}: {error}") from None

    def columns(self, setting: Setting) -> dict[str, Any]:
        rate = {k: v for k, v in self.normalize(setting).items() if k in RATE_SETTINGS}
        return {"preset": self.preset, **rate, **dataclasses.asdict(self.config(setting))}

    def batch_config(self, setting: Setting) -> FitConfig | None:
        """The FitConfig of a fixed network (settings of one training and image shape train
        together); None for rate control's settings, which encode one by one."""
        if set(self.normalize(setting)) & set(RATE_SETTINGS):
            return None
        return self.config(setting)

    def encode_many(self, jobs: Sequence[tuple[np.ndarray, Setting]]) -> list[Any]:
        """EncodeResults of (image, setting) jobs whose ``batch_config`` is not None, trained
        together where they can (``siren.encode.encode_siren_many``), in job order."""
        from sirencodec.siren.encode import encode_siren_many

        return encode_siren_many([image for image, _ in jobs], [self.batch_config(s) for _, s in jobs],
                                 self.device, self.progress)

    def encode(self, image: np.ndarray, setting: Setting) -> bytes:
        from sirencodec.siren import ratecontrol
        from sirencodec.siren.encode import encode_siren

        rate = self.normalize(setting)
        config = self.config(setting)
        if "quality" in rate:
            result = ratecontrol.encode_quality(image, rate["quality"], config, self.device, self.progress)
        elif "target_bpp" in rate:
            result = ratecontrol.encode_target_bpp(image, rate["target_bpp"], config, self.device,
                                                   self.progress)
        elif "target_psnr" in rate:
            result = ratecontrol.encode_target_psnr(image, rate["target_psnr"], config, self.device,
                                                    self.progress)
        else:
            result = encode_siren(image, config, self.device, self.progress)
        self.last_result = result
        return bytes(result.data)


def _field_types(config: Any) -> dict[str, tuple[type, ...]]:
    """FitConfig field -> the plain types its annotation allows (``float | None``: float, NoneType)."""
    hints = typing.get_type_hints(type(config))
    out: dict[str, tuple[type, ...]] = {}
    for name, hint in hints.items():
        args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else ()
        members = args or (hint,)
        out[name] = tuple(
            tuple if typing.get_origin(a) is tuple else a
            for a in members
            if isinstance(a, type) or typing.get_origin(a) is tuple
        )
    return out


def _coerce(key: str, value: Any, allowed: tuple[type, ...]) -> Any:
    """Cast ``value`` (possibly a command-line string) to one of the field's ``allowed`` types."""
    if not isinstance(value, str):
        if float in allowed and int not in allowed and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value
    text = value.strip()
    if type(None) in allowed and text.lower() in ("none", "null"):
        return None
    for kind in allowed:
        try:
            if kind is bool:
                lowered = text.lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off"):
                    return False
            elif kind in (int, float, str):
                return kind(text)
            elif kind is tuple:  # e.g. layer_prune=0.1/0.3/0.5
                return tuple(float(part) for part in text.split("/"))
        except ValueError:
            continue
    names = "/".join(k.__name__ for k in allowed) or "unknown type"
    raise InputError(f"sirencodec setting {key}={text!r} cannot be used: expected {names}")


def make_codecs(
    names: Sequence[str],
    preset: str = "default",
    device: str = "auto",
    progress: Progress | None = None,
) -> tuple[list[Codec], list[str]]:
    """Codec objects for ``names`` and one-line notes about those skipped as unavailable."""
    codecs: list[Codec] = []
    notes: list[str] = []
    for name in names:
        if name == LATENT:
            codecs.append(LatentCodec(device, progress))
            continue
        if name == SIREN:
            codecs.append(SirenCodec(preset, device, progress))
            continue
        if name not in ANCHORS:
            raise InputError(f"unknown codec {name!r}; choose from {', '.join(CODEC_NAMES)}")
        codec = ANCHORS[name]()
        reason = codec.unavailable_reason()
        if reason:
            notes.append(reason)
        else:
            codecs.append(codec)
    return codecs, notes
