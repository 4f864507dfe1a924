"""The codecs a benchmark compares: Pillow anchors and sirencodec itself.

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
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from PIL import Image, features

from sirencodec.errors import InputError

if TYPE_CHECKING:
    from sirencodec.config import FitConfig

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

    @abstractmethod
    def encode(self, image: np.ndarray, setting: Setting) -> bytes:
        """The complete file for ``image`` at ``setting``."""

    @abstractmethod
    def decode(self, data: bytes, channels: int | None = None) -> np.ndarray:
        """The uint8 image stored in ``data`` (as 1 or 3 ``channels`` where the format allows)."""


class PillowCodec(Codec):
    """An anchor codec implemented by Pillow, swept over one numeric parameter."""

    pillow_format: ClassVar[str]
    parameter: ClassVar[str] = "quality"
    """The swept knob: Pillow's ``quality`` for most, target bpp for JPEG 2000."""
    sweep_values: ClassVar[tuple[float, ...]]
    options: ClassVar[dict[str, Any]] = {}
    """Fixed Pillow ``save`` options."""

    def unavailable_reason(self) -> str | None:
        if not features.check(self.feature):
            return f"{self.name} skipped: this Pillow build lacks {self.feature} support"
        return None

    @property
    def feature(self) -> str:
        return {"JPEG": "jpg", "WEBP": "webp", "JPEG2000": "jpg_2000", "AVIF": "avif"}[
            self.pillow_format
        ]

    def point(self, value: float) -> dict[str, Any]:
        """The setting for one value of the swept parameter."""
        if not math.isfinite(value):
            raise InputError(f"{self.name}: {self.parameter} must be a finite number, got {value}")
        return {self.parameter: int(value) if float(value).is_integer() else float(value)}

    def default_sweep(self) -> list[Setting]:
        return [self.point(v) for v in self.sweep_values]

    def save_options(self, image: np.ndarray, setting: Setting) -> dict[str, Any]:
        value = setting[self.parameter]
        if not 0 <= value <= 100:
            raise InputError(f"{self.name}: quality must be in 0..100, got {format_value(value)}")
        return {"quality": int(value), **self.options}

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
    sweep_values = (2, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 85, 90, 93, 95, 97, 98)


class WebpCodec(PillowCodec):
    """Lossy WebP (libwebp via Pillow) at its slowest, best method."""

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
        return {"quality_layers": [8.0 * channels / bpp], **self.options}


ANCHORS: dict[str, type[PillowCodec]] = {
    codec.name: codec for codec in (JpegCodec, WebpCodec, Jpeg2000Codec, AvifCodec)
}
"""Anchor codecs by name."""

SIREN = "siren"
CODEC_NAMES: tuple[str, ...] = (*ANCHORS, SIREN)
"""Every codec name the benchmark knows, in the default order."""



