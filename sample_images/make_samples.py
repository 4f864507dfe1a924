"""Recreate the bundled sample images from scikit-image's data (see README.md here)."""

from pathlib import Path

import skimage.data
from PIL import Image

HERE = Path(__file__).parent


def main() -> None:
    Image.fromarray(skimage.data.camera()[128:384, 128:384]).save(HERE / "cameraman256.png")
    Image.fromarray(skimage.data.coins()[40:232, 64:320]).save(HERE / "coins256x192.png")
    Image.fromarray(skimage.data.chelsea()[22:278, 97:353]).resize((128, 128), Image.LANCZOS).save(
        HERE / "chelsea128_rgb.png")


if __name__ == "__main__":
    main()
