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
    # The rate-distortion test set (docs/results/): three more 256 x 256 gray photographs.
    # Downscaling (or an offset off the 8 x 8 grid) leaves no trace of an earlier JPEG.
    Image.fromarray(skimage.data.astronaut()).convert("L").resize((256, 256), Image.LANCZOS).save(
        HERE / "astronaut256.png")
    Image.fromarray(skimage.data.chelsea()).convert("L").crop((97, 22, 353, 278)).save(HERE / "chelsea256.png")
    coffee = Image.fromarray(skimage.data.coffee()).convert("L").resize((384, 256), Image.LANCZOS)
    coffee.crop((64, 0, 320, 256)).save(HERE / "coffee256.png")


if __name__ == "__main__":
    main()
