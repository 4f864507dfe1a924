"""Images in and out (Pillow), the one check of an image an encoder takes, and atomic writing.

``load_image`` accepts anything Pillow reads and returns uint8 [H, W] or [H, W, 3]; what
it had to change (alpha dropped, 16-bit reduced) comes back as warnings for the CLI to
print.  ``check_image`` is what both encoders accept.  ``check_output`` refuses an output
path before any work; ``atomic_write`` writes a file through a temporary file and a rename,
so an interrupted or failed run never leaves a half-written output behind.
"""

from __future__ import annotations

import io
import os
import stat
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import FormatError, InputError
from .limits import MAX_DIMENSION, MAX_PIXELS, check_dimensions


def load_image(source: str | os.PathLike | bytes) -> tuple[np.ndarray, list[str]]:
    """Read an image; returns (pixels uint8 [H,W] or [H,W,3], warnings)."""
    notes: list[str] = []
    try:
        if isinstance(source, (bytes, bytearray)):
            if not source:
                raise InputError("input image is empty")
            fp = io.BytesIO(source)
        else:
            path = Path(source)
            if not path.is_file():
                raise InputError(f"no such image file: {path}")
            if path.stat().st_size == 0:
                raise InputError(f"image file is empty: {path}")
            fp = path
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fp) as img:
                w, h = img.size
                if not (1 <= w <= MAX_DIMENSION and 1 <= h <= MAX_DIMENSION) or w * h > MAX_PIXELS:
                    raise InputError(f"image size {w}x{h} outside the codec's limits "
                                     f"(each side 1..{MAX_DIMENSION}, at most {MAX_PIXELS} pixels)")
                img.load()
                img = ImageOps.exif_transpose(img)
                return _to_array(img, notes), notes
    except InputError:
        raise
    except UnidentifiedImageError:
        source_name = "the input data" if isinstance(source, (bytes, bytearray)) else str(source)
        raise InputError(f"cannot read image: {source_name} is not in a format Pillow reads") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, EOFError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read image: {msg}") from None


def check_image(image: np.ndarray) -> np.ndarray:
    """``image`` as the encoders take it: a C-contiguous uint8 [H, W] (gray) or [H, W, 3] (RGB)
    array within the format's size limits ([H, W, 1] becomes [H, W]); InputError otherwise."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise InputError("the image must be a uint8 numpy array")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise InputError(f"the image must be [H, W] or [H, W, 3] (1 or 3 channels), got shape {image.shape}")
    try:
        check_dimensions(image.shape[1], image.shape[0], channels(image))
    except FormatError as exc:
        raise InputError(str(exc)) from None
    return np.ascontiguousarray(image)


def channels(image: np.ndarray) -> int:
    """1 for [H, W], else the last axis."""
    return 1 if image.ndim == 2 else image.shape[2]


def _to_array(img: Image.Image, notes: list[str]) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(img, dtype=np.int64)
        if a.max(initial=0) > 255 or mode.startswith("I;16"):
            notes.append("16-bit image reduced to 8 bits per sample")
            a = np.clip(np.floor(a / 257.0 + 0.5), 0, 255)
        return a.astype(np.uint8)
    if mode == "F":
        raise InputError("floating-point images are not supported; convert to 8-bit first")
    if mode in ("LA", "La", "PA", "RGBA", "RGBa") or (mode == "P" and "transparency" in img.info):
        notes.append("alpha channel dropped")
    if mode in ("1", "L", "LA", "La"):
        return np.asarray(img.convert("L"), dtype=np.uint8)
    rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    if mode in ("P", "PA") and np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]):
        return np.ascontiguousarray(rgb[..., 0])  # a grey palette is a gray image
    return rgb


def save_image(pixels: np.ndarray, path: str, fmt: str | None = None) -> None:
    """Write uint8 pixels with Pillow (format from the extension unless ``fmt``), atomically."""
    img = Image.fromarray(pixels, mode=None)
    if fmt is None:
        ext = Path(path).suffix.lower()
        if ext not in Image.registered_extensions():
            raise InputError(f"cannot tell the image format from '{path}'; use an extension such as .png")
        fmt = Image.registered_extensions()[ext]
    with atomic_write(path) as f:
        try:
            img.save(f, format=fmt)
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"cannot write {fmt} image: {exc}") from None


def encode_image_bytes(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt)
    return buf.getvalue()


def check_output(path: str | os.PathLike) -> None:
    """InputError (one line) unless a file can be written at ``path``: it is not a directory,
    its directory exists and is writable, and an existing file there is writable. Commands
    call this before any work, so that a bad output never costs a training."""
    target = Path(os.path.realpath(path))
    if target.is_dir():
        raise InputError(f"{path} is a directory; give a file name")
    if target.exists():
        if not os.access(target, os.W_OK):
            raise InputError(f"cannot write {path}: permission denied")
        if not target.is_file():
            return  # a device or a pipe: written through
    directory = target.parent
    if not directory.is_dir():
        raise InputError(f"cannot write {path}: no such directory {directory}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {path}: permission denied in {directory}")


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb"):
    """Yield a file object (``mode`` "wb", or "w" for UTF-8 text) for ``path``.

    A regular file (new or existing; through a symbolic link, the file it points to) is
    written to a temporary file beside it that replaces it on success, so on any error or
    interrupt the temporary file is removed and ``path`` is untouched; the new file gets the
    mode an existing one had, else 0666 less the umask. Anything else that exists (a device
    such as /dev/null, a pipe) is written through and never replaced."""
    target = Path(os.path.realpath(path))
    text = {} if "b" in mode else {"newline": "", "encoding": "utf-8"}
    if target.exists() and not target.is_file():
        if target.is_dir():
            raise InputError(f"{path} is a directory; give a file name")
        try:
            f = open(target, mode, **text)  # noqa: SIM115 - closed below
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
        with f:
            yield f
        return
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, mode, **text) as f:
            yield f
        os.chmod(tmp, stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
