"""One real file from one training configuration: a quick lever probe before a full sweep.

    .venv/bin/python benchmarks/probe.py IMAGE [KEY=VALUE ...] [--preset default] [--threads 1]

Trains ``fit_network`` with the preset's ``FitConfig`` and the given overrides (any field,
e.g. ``hidden_width=44 prune=0.0 bits=7``; ``None`` for None, ``a:b:c`` for tuples), packs
the file with the real writer, decodes it with the real decoder, and prints one JSON line:
bytes, bpp, decoded PSNR, the float PSNR after each stage and the time.  A probe that looks
good is then confirmed with ``srnbench`` and ``benchmarks/compare_runs.py`` on several images.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from sirencodec.bitstream import pack
from sirencodec.config import PRESETS
from sirencodec.decoder import decode
from sirencodec.fit import fit_network
from sirencodec.imageio import load_image
from sirencodec.metrics import psnr


def override(base, items: list[str]):
    """``base`` (a FitConfig) with KEY=VALUE overrides, each parsed as its field's type."""
    kv = {}
    for item in items:
        key, _, text = item.partition("=")
        if not hasattr(base, key):
            raise SystemExit(f"probe: FitConfig has no field {key!r}")
        cur = getattr(base, key)
        if text == "None":
            kv[key] = None
        elif isinstance(cur, tuple) or (cur is None and ":" in text):
            kv[key] = tuple(float(v) for v in text.split(":"))
        elif isinstance(cur, str):
            kv[key] = text
        elif isinstance(cur, int) or (cur is None and text.lstrip("-").isdigit()):
            kv[key] = int(text)
        else:
            kv[key] = float(text)
    return dataclasses.replace(base, **kv)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = override(PRESETS[args.preset], args.overrides)
    pixels, _ = load_image(args.image)
    start = time.perf_counter()
    fitted = fit_network(pixels, config, torch.device("cpu"))
    data = pack(fitted.network)
    decoded = decode(data)
    print(json.dumps({
        "image": args.image.name, "overrides": args.overrides, "bytes": len(data),
        "bpp": round(8 * len(data) / (pixels.shape[0] * pixels.shape[1]), 4),
        "psnr": round(psnr(pixels, decoded), 3),
        "stage_psnr": {k: round(v, 2) for k, v in fitted.stage_psnr.items()},
        "seconds": round(time.perf_counter() - start, 1),
    }), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
