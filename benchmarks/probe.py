"""One real file from one training configuration: a quick lever probe before a full sweep.

    .venv/bin/python benchmarks/probe.py IMAGE [KEY=VALUE ...] [--preset default] [--threads 1] [--out F.srn]

Trains ``fit_network`` with the preset's ``FitConfig`` and the given overrides (any field,
e.g. ``hidden_width=44 prune=0.0 bits=7``; parsed as ``srnbench --settings`` parses them), packs
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

from sirencodec.bench.codecs import RATE_SETTINGS, SirenCodec
from sirencodec.bench.sweeps import parse_settings
from sirencodec.bitstream import pack
from sirencodec.config import PRESETS
from sirencodec.decoder import decode
from sirencodec.errors import InputError
from sirencodec.fit import fit_network
from sirencodec.imageio import load_image
from sirencodec.metrics import psnr


def config_from(preset: str, items: list[str]):
    """The preset's FitConfig with KEY=VALUE overrides, parsed and type-checked exactly as
    ``srnbench --settings`` does (``None``, ``a/b/c`` for tuples, ``0``/``1`` for flags)."""
    if not items:
        return PRESETS[preset]
    setting = parse_settings(",".join(items))[0]
    if set(setting) & set(RATE_SETTINGS):
        raise InputError("probe trains one fixed network; rate control settings do not apply")
    return SirenCodec(preset, device="cpu").config(setting)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="also write the .srn file here (for srninfo)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        config = config_from(args.preset, args.overrides)
    except InputError as error:
        raise SystemExit(f"probe: {error}") from None
    pixels, _ = load_image(args.image)
    start = time.perf_counter()
    fitted = fit_network(pixels, config, torch.device("cpu"))
    data = pack(fitted.network)
    decoded = decode(data)
    if args.out is not None:
        args.out.write_bytes(data)
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
