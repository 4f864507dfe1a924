"""``srndec``: decode a .srn file to an image."""

from __future__ import annotations

import click

from ..errors import InputError
from .common import command, handle_errors, parse_size, read_input, write_stdout


@command("srndec")
@click.argument("src", metavar="IN.srn")
@click.option("-o", "--output", "dst", required=True, metavar="OUT",
              help="Output image (format from the extension: .png, .bmp, .tif, .jpg ...); '-' for stdout.")
@click.option("--size", metavar="WxH", help="Render at another resolution, e.g. 1024x1024.")
@click.option("--scale", type=float, metavar="S", help="Render at S times the stored resolution.")
@click.option("--format", "fmt", metavar="FMT", help="Pillow format name when writing to stdout (default PNG).")
@handle_errors("srndec")
def srndec(src: str, dst: str, size: str | None, scale: float | None, fmt: str | None) -> None:
    """Decode a .srn file to an image ('-' reads stdin)."""
    from ..decoder import decode
    from ..imageio import check_output, encode_image_bytes, save_image

    if dst != "-":
        check_output(dst)  # before decoding
    pixels = decode(read_input(src), size=parse_size(size), scale=scale)
    if dst == "-":
        try:
            data = encode_image_bytes(pixels, (fmt or "PNG").upper())
        except (KeyError, OSError, ValueError) as exc:
            raise InputError(f"cannot write format '{fmt}': {exc}") from None
        write_stdout(data)
    else:
        save_image(pixels, dst, fmt.upper() if fmt else None)
