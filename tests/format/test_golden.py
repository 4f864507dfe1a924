"""Golden vectors: committed .srn files and the images they must decode to.

Tolerance: every pixel within +-1 of the committed image.  The spec allows this because a
decoder computes in float32 and sin() may differ by an ulp between math libraries, which
can move a value across a rounding boundary.  In practice (same numpy) all pixels match.
"""


import numpy as np
import pytest
from PIL import Image

import sirencodec
from tests import GOLDEN, ROOT

V3 = ["tiny_seeded", "seeded_rgb"]  # format version 3, with seeded residuals
V2 = ["tiny_gray", "qbias_rgb"]  # written by the version 2 writer (quantized biases); must still decode
V1 = ["small_rgb", "wide_gray"]  # written by the version 1 writer; must still decode
V4 = ["latent_gray", "latent_rgb"]  # format version 4: latent-grid networks
V5 = ["latent_levels_rgb"]  # format version 5: latent grids with each grid's level stored
V6 = ["latent_upsampling_gray"]  # format version 6: learned upsampling filters
V7 = ["latent_channel_rgb"]  # format version 7: an ARM that also reads other grids' co-located latents
NAMES = V7 + V6 + V5 + V4 + V3 + V2 + V1


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


@pytest.mark.parametrize("name", V3)
def test_golden_vector_is_rewritten_byte_identically(name):
    data = (GOLDEN / f"{name}.srn").read_bytes()
    assert data[3] == 3
    assert sirencodec.pack(sirencodec.unpack(data).network) == data


@pytest.mark.parametrize("name", V4 + V5 + V6 + V7)
def test_latent_vector_is_rewritten_byte_identically(name):
    from sirencodec.format import pack_latent

    data = (GOLDEN / f"{name}.srn").read_bytes()
    assert data[3] == (7 if name in V7 else 6 if name in V6 else 5 if name in V5 else 4)
    parsed = sirencodec.unpack(data)
    assert len(parsed.network.grids) > 1 and any(np.count_nonzero(g) for g in parsed.network.grids)
    assert pack_latent(parsed.network) == data


def test_v3_vectors_exercise_seeded_residuals():
    for name in V3:
        net = sirencodec.unpack((GOLDEN / f"{name}.srn").read_bytes()).network
        assert net.layers[0].weight.offset is not None
        codes = [layer.bias_code for layer in net.layers if layer.bias_code is not None]
        assert codes and all(code.offset is not None for code in codes)


def test_v2_vectors_exercise_quantized_biases():
    for name in V2:
        net = sirencodec.unpack((GOLDEN / f"{name}.srn").read_bytes()).network
        assert "quantized" in [layer.bias_dtype for layer in net.layers]
        assert all(layer.weight.offset is None for layer in net.layers)


@pytest.mark.parametrize("name,version", [(n, 2) for n in V2] + [(n, 1) for n in V1])
def test_older_vector_rewrites_as_version_3_with_the_same_body(name, version):
    # Versions 2 and 3 only added flags: an older file is a version 3 file with another
    # version byte (and so another CRC).
    data = (GOLDEN / f"{name}.srn").read_bytes()
    assert data[3] == version
    again = sirencodec.pack(sirencodec.unpack(data).network)
    assert again[3] == 3 and again[:3] == data[:3] and again[4:-4] == data[4:-4]


def spec_hex_dumps() -> list[str]:
    """The hex dumps of format_spec.md's worked examples, in order (ASCII columns dropped)."""
    spec = (ROOT / "format_spec.md").read_text()
    dumps, current = [], []
    for line in spec.splitlines() + [""]:
        if line.startswith("    0000"):
            current.append(line.split(":", 1)[1][:40].replace(" ", ""))
        elif current:
            dumps.append("".join(current))
            current = []
    return dumps


def test_tiny_vector_matches_spec_hex_dump():
    """format_spec.md's worked example shows this file's bytes; keep them in step."""
    data = (GOLDEN / "tiny_seeded.srn").read_bytes()
    assert spec_hex_dumps()[0] == data.hex()


def test_latent_vector_matches_spec_hex_dump():
    """Section 10's worked example shows the first 64 bytes of latent_gray.srn."""
    data = (GOLDEN / "latent_gray.srn").read_bytes()
    assert spec_hex_dumps()[1] == data[:64].hex()


def test_every_line_of_the_latent_hex_dumps_is_its_file():
    """Sections 10's worked examples of versions 5, 6 and 7 show some lines of their files:
    each line is the file's 16 bytes at its offset."""
    spec = (ROOT / "format_spec.md").read_text()
    checked = set()
    for name in ("latent_levels_rgb", "latent_upsampling_gray", "latent_channel_rgb"):
        data = (GOLDEN / f"{name}.srn").read_bytes()
        example = spec.split(f"`tests/format/golden/{name}.srn`", 1)[1].split("**Worked example", 1)[0]
        lines = [ln for ln in example.splitlines() if ln.startswith("    0000")]
        assert lines
        for line in lines:
            offset, hexes = line.split(":", 1)
            start = int(offset, 16)
            assert hexes[:40].replace(" ", "") == data[start:start + 16].hex(), (name, offset)
        checked.add(name)
    assert len(checked) == 3
