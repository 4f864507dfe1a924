"""The Kodak development subset: 256 x 256 centre crops of four Kodak images, for colour
measurements on a CPU (the full 24 at full size are the GPU's: ``device_run.py``).

    .venv/bin/python benchmarks/kodak_subset.py ../shared/data/kodak .data/kodak-dev

Four images that differ in what makes them hard: kodim01 (brick and wood texture), kodim05
(motorbikes: edges and fine detail), kodim15 (a face: smooth gradients), kodim23 (parrots:
saturated colour, where 4:2:0 chroma costs RGB PSNR). Crops are lossless PNGs named after
their source; each is the source's central 256 x 256 pixels (offsets floor((W - 256) / 2),
floor((H - 256) / 2)), whatever the source's orientation.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

IMAGES = ("kodim01", "kodim05", "kodim15", "kodim23")
SIZE = 256


def centre_crop(image: Image.Image, size: int = SIZE) -> Image.Image:
    width, height = image.size
    if width < size or height < size:
        raise ValueError(f"a {width}x{height} image is smaller than a {size}x{size} crop")
    left, top = (width - size) // 2, (height - size) // 2
    return image.crop((left, top, left + size, top + size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kodak", type=Path, help="folder holding kodim01.png ... kodim24.png")
    parser.add_argument("out", type=Path, help="folder for the crops (created)")
    args = parser.parse_args()
    missing = [name for name in IMAGES if not (args.kodak / f"{name}.png").is_file()]
    if missing:
        parser.exit(2, f"kodak_subset: error: {args.kodak} lacks {', '.join(m + '.png' for m in missing)}\n")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in IMAGES:
        with Image.open(args.kodak / f"{name}.png") as source:
            centre_crop(source.convert("RGB")).save(args.out / f"{name}_c256.png")
        print(args.out / f"{name}_c256.png")


if __name__ == "__main__":
    main()
