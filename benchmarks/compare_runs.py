"""BD-rate of one srnbench run's sirencodec curve against another's: a lever's before/after.

    .venv/bin/python benchmarks/compare_runs.py BEFORE_DIR AFTER_DIR [--bd-range 0.4,1.6]
    .venv/bin/python benchmarks/compare_runs.py RUN_DIR --probe FILE... [--bd-range 0.4,1.6]

Reads both runs' ``results.csv`` (real files, real decodes), takes the sirencodec points of
each image present in both, and prints BD-rate and BD-PSNR of AFTER against BEFORE with the
project's Bjontegaard code (``sirencodec.bench.bdrate``), per image and their mean.
Negative BD-rate: AFTER needs fewer bytes for the same PSNR.

With ``--probe``, the test curve is instead made of probe results (JSON lines with ``image``,
``bpp`` and ``psnr``, as ``latent_probe.py --json`` prints; the image is the file's stem), and
it is compared against every codec of RUN_DIR (sirencodec, JPEG, WebP, ...) on the same images.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sirencodec.bench.bdrate import bd_psnr, bd_rate
from sirencodec.bench.run import read_results
from sirencodec.errors import InputError


def all_curves(run: Path) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """codec -> image -> (bpp, PSNR) points of one run."""
    out: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for row in read_results(run / "results.csv").values():
        out.setdefault(row["codec"], {}).setdefault(row["image"], []).append((float(row["bpp"]), float(row["psnr"])))
    return out


def curves(run: Path) -> dict[str, list[tuple[float, float]]]:
    return all_curves(run).get("siren", {})


def probe_curves(files: list[Path]) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {}
    for f in files:
        for line in f.read_text().splitlines():
            if line.strip():
                d = json.loads(line)
                out.setdefault(Path(d["image"]).stem, []).append((float(d["bpp"]), float(d["psnr"])))
    return out


def against_codecs(run: Path, probe: dict[str, list[tuple[float, float]]],
                   rate_range: tuple[float, float] | None, as_json: bool) -> int:
    anchors = all_curves(run)
    codecs = sorted(anchors)
    table: dict[str, dict[str, float]] = {}
    for codec in codecs:
        anchor = anchors[codec]
        for image in sorted(set(anchor) & set(probe)):
            table.setdefault(image, {})[codec] = bd_rate(anchor[image], probe[image], rate_range)
    if not table:
        print("compare_runs: error: no probed image is in the run", file=sys.stderr)
        return 2
    mean = {c: sum(r[c] for r in table.values()) / len(table) for c in codecs if all(c in r for r in table.values())}
    if as_json:
        print(json.dumps({"bd_rate_percent": table, "mean": mean, "bd_range_bpp": rate_range}, indent=2))
        return 0
    for image, r in [*table.items(), ("mean", mean)]:
        print(f"{image}: " + ", ".join(f"vs {c} {v:+.1f} %" for c, v in r.items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path, nargs="?")
    parser.add_argument("--probe", type=Path, nargs="+", metavar="FILE", help="probe JSON lines as the test curve")
    parser.add_argument("--bd-range", metavar="LO,HI", help="only the AFTER curve between these bpp")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rate_range = tuple(float(v) for v in args.bd_range.split(",")) if args.bd_range else None
    if (args.after is None) == (args.probe is None):
        parser.error("give either AFTER_DIR or --probe FILE...")
    if args.probe:
        return against_codecs(args.before, probe_curves(args.probe), rate_range, args.json)
    before, after = curves(args.before), curves(args.after)
    images = sorted(set(before) & set(after))
    if not images:
        print("compare_runs: error: no image has sirencodec points in both runs", file=sys.stderr)
        return 2
    result = {}
    for image in images:
        try:
            result[image] = {"bd_rate_percent": bd_rate(before[image], after[image], rate_range),
                             "bd_psnr_db": bd_psnr(before[image], after[image], rate_range),
                             "points": [len(before[image]), len(after[image])]}
        except InputError as error:  # e.g. a run still in progress: too few points yet
            print(f"compare_runs: {image} skipped: {error}", file=sys.stderr)
    if not result:
        print("compare_runs: error: no image has enough points in both runs", file=sys.stderr)
        return 2
    mean = {k: sum(r[k] for r in result.values()) / len(result) for k in ("bd_rate_percent", "bd_psnr_db")}
    if args.json:
        print(json.dumps({"images": result, "mean": mean, "bd_range_bpp": rate_range}, indent=2))
        return 0
    for image, r in result.items():
        print(f"{image}: BD-rate {r['bd_rate_percent']:+.1f} %, BD-PSNR {r['bd_psnr_db']:+.2f} dB "
              f"({r['points'][0]} -> {r['points'][1]} points)")
    print(f"mean: BD-rate {mean['bd_rate_percent']:+.1f} %, BD-PSNR {mean['bd_psnr_db']:+.2f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