class SirenCodec(Codec):
    """The real sirencodec encoder and decoder; a setting overrides fields of a preset."""

    name = SIREN
    extension = ".srn"

    def __init__(
        self,
        preset: str = "default",
        device: str = "auto",
        progress: Callable[[str, int, int, float | None], None] | None = None,
    ) -> None:
        try:
            from sirencodec.config import PRESETS
        except ImportError:
            raise InputError("the sirencodec encoder is not available in this installation") from None
        if preset not in PRESETS:
            raise InputError(f"unknown preset {preset!r}; choose from {', '.join(sorted(PRESETS))}")
        # Imports torch now rather than inside the first timed encode, and fails fast on a
        # device that is not there.
        from sirencodec.codec import resolve_device

        resolve_device(device)

        self.preset = preset
        self.device = device
        self.progress = progress
        """Passed to the encoder: called as ``progress(stage, step, total, psnr_or_None)``."""
        self.base: FitConfig = PRESETS[preset]
        self.last_result: Any = None
        """The encoder's full EncodeResult of the latest :meth:`encode` call."""

    @property
    def directory(self) -> str:
        return f"{self.name}-{self.preset}"

    def default_sweep(self) -> list[Setting]:
        """srnenc's default network at each --quality (the latent network's ladder)."""
        from sirencodec.latentrate import QUALITY_LEVELS

        return [{"latent_quality": q} for q in range(1, QUALITY_LEVELS + 1)]

    def normalize(self, setting: Mapping[str, Any]) -> dict[str, Any]:
        """``setting`` with keys checked against FitConfig and values cast to the field types.

        Besides FitConfig fields, ``quality`` (1..8) or ``target_bpp`` select the encoder's
        rate control (which then chooses the network itself).  Values may be typed already
        or strings from the command line.
        """
        fields = {**_field_types(self.base), **RATE_SETTINGS, **LATENT_SETTINGS}
        out: dict[str, Any] = {}
        for key, value in setting.items():
            if key not in fields:
                raise InputError(
                    f"unknown sirencodec setting {key!r}; valid: {', '.join(sorted(fields))}"
                )
            out[key] = _coerce(key, value, fields[key])
        if len(set(out) & set(RATE_SETTINGS)) > 1:
            raise InputError(f"give one of {', '.join(RATE_SETTINGS)} per sirencodec setting")
        if set(out) & set(LATENT_SETTINGS):
            if len(set(out) & set(LATENT_MODES)) != 1 or set(out) - set(LATENT_SETTINGS):
                raise InputError("a latent-grid setting is one of lam=L, latent_quality=Q, latent_target_bpp=X, "
                                 "with optional latent_steps=N and nothing else")
        return out

    def config(self, setting: Setting) -> FitConfig:
        """The preset with the FitConfig fields of ``setting`` applied (value ranges are
        checked by the encoder; rate control then replaces the network)."""
        fields = {k: v for k, v in self.normalize(setting).items() if k not in RATE_SETTINGS and k not in LATENT_SETTINGS}
        try:
            return dataclasses.replace(self.base, **fields)
        except InputError:
            raise
        except (TypeError, ValueError) as error:
            raise InputError(f"invalid sirencodec setting {setting_label(setting)}: {error}") from None

    def columns(self, setting: Setting) -> dict[str, Any]:
        norm = self.normalize(setting)
        if set(norm) & set(LATENT_MODES):
            modes = {k: v for k, v in norm.items() if k in LATENT_MODES and k != "lam"}
            return {"preset": "latent", **modes, **dataclasses.asdict(self.latent_config(norm))}
        rate = {k: v for k, v in norm.items() if k in RATE_SETTINGS}
        return {"preset": self.preset, **rate, **dataclasses.asdict(self.config(setting))}

    def latent_config(self, norm: Mapping[str, Any]):
        from sirencodec.latentfit import LatentConfig

        steps = norm.get("latent_steps")
        return LatentConfig(**{k: v for k, v in (("lam", norm.get("lam")), ("steps", steps)) if v is not None})

    def encode(self, image: np.ndarray, setting: Setting) -> bytes:
        from sirencodec import ratecontrol
        from sirencodec.codec import encode

        rate = self.normalize(setting)
        if set(rate) & set(LATENT_MODES):
            from sirencodec import latentrate
            from sirencodec.codec import encode_latent

            config = self.latent_config(rate)
            if "latent_quality" in rate:
                result = latentrate.encode_quality(image, rate["latent_quality"], config, self.device, self.progress)
            elif "latent_target_bpp" in rate:
                result = latentrate.encode_target_bpp(image, rate["latent_target_bpp"], config, self.device,
                                                      self.progress)
            else:
                result = encode_latent(image, config, self.device, self.progress)
            self.last_result = result
            return bytes(result.data)
        config = self.config(setting)
        if "quality" in rate:
            result = ratecontrol.encode_quality(image, rate["quality"], config, self.device, self.progress)
        elif "target_bpp" in rate:
            result = ratecontrol.encode_target_bpp(image, rate["target_bpp"], config, self.device, self.progress)
        else:
            result = encode(image, config, device=self.device, progress=self.progress)
        self.last_result = result
        return bytes(result.data)

    def decode(self, data: bytes, channels: int | None = None) -> np.ndarray:
        import sirencodec

        decoded = np.asarray(sirencodec.decode(data))
        if channels is not None and (1 if decoded.ndim == 2 else decoded.shape[2]) != channels:
            raise InputError(
                f"the .srn file decodes to shape {decoded.shape}, expected {channels} channel(s)"
            )
        return decoded


RATE_SETTINGS: dict[str, tuple[type, ...]] = {"quality": (int,), "target_bpp": (float,)}
"""Sweep settings that run the encoder's rate control instead of a fixed network."""

LATENT_SETTINGS: dict[str, tuple[type, ...]] = {"lam": (float,), "latent_quality": (int,),
                                                "latent_target_bpp": (float,), "latent_steps": (int,)}
"""Sweep settings of the latent-grid encoder (format version 4, srnenc's default network): one of
``lam=L`` (a fixed rate weight), ``latent_quality=Q`` (srnenc --quality) or
``latent_target_bpp=X`` (srnenc --target-bpp), with optional ``latent_steps=N``."""
LATENT_MODES = ("lam", "latent_quality", "latent_target_bpp")


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
    progress: Callable[[str, int, int, float | None], None] | None = None,
) -> tuple[list[Codec], list[str]]:
    """Codec objects for ``names`` and one-line notes about those skipped as unavailable."""
    codecs: list[Codec] = []
    notes: list[str] = []
    for name in names:
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
