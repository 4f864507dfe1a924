"""sirencodec: an image codec whose bitstream is a neural network: a pruned, quantized SIREN
(format version 3), or latent grids with a small synthesis network (version 4).

Decoding needs numpy only::

    img = sirencodec.decode(open("x.srn", "rb").read())      # uint8 [H, W] or [H, W, 3]

Writing a file from a quantized network description::

    data = sirencodec.pack(net)                              # net: QuantizedNetwork
    data = sirencodec.pack_latent(net)                       # net: latentnet.LatentNetwork

Encoding an image (trains a network; imports torch on first use)::

    result = sirencodec.encode(image, config)                # -> codec.EncodeResult
"""

from .bitstream import pack, pack_latent, unpack
from .decoder import decode, inspect
from .errors import FormatError, InputError, SrnError
from .network import QuantizedLayer, QuantizedNetwork, QuantizedTensor

__version__ = "0.1.0"

__all__ = [
    "decode", "inspect", "pack", "pack_latent", "unpack", "encode",
    "QuantizedNetwork", "QuantizedLayer", "QuantizedTensor",
    "SrnError", "FormatError", "InputError",
]


def encode(image, config=None, **kwargs):
    """Encode a uint8 image; see ``sirencodec.codec.encode``.  Imports torch lazily so that
    ``import sirencodec`` and decoding stay numpy-only."""
    from .codec import encode as _encode

    return _encode(image, config, **kwargs)
