"""sirencodec: an image codec whose bitstream is a neural network: latent grids with a small
synthesis network (format version 4, the default), or a pruned, quantized SIREN (version 3).

Encoding (what ``srnenc`` does; trains a network, imports torch on first use)::

    result = sirencodec.encode(image)                   # uint8 [H, W] or [H, W, 3], or a path
    result = sirencodec.encode(image, target_bpp=0.8)   # keywords are srnenc's options
    results = sirencodec.encode_many([a, b, c])          # networks of one shape train together
    open("x.srn", "wb").write(result.data)              # result.decoded, result.report

Decoding needs numpy only::

    img = sirencodec.decode(open("x.srn", "rb").read())  # uint8 [H, W] or [H, W, 3]
    info = sirencodec.inspect(data)                      # what srninfo --json prints

Writing a file from a network description::

    data = sirencodec.pack(net)                          # QuantizedNetwork or LatentNetwork

Layout: ``format`` (the bytes: container, one reader/writer per version, entropy coding, the
integer ARM), ``siren`` and ``latent`` (each codec's math, torch model, training, rate control),
``encoder`` / ``decoder`` (the entry points), ``cli`` and ``bench`` (the tools).
"""

from .decoder import decode, inspect, render
from .errors import FormatError, InputError, SrnError
from .format import LatentNetwork, QuantizedLayer, QuantizedNetwork, QuantizedTensor, pack, pack_latent, unpack

__version__ = "0.1.0"

__all__ = [
    "encode", "encode_many", "plan", "EncodeResult", "decode", "inspect", "render", "pack", "pack_latent", "unpack",
    "QuantizedNetwork", "LatentNetwork", "QuantizedLayer", "QuantizedTensor",
    "SrnError", "FormatError", "InputError",
]

_LAZY = {"encode": "encoder", "encode_many": "encoder", "plan": "encoder", "EncodeResult": "result"}


def __getattr__(name: str):
    """``encode``, ``encode_many``, ``plan`` and ``EncodeResult`` load on first use, so that ``import sirencodec``
    and decoding stay numpy-only."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
