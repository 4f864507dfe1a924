"""Regenerate the golden test vectors.  Run ONLY when the format changes on purpose
(together with format_spec.md and FORMAT_VERSION):

    .venv/bin/python tests/golden/make_golden.py

Each vector is a deterministic random network packed to NAME.srn, with the image the
reference decoder renders from it saved as NAME.png.
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

import sirencodec  # noqa: E402
from netgen import random_network  # noqa: E402

VECTORS = {
    # The spec's worked example: 4x3 gray, 1 hidden layer of width 4, 5-bit weights.
    "tiny_gray": dict(width=4, height=3, channels=1, hidden_width=4, hidden_layers=1, bits=5,
                      sparsity=0.25, bias_dtype="float16", distribution="uniform"),
    "small_rgb": dict(width=16, height=12, channels=3, hidden_width=12, hidden_layers=2, bits=9,
                      sparsity=0.4, bias_dtype="float32", distribution="laplace"),
    "wide_gray": dict(width=23, height=1, channels=1, hidden_width=10, hidden_layers=3, bits=12,
                      sparsity=0.0, bias_dtype="float16", distribution="uniform"),
}


def main() -> None:
    for i, (name, kw) in enumerate(VECTORS.items()):
        net = random_network(np.random.default_rng(2026 + i), **kw)
        data = sirencodec.pack(net)
        (HERE / f"{name}.srn").write_bytes(data)
        Image.fromarray(sirencodec.decode(data)).save(HERE / f"{name}.png")
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
