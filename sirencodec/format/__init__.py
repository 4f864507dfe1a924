"""The `.srn` format: everything a decoder needs to turn a file into a network description,
and a writer to turn a description into a file.  numpy and constriction only (no torch).

* ``container`` - what every version shares: magic, version, CRC, bounds-checked reading;
* ``siren_v3`` - SIREN files (versions 1-3): ``QuantizedNetwork``, its writer and reader;
* ``latent_v4`` - latent-grid files (versions 4 to 7): ``LatentNetwork``, its writer and reader;
* ``tensors`` - the stored tensors (``QuantizedTensor``, ``QuantizedLayer``);
* ``entropy`` - range coding of masks and integer weights; ``arm`` - of latent grids, with the
  integer autoregressive model; ``seeded`` - the seeded values version 3 codes residuals from.

What a network's image is (its numpy evaluation) lives with each codec:
``sirencodec.siren.network`` and ``sirencodec.latent.synthesis``.

    data = pack(net)          # QuantizedNetwork or LatentNetwork -> a complete file
    parsed = unpack(data)     # siren_v3.Parsed or latent_v4.ParsedLatent; .network
    assert unpack(data).file_bytes == len(data)
"""

from __future__ import annotations

from . import latent_v4, siren_v3
from .container import (
    FORMAT_VERSION,
    LATENT_LEVELS_VERSION,
    LATENT_CHANNEL_VERSION,
    LATENT_UPSAMPLING_VERSION,
    LATENT_VERSION,
    LATENT_VERSIONS,
    MAGIC,
    READ_VERSIONS,
    SIREN_VERSION,
    check_envelope,
)
from .latent_v4 import LatentNetwork, ParsedLatent
from .siren_v3 import Parsed, QuantizedNetwork
from .tensors import QuantizedLayer, QuantizedTensor

__all__ = [
    "pack", "unpack", "pack_latent", "check_file", "QuantizedNetwork", "LatentNetwork", "QuantizedLayer",
    "QuantizedTensor", "Parsed", "ParsedLatent", "MAGIC", "FORMAT_VERSION", "SIREN_VERSION", "LATENT_VERSION",
    "LATENT_LEVELS_VERSION", "LATENT_UPSAMPLING_VERSION", "LATENT_CHANNEL_VERSION", "READ_VERSIONS",
]

_HEADER_BYTES = {**{v: siren_v3.HEADER.size for v in (1, 2, 3)}, **{v: latent_v4.HEADER.size for v in LATENT_VERSIONS}}


def pack(net: QuantizedNetwork | LatentNetwork) -> bytes:
    """A complete file for ``net`` (validated first): version 3 for a SIREN, 4, 5 or 6 for latent
    grids (``LatentNetwork.version``)."""
    if isinstance(net, LatentNetwork):
        return latent_v4.pack(net)
    if isinstance(net, QuantizedNetwork):
        return siren_v3.pack(net)
    raise TypeError(f"cannot pack a {type(net).__name__}")


def pack_latent(net: LatentNetwork, trim_tries: int = latent_v4.TRIM_TRIES) -> bytes:
    """A latent-grid file; ``trim_tries`` as in :func:`latent_v4.pack` (0: fast, a few bytes longer)."""
    return latent_v4.pack(net, trim_tries)


def check_file(data: bytes) -> int:
    """The envelope checks every reader makes first (size cap, magic, version, length, CRC);
    returns the version.  FormatError on any defect."""
    return check_envelope(data, _HEADER_BYTES)


def unpack(data: bytes) -> Parsed | ParsedLatent:
    """Parse and entropy-decode a `.srn` file of any version this package reads.  Raises
    FormatError on any defect, before allocating anything a limit forbids."""
    version = check_file(data)
    data = bytes(data)
    return latent_v4.unpack(data) if version in LATENT_VERSIONS else siren_v3.unpack(data)
