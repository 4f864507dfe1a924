"""Recreate the bundled sample images from scikit-image's data (see README.md here)."""

from pathlib import Path

import skimage.data
from PIL import Image

HERE = Path(__file__).parent


def main() -> None:
    Image.fromarray(skimage.data.camera()[128:384, 128:384]).save(HERE / "cameraman256.png")
    # Pillow's ITU-R 601 luma of the colour photograph (scikit-image's own gray images
    # other than camera() carry old JPEG artefacts, which flatter JPEG in a benchmark).
    gray = Image.fromarray(skimage.data.astronaut()).convert("L")
    gray.crop((150, 40, 406, 232)).save(HERE / "astronaut256x192.png")
    Image.fromarray(skimage.data.chelsea()[22:278, 97:353]).resize((128, 128), Image.LANCZOS).save(
        HERE / "chelsea128_rgb.png")


if __name__ == "__main__":
    main()
