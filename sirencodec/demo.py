"""`make demo`: encode the bundled cameraman crop with srnenc's default network and quality
(the latent network, --quality 5) but about a sixth of its training steps, so that it takes a
minute or two on a CPU; decode the file, and print bytes, bpp and PSNR (all measured on the
real file)."""

import sys
from pathlib import Path

from .decoder import decode
from .encoder import encode
from .imageio import atomic_write, load_image, save_image
from .latent.config import QUICK_STEPS
from .metrics import psnr
from .progress import ProgressBars
from .ratecontrol import DEFAULT_QUALITY

DEMO_STEPS = QUICK_STEPS
ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    src = ROOT / "sample_images" / "cameraman256.png"
    out_dir = ROOT / "out"
    out_dir.mkdir(exist_ok=True)
    image, _ = load_image(src)
    print(f"encoding {src.relative_to(ROOT)} ({image.shape[1]}x{image.shape[0]}): latent network, "
          f"--quality {DEFAULT_QUALITY}, --latent-steps {DEMO_STEPS} ...")
    with ProgressBars(enabled=sys.stderr.isatty()) as bars:
        result = encode(image, quality=DEFAULT_QUALITY, latent_steps=DEMO_STEPS, progress=bars.update)
    srn = out_dir / "cameraman256.srn"
    with atomic_write(srn) as f:
        f.write(result.data)
    data = srn.read_bytes()
    decoded = decode(data)
    save_image(decoded, str(out_dir / "cameraman256_decoded.png"))
    h, w = image.shape[:2]
    print(f"{srn.relative_to(ROOT)}: {len(data)} bytes, {8 * len(data) / (h * w):.4f} bpp, "
          f"PSNR {psnr(image, decoded):.2f} dB (decoded from the file), "
          f"encode {result.report['seconds']['total']:.1f} s on {result.report['device']}")
    print(f"decoded image: {(out_dir / 'cameraman256_decoded.png').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
