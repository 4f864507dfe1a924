"""Regenerate the golden test vectors.  Run ONLY when the format changes on purpose
(together with format_spec.md and FORMAT_VERSION):

    .venv/bin/python -m tests.format.golden.make_golden [NAME ...]   (from the repository's root)

Each vector is a deterministic random network packed to NAME.srn, with the image the
reference decoder renders from it saved as NAME.png.
"""

from pathlib import Path

import numpy as np
from PIL import Image

import sirencodec
from sirencodec.format import pack_latent
from tests.netgen import random_latent_network, random_network

HERE = Path(__file__).parent

# Format version 3 vectors (written by this generator).
VECTORS = {
    # The spec's worked example: 4x3 gray, 1 hidden layer of width 4, 5-bit weights, the
    # first layer's weights and the quantized biases (first and hidden layer) coded as
    # residuals from their seeded values, as the encoder writes them.
    "tiny_seeded": dict(width=4, height=3, channels=1, hidden_width=4, hidden_layers=1, bits=5,
                        sparsity=0.25, bias_dtype=("quantized", "quantized", "float16"), distribution="uniform",
                        seeded_residuals=True),
    "seeded_rgb": dict(width=15, height=10, channels=3, hidden_width=9, hidden_layers=2, bits=8,
                       sparsity=0.3, bias_dtype=("quantized", "float32", "quantized", "float16"),
                       distribution="laplace", seeded_residuals=True),
}
SEEDS = {"tiny_seeded": 2026, "seeded_rgb": 2029}
# Vectors of earlier versions, kept as their writers wrote them (a reader must still decode
# them); this generator does not rewrite them.  Version 2 (quantized biases): tiny_gray,
# qbias_rgb.  Version 1: small_rgb, wide_gray.
V2_VECTORS = ("tiny_gray", "qbias_rgb")
V1_VECTORS = ("small_rgb", "wide_gray")
# Format version 4, 5 and 6 vectors: latent-grid networks (format_spec.md section 10).
LATENT_VECTORS = {
    # The worked example of section 10: 12x8 gray, 3 grids, synthesis 3 -> 4 -> 1 with the
    # 3x3 convolution, an ARM 8 -> 4 -> 2, 7-bit parameters.
    "latent_gray": dict(width=12, height=8, channels=1, levels=3, synthesis=(4,), conv=True, context=8,
                        arm=(4,), bits=7),
    "latent_rgb": dict(width=9, height=7, channels=3, levels=4, synthesis=(5, 3), conv=True, context=12,
                       arm=(3, 3), bits=9, latent_scale=2.5),
    # Format version 5 (the spec's second worked example): each grid's level in the shape
    # record; level 0 has one grid, levels 1 and 2 two each, levels 3 and 4 none (11x10 RGB:
    # levels 0..4 are 10x11, 5x6, 3x3, 2x2, 1x1).
    "latent_levels_rgb": dict(width=11, height=10, channels=3, grid_levels=(0, 1, 1, 2, 2), synthesis=(6,),
                              conv=True, context=8, arm=(4,), bits=8, latent_scale=2.0),
    # Format version 6 (the spec's third worked example): learned x2 filters, one per level
    # 1..3 (an 13x10 gray image; grids at levels 0, 1, 1, 3), 6-bit residuals from Keys' taps.
    "latent_upsampling_gray": dict(width=13, height=10, channels=1, grid_levels=(0, 1, 1, 3), synthesis=(5,),
                                   conv=True, context=8, arm=(4,), bits=8, latent_scale=2.0, upsampling_bits=6),
    # Format version 7 (the spec's fourth worked example): an ARM of 8 neighbours that also reads
    # the co-located latents of the two grids before a grid at its level (a 10x8 RGB image;
    # one grid at level 0, three at level 1, two at level 2).
    "latent_channel_rgb": dict(width=10, height=8, channels=3, grid_levels=(0, 1, 1, 1, 2, 2), synthesis=(5,),
                               conv=True, context=8, arm=(4,), bits=8, latent_scale=2.0, upsampling_bits=6,
                               channel_context=2),
}
LATENT_SEEDS = {"latent_gray": 2041, "latent_rgb": 2042, "latent_levels_rgb": 2043, "latent_upsampling_gray": 2044,
                "latent_channel_rgb": 2045}


def main(only: tuple[str, ...] = ()) -> None:
    """Every vector, or the ``only`` ones."""
    for name, kw in VECTORS.items():
        if only and name not in only:
            continue
        net = random_network(np.random.default_rng(SEEDS[name]), **kw)
        data = sirencodec.pack(net)
        (HERE / f"{name}.srn").write_bytes(data)
        Image.fromarray(sirencodec.decode(data)).save(HERE / f"{name}.png")
        print(f"{name}: {len(data)} bytes")
    for name, kw in LATENT_VECTORS.items():
        if only and name not in only:
            continue
        net = random_latent_network(np.random.default_rng(LATENT_SEEDS[name]), **kw)
        data = pack_latent(net)
        (HERE / f"{name}.srn").write_bytes(data)
        Image.fromarray(sirencodec.decode(data)).save(HERE / f"{name}.png")
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    import sys

    main(tuple(sys.argv[1:]))
