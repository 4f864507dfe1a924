"""Decoding: bytes -> pixels, and the byte/bit report of a file.  numpy only (no torch).

    pixels = decode(data)                      # uint8 [H, W] or [H, W, 3]
    info = inspect(data)                       # what srninfo --json prints
"""

from __future__ import annotations

import numpy as np

from .errors import FormatError
from .format import LatentNetwork, Parsed, ParsedLatent, QuantizedNetwork, unpack
from .format.entropy import MODEL_NAMES
from .format.siren_v3 import byte_breakdown
from .latent.synthesis import render_network
from .limits import check_dimensions
from .siren import network as siren_network


def decode(data: bytes, size: tuple[int, int] | None = None, scale: float | None = None) -> np.ndarray:
    """Decode a `.srn` file to uint8 [H, W] (gray) or [H, W, 3] (RGB).

    ``size=(W, H)`` or ``scale=S`` renders the same continuous image on another grid
    (the stored size times S, rounded, at least 1).  Raises FormatError on a bad file or
    an output beyond the pixel cap."""
    parsed = unpack(data)
    width, height = render_size(parsed, size, scale)
    return render(parsed.network, width, height)


def render(net: QuantizedNetwork | LatentNetwork, width: int | None = None, height: int | None = None) -> np.ndarray:
    """The image of a network description, uint8 [H, W] or [H, W, 3], at its stored size or
    W x H: a SIREN is evaluated on that grid, a latent-grid image resampled from its own."""
    if isinstance(net, LatentNetwork):
        width = net.width if width is None else width
        height = net.height if height is None else height
        check_dimensions(width, height, net.channels)  # before the work of rendering
        return _resample(render_network(net), width, height)
    return siren_network.render(net, width, height)


def _resample(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """A latent-grid image is defined on its stored grid; other sizes are resampled from it
    (Pillow's bicubic filter)."""
    if pixels.shape[1] == width and pixels.shape[0] == height:
        return pixels
    from PIL import Image

    check_dimensions(width, height, 1)
    return np.asarray(Image.fromarray(pixels).resize((width, height), Image.Resampling.BICUBIC))


def render_size(parsed: Parsed, size: tuple[int, int] | None, scale: float | None) -> tuple[int, int]:
    net = parsed.network
    if size is not None and scale is not None:
        raise FormatError("give either an output size or a scale, not both")
    if size is not None:
        return int(size[0]), int(size[1])
    if scale is not None:
        if not (np.isfinite(scale) and scale > 0):
            raise FormatError(f"scale must be a positive number, got {scale}")
        w, h = net.width * scale, net.height * scale
        if w > 1e6 or h > 1e6:
            raise FormatError(f"scale {scale} gives an output beyond the size limit")
        return max(1, round(w)), max(1, round(h))
    return net.width, net.height


def inspect(data: bytes) -> dict:
    """Header, per-layer coding facts and a byte breakdown that sums to the file size."""
    parsed = unpack(data)
    if isinstance(parsed, ParsedLatent):
        return _inspect_latent(parsed, data)
    net = parsed.network
    sec, layer_bytes = byte_breakdown(parsed)
    pixels = net.width * net.height
    layers = []
    for i, (li, nbytes) in enumerate(zip(parsed.layers, layer_bytes)):
        total = li.shape[0] * li.shape[1]
        layers.append({
            "index": i,
            "kind": "first" if i == 0 else ("output" if i == len(parsed.layers) - 1 else "hidden"),
            "shape": list(li.shape),
            "bits": li.bits,
            "scale": li.scale,
            "zero_point": li.zero_point,
            "weights": total,
            "pruned": li.pruned,
            "sparsity": li.pruned / total,
            "model": MODEL_NAMES[li.model.kind],
            "range": [li.model.lo, li.model.hi],
            "bias_dtype": li.bias_dtype,
            "bias_bits": li.bias_code[0] if li.bias_code is not None else None,
            "seeded_residual": li.weight_residual,  # version 3: weights coded as residuals from seeded values
            "bias_seeded_residual": li.bias_residual,
            "bytes": {k: round(v, 2) for k, v in nbytes.items()},
            "bits_per_kept_weight": (8 * nbytes["weights"] / (total - li.pruned)) if total > li.pruned else 0.0,
        })
    breakdown = {
        "header": sec.header,
        "quant_params": sec.quant_params,
        "entropy_models": sec.entropy_models,
        "masks": sec.masks,
        "weights": sec.weights,
        "biases": sec.biases,
        "crc": sec.crc,
    }
    total_weights = net.num_weights
    pruned = sum(li.pruned for li in parsed.layers)
    return {
        "format_version": parsed_version(data),
        "kind": "siren",
        "width": net.width,
        "height": net.height,
        "channels": net.channels,
        "hidden_width": net.hidden_width,
        "hidden_layers": net.hidden_layers,
        "omega0_first": net.omega0_first,
        "omega0_hidden": net.omega0_hidden,
        "parameters": total_weights + sum(li.shape[0] for li in parsed.layers),
        "weights": total_weights,
        "pruned": pruned,
        "sparsity": pruned / total_weights,
        "layers": layers,
        "bytes": breakdown,
        "total_bytes": parsed.file_bytes,
        "bpp": 8 * parsed.file_bytes / pixels,
    }


def parsed_version(data: bytes) -> int:
    return int(data[3])


def _inspect_latent(parsed: ParsedLatent, data: bytes) -> dict:
    net = parsed.network
    names = (["synthesis"] * len(net.synthesis) + ["conv"] * (net.conv is not None) + ["arm"] * len(net.arm))
    layers = []
    for i, (rec, kind) in enumerate(zip(parsed.records, names)):
        layers.append({"index": i, "kind": kind, "shape": list(rec.shape), "bits": rec.bits, "scale": rec.scale,
                       "bias_scale": rec.bias_scale, "model": MODEL_NAMES[rec.model.kind],
                       "record_bytes": rec.bytes})
    grids = [{"shape": list(g.shape), "reach": reach, "nonzero": int(np.count_nonzero(g))}
             for g, reach in zip(net.grids, parsed.reaches)]
    pixels = net.width * net.height
    up = parsed.upsampling_record
    breakdown = {
        "header": parsed.fixed_bytes,
        "layer_records": sum(rec.bytes for rec in parsed.records) + (up.bytes if up else 0),
        "weights": parsed.weights_payload_bytes,
        "latents": parsed.latents_payload_bytes,
        "crc": 4,
    }
    return {
        "format_version": parsed_version(data),
        "kind": "latent",
        "width": net.width,
        "height": net.height,
        "channels": net.channels,
        "levels": len(net.grids),
        "grid_levels": list(net.grid_levels),
        "context": net.context,
        "channel_context": net.channel_context,
        "synthesis": [ly.weight.shape[0] for ly in net.synthesis],
        "conv": net.conv is not None,
        "arm": [ly.weight.shape[0] for ly in net.arm],
        "upsampling": ("bicubic" if up is None else
                       {"filters": up.shape[0], "bits": up.bits, "scale": up.scale, "model": MODEL_NAMES[up.model.kind],
                        "record_bytes": up.bytes}),
        "parameters": (sum(int(np.prod(rec.shape)) + rec.shape[0] for rec in parsed.records)
                       + (int(np.prod(up.shape)) if up else 0)),
        "latents": sum(g.size for g in net.grids),
        "grids": grids,
        "layers": layers,
        "bytes": breakdown,
        "total_bytes": parsed.file_bytes,
        "bpp": 8 * parsed.file_bytes / pixels,
    }

