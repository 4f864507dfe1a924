"""`make demo`: decode a bundled .srn file and print its rate and size."""

from pathlib import Path

from .decoder import decode, inspect

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    path = ROOT / "tests" / "golden" / "small_rgb.srn"
    data = path.read_bytes()
    img = decode(data)
    info = inspect(data)
    print(f"{path.name}: {len(data)} bytes, {info['bpp']:.3f} bpp, decoded to {img.shape}")


if __name__ == "__main__":
    main()
