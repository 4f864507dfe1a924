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
V2 = ["tiny_gray", "qbias_rgb"]  # format version 2, with quantized biases
V1 = ["small_rgb", "wide_gray"]  # written by the version 1 writer; must still decode
NAMES = V2 + V1


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


@pytest.mark.parametrize("name", V2)
def test_golden_vector_is_rewritten_byte_identically(name):
    data = (GOLDEN / f"{name}.srn").read_bytes()
    assert data[3] == 2
    assert sirencodec.pack(sirencodec.unpack(data).network) == data


def test_v2_vectors_exercise_quantized_biases():
    for name in V2:
        net = sirencodec.unpack((GOLDEN / f"{name}.srn").read_bytes()).network
        assert "quantized" in [layer.bias_dtype for layer in net.layers]


@pytest.mark.parametrize("name", V1)
def test_version_1_vector_rewrites_as_version_2_with_the_same_body(name):
    # Version 2 only added a flag: a version 1 file is a version 2 file with another
    # version byte (and so another CRC).
    data = (GOLDEN / f"{name}.srn").read_bytes()
    assert data[3] == 1
    again = sirencodec.pack(sirencodec.unpack(data).network)
    assert again[3] == 2 and again[:3] == data[:3] and again[4:-4] == data[4:-4]


def test_tiny_vector_matches_spec_hex_dump():
    """format_spec.md's worked example shows this file's bytes; keep them in step."""
    spec = (Path(__file__).parent.parent / "format_spec.md").read_text()
    data = (GOLDEN / "tiny_gray.srn").read_bytes()
    hex_in_spec = "".join(
        line.split("|")[0].split(":", 1)[1].replace(" ", "")
        for line in spec.splitlines() if line.startswith("    0000")
    )
    assert hex_in_spec == data.hex()
