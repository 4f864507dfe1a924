"""Golden vectors: committed .srn files and the images they must decode to.

Tolerance: every pixel within +-1 of the committed image.  The spec allows this because a
decoder computes in float32 and sin() may differ by an ulp between math libraries, which
can move a value across a rounding boundary.  In practice (same numpy) all pixels match.
"""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sirencodec

GOLDEN = Path(__file__).parent / "golden"
NAMES = ["tiny_gray", "small_rgb", "wide_gray"]


@pytest.mark.parametrize("name", NAMES)
def test_golden_vector_decodes_to_committed_image(name):
    data = (GOLDEN / f"{name}.srn").read_bytes()
    expected = np.asarray(Image.open(GOLDEN / f"{name}.png"))
    got = sirencodec.decode(data)
    assert got.shape == expected.shape and got.dtype == np.uint8
    diff = np.abs(got.astype(int) - expected.astype(int))
    assert diff.max() <= 1
    assert (diff == 0).mean() >= 0.99
    assert len(np.unique(expected)) > 1  # the vector exercises a non-constant image


@pytest.mark.parametrize("name", NAMES)
def test_golden_vector_is_rewritten_byte_identically(name):
    data = (GOLDEN / f"{name}.srn").read_bytes()
    assert sirencodec.pack(sirencodec.unpack(data).network) == data


def test_tiny_vector_matches_spec_hex_dump():
    """format_spec.md's worked example shows this file's bytes; keep them in step."""
    spec = (Path(__file__).parent.parent / "format_spec.md").read_text()
    data = (GOLDEN / "tiny_gray.srn").read_bytes()
    hex_in_spec = "".join(
        line.split("|")[0].split(":", 1)[1].replace(" ", "")
        for line in spec.splitlines() if line.startswith("    0000")
    )
    assert hex_in_spec == data.hex()
