"""What 4:2:0 output chroma would do to a colour run's curve: every latent file of an srnbench run
folder (one that holds the files, ``srnbench -o DIR``) decoded by the real decoder, its chroma
halved and brought back, and measured against the original image; printed as probe points for
``compare_runs.py RUN --probe``.

    .venv/bin/python benchmarks/chroma420.py bench-out/kodak-dev .data/kodak-dev > chroma420.jsonl
    .venv/bin/python benchmarks/compare_runs.py docs/results/kodak-dev --probe chroma420.jsonl --bd-range 0.25,2
    .venv/bin/python benchmarks/chroma420.py --ceiling .data/kodak-dev      # each original's own 4:2:0 round trip

4:2:0 here is JFIF's full-range YCbCr in floating point (``sirencodec.metrics.YCBCR``), each
chroma plane's 2 x 2 blocks averaged (an odd last row or column its own block) and
upsampled bilinearly with the samples at the blocks' centres (Pillow's ``resize`` of a float
plane), luma untouched, rounded to 8 bits once. The file's bytes are unchanged, so a probe
point has the file's bpp and the PSNR of the subsampled decode: how far a synthesis whose
chroma is subsampled after it falls below the same synthesis without, at the same rate.
``--ceiling`` prints the RGB and YCbCr-weighted PSNR of each original through 4:2:0 and
back: no 4:2:0 output reaches higher.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from sirencodec import decode
from sirencodec.bench.run import RESULTS_FILE, read_results
from sirencodec.metrics import YCBCR, psnr, psnr_ycbcr

RGB = np.linalg.inv(YCBCR)


def _halve_and_restore(plane: np.ndarray) -> np.ndarray:
    """A float plane's 2 x 2 means, resized back bilinearly to the plane's size."""
    h, w = plane.shape
    padded = np.pad(plane, ((0, h % 2), (0, w % 2)), mode="edge")
    half = padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2).mean(axis=(1, 3))
    image = Image.fromarray(half.astype(np.float32), mode="F")
    return np.asarray(image.resize((w, h), Image.Resampling.BILINEAR), dtype=np.float64)


def subsample_420(rgb: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] through 4:2:0 chroma and back to uint8 RGB."""
    ycc = rgb.astype(np.float64) @ YCBCR.T
    for k in (1, 2):
        ycc[..., k] = _halve_and_restore(ycc[..., k])
    return np.clip(np.rint(ycc @ RGB.T), 0, 255).astype(np.uint8)


def _originals(folder: Path) -> dict[str, np.ndarray]:
    images = {p.stem: np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))}
    if not images:
        raise SystemExit(f"chroma420: error: {folder} holds no .png image")
    return images


def probe(run: Path, originals: dict[str, np.ndarray], codec: str) -> int:
    rows = [r for r in read_results(run / RESULTS_FILE).values() if r["codec"] == codec]
    if not rows:
        raise SystemExit(f"chroma420: error: {run} has no {codec} rows in {RESULTS_FILE}")
    for row in sorted(rows, key=lambda r: (r["image"], r["bpp"])):
        original = originals.get(row["image"])
        if original is None:
            raise SystemExit(f"chroma420: error: no original for {row['image']} among the images given")
        data = (run / row["file"]).read_bytes()
        decoded = decode(data)
        if decoded.shape != original.shape:
            raise SystemExit(f"chroma420: error: {row['file']} is not a colour image of "
                             f"{row['image']}'s size")
        out = subsample_420(decoded)
        bpp = 8 * len(data) / (out.shape[0] * out.shape[1])
        print(json.dumps({"image": row["image"], "setting": row["setting"], "bpp": bpp,
                          "psnr": psnr(original, out), "psnr_ycbcr": psnr_ycbcr(original, out),
                          "psnr_444": psnr(original, decoded)}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, nargs="?", help="an srnbench output folder holding its files")
    parser.add_argument("images", type=Path, help="the folder of the run's original PNGs")
    parser.add_argument("--codec", default="latent", help="which rows to probe (default: latent)")
    parser.add_argument("--ceiling", action="store_true", help="print each original's own 4:2:0 round trip")
    args = parser.parse_args()
    originals = _originals(args.images)
    if args.ceiling:
        for name, image in originals.items():
            out = subsample_420(image)
            print(f"{name}: 4:2:0 round trip {psnr(image, out):.2f} dB RGB PSNR, "
                  f"{psnr_ycbcr(image, out):.2f} dB YCbCr")
        return 0
    if args.run is None:
        parser.error("a run folder is needed without --ceiling")
    return probe(args.run, originals, args.codec)


if __name__ == "__main__":
    sys.exit(main())
