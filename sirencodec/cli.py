"""Command-line tools: srnenc, srndec, srninfo.

Each command parses options, calls the library, prints; any SrnError becomes one line on
stderr and exit code 2, an interrupt exit code 130.  Output files are written atomically.
"""

from __future__ import annotations

import functools
import json
import sys

import click

from .config import MAX_FILE_BYTES
from .errors import InputError, SrnError


def _fail(prog: str, message: str, code: int = 2):
    click.echo(f"{prog}: error: {message}", err=True)
    sys.exit(code)


def handle_errors(prog: str):
    """Map the package's errors and interrupts to a one-line message and an exit code."""

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except SrnError as exc:
                _fail(prog, str(exc))
            except KeyboardInterrupt:
                _fail(prog, "interrupted", 130)
            except MemoryError:
                _fail(prog, "out of memory", 1)
        return inner

    return wrap


def read_input(path: str) -> bytes:
    """Read a file (or stdin for '-') up to the format's size cap."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{path} is larger than the {MAX_FILE_BYTES}-byte limit of a .srn file")
    return data


def parse_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"--size must look like WIDTHxHEIGHT (e.g. 512x512), got '{text}'") from None
    if w < 1 or h < 1:
        raise InputError(f"--size must be positive, got '{text}'")
    return w, h


# --- srndec ---------------------------------------------------------------------------


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("src", metavar="IN.srn")
@click.option("-o", "--output", "dst", required=True, metavar="OUT",
              help="Output image (format from the extension: .png, .bmp, .tif, .jpg ...); '-' for stdout.")
@click.option("--size", metavar="WxH", help="Render at another resolution, e.g. 1024x1024.")
@click.option("--scale", type=float, metavar="S", help="Render at S times the stored resolution.")
@click.option("--format", "fmt", metavar="FMT", help="Pillow format name when writing to stdout (default PNG).")
@handle_errors("srndec")
def srndec(src: str, dst: str, size: str | None, scale: float | None, fmt: str | None) -> None:
    """Decode a .srn file to an image ('-' reads stdin)."""
    from .decoder import decode
    from .imageio import encode_image_bytes, save_image

    pixels = decode(read_input(src), size=parse_size(size), scale=scale)
    if dst == "-":
        try:
            data = encode_image_bytes(pixels, (fmt or "PNG").upper())
        except (KeyError, OSError, ValueError) as exc:
            raise InputError(f"cannot write format '{fmt}': {exc}") from None
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        save_image(pixels, dst, fmt.upper() if fmt else None)


# --- srninfo --------------------------------------------------------------------------


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("src", metavar="IN.srn")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors("srninfo")
def srninfo(src: str, as_json: bool) -> None:
    """Show a .srn file's header, per-layer coding and byte breakdown ('-' reads stdin)."""
    from .decoder import inspect

    info = inspect(read_input(src))
    info["file"] = src
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(format_info(info))


def format_info(info: dict) -> str:
    kind = "gray" if info["channels"] == 1 else "RGB"
    lines = [
        f"file      {info['file']}: {info['total_bytes']} bytes, {info['bpp']:.4f} bpp, format version {info['format_version']}",
        f"image     {info['width']}x{info['height']} {kind}",
        f"network   SIREN 2 -> {info['hidden_width']} x ({info['hidden_layers']} hidden + first) -> "
        f"{info['channels']}, omega0 {info['omega0_first']:g}/{info['omega0_hidden']:g}, "
        f"{info['parameters']} parameters",
        f"sparsity  {info['pruned']}/{info['weights']} weights pruned ({100 * info['sparsity']:.1f} %)",
        "",
        f"{'layer':<10}{'shape':>10}{'bits':>6}{'sparsity':>10}{'model':>10}{'range':>13}{'bias':>9}"
        f"{'mask B':>9}{'weights B':>11}{'other B':>9}{'bit/kept':>10}",
    ]
    for ly in info["layers"]:
        b = ly["bytes"]
        other = b["header"] + b["quant_params"] + b["entropy_model"] + b["biases"]
        lines.append(
            f"{ly['index']:>2} {ly['kind']:<7}{'x'.join(map(str, ly['shape'])):>10}{ly['bits']:>6}"
            f"{100 * ly['sparsity']:>9.1f}%{ly['model']:>10}{'%d..%d' % tuple(ly['range']):>13}"
            f"{ly['bias_dtype'].replace('float', 'f'):>9}{b['masks']:>9.1f}{b['weights']:>11.1f}{other:>9}"
            f"{ly['bits_per_kept_weight']:>10.2f}")
    by = info["bytes"]
    lines += ["", "bytes     " + ", ".join(f"{k.replace('_', ' ')} {v:.1f}" if isinstance(v, float) else
                                         f"{k.replace('_', ' ')} {v}" for k, v in by.items())
              + f"  = {sum(by.values()):.0f} total",
              "          (the payload is one range-coded stream; its split between masks and weights "
              "is attributed by information content)"]
    return "\n".join(lines)
