"""Runs compared from their ``results.csv`` (real files, real decodes), with the project's
Bjøntegaard code (:mod:`.bdrate`):

* ``BEFORE AFTER``: BD-rate and BD-PSNR of AFTER's sirencodec curve against BEFORE's, per image
  present in both and their mean: a lever's before/after (negative BD-rate: AFTER needs fewer
  bytes for the same PSNR);
* ``RUN --probe FILE...``: probe points (JSON lines with ``image``, ``bpp``, ``psnr``; the image
  is the file's stem) against every codec of RUN;
* ``--table RUN...``: each sirencodec codec of each run against the anchors, the mean BD-rate
  over its images, as a markdown table (the README's);
* ``--metric psnr_ycbcr`` (with ``BEFORE AFTER`` or ``--table``): BD on the YCbCr-weighted PSNR
  instead of the RGB one (colour images only; gray rows have none);
* ``--select RUN...``: per-image choice among the runs' networks: for each image and rate weight
  lam that every run trained, the file with the lowest ``MSE + lam * bpp`` (the training's own
  objective, MSE of pixels in [0, 1], on the real file and decode), as an encoder that trains
  each run's network and keeps the cheaper file would choose; that curve against each run and
  against the first run's anchors.

    python -m sirencodec.bench.compare BEFORE_DIR AFTER_DIR [--codec latent] [--bd-range 0.4,1.6]
    python -m sirencodec.bench.compare --table docs/results/latent docs/results/siren --bd-range 0.4,1.6
    python -m sirencodec.bench.compare --select docs/results/levers/ctx16 docs/results/levers/ctx16syn40 --bd-range 0.4,1.6
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from sirencodec.errors import InputError

from .bdrate import bd_psnr, bd_rate, parse_rate_range
from .codecs import ANCHORS, SRN_CODECS
from .run import RESULTS_FILE, read_results

Points = list[tuple[float, float]]
ANCHOR_TITLES = {"jpeg": "JPEG", "webp": "WebP", "jpeg2000": "JPEG 2000", "avif": "AVIF"}
PROG = "compare"


def run_rows(run: Path) -> list[dict]:
    """The rows of one run's ``results.csv``."""
    path = Path(run) / RESULTS_FILE
    if not path.is_file():
        raise InputError(f"{run} has no {RESULTS_FILE}")
    return list(read_results(path).values())


METRICS = ("psnr", "psnr_ycbcr")


def curves_of(rows: Sequence[dict], metric: str = "psnr") -> dict[str, dict[str, Points]]:
    """codec -> image -> (bpp, ``metric``) points of a run's rows (rows without it left out)."""
    out: dict[str, dict[str, Points]] = {}
    for row in rows:
        if row.get(metric) in (None, ""):
            continue
        point = (float(row["bpp"]), float(row[metric]))
        out.setdefault(row["codec"], {}).setdefault(row["image"], []).append(point)
    return out


def all_curves(run: Path, metric: str = "psnr") -> dict[str, dict[str, Points]]:
    """codec -> image -> (bpp, ``metric``) points of one run."""
    return curves_of(run_rows(run), metric)


def srn_codec(runs: Sequence[dict[str, dict[str, Points]]], codec: str | None) -> str:
    """``codec``, or the first sirencodec codec every run has."""
    if codec is not None:
        return codec
    for name in SRN_CODECS:
        if all(name in run for run in runs):
            return name
    raise InputError(f"no sirencodec codec ({', '.join(SRN_CODECS)}) has points in every run")


def probe_curves(files: Sequence[Path]) -> dict[str, Points]:
    out: dict[str, Points] = {}
    for f in files:
        for line in Path(f).read_text().splitlines():
            if line.strip():
                d = json.loads(line)
                out.setdefault(Path(d["image"]).stem, []).append((float(d["bpp"]), float(d["psnr"])))
    return out


def against_codecs(run: Path, probe: dict[str, Points], rate_range: tuple[float, float] | None,
                   as_json: bool) -> int:
    anchors = all_curves(run)
    codecs = sorted(anchors)
    table: dict[str, dict[str, float]] = {}
    for codec in codecs:
        anchor = anchors[codec]
        for image in sorted(set(anchor) & set(probe)):
            table.setdefault(image, {})[codec] = bd_rate(anchor[image], probe[image], rate_range)
    if not table:
        raise InputError("no probed image is in the run")
    mean = {c: sum(r[c] for r in table.values()) / len(table)
            for c in codecs if all(c in r for r in table.values())}
    if as_json:
        print(json.dumps({"bd_rate_percent": table, "mean": mean, "bd_range_bpp": rate_range}, indent=2))
        return 0
    for image, r in [*table.items(), ("mean", mean)]:
        print(f"{image}: " + ", ".join(f"vs {c} {v:+.1f} %" for c, v in r.items()))
    return 0


def before_after(before_dir: Path, after_dir: Path, codec: str | None, rate_range: tuple[float, float] | None,
                 as_json: bool, metric: str = "psnr") -> int:
    runs = [all_curves(before_dir, metric), all_curves(after_dir, metric)]
    name = srn_codec(runs, codec)
    before, after = (run.get(name, {}) for run in runs)
    images = sorted(set(before) & set(after))
    if not images:
        raise InputError(f"no image has {name} points in both runs")
    result = {}
    for image in images:
        try:
            result[image] = {"bd_rate_percent": bd_rate(before[image], after[image], rate_range),
                             "bd_psnr_db": bd_psnr(before[image], after[image], rate_range),
                             "points": [len(before[image]), len(after[image])]}
        except InputError as error:  # e.g. a run still in progress: too few points yet
            print(f"{PROG}: {image} skipped: {error}", file=sys.stderr)
    if not result:
        raise InputError("no image has enough points in both runs")
    mean = {k: sum(r[k] for r in result.values()) / len(result) for k in ("bd_rate_percent", "bd_psnr_db")}
    if as_json:
        print(json.dumps({"codec": name, "metric": metric, "images": result, "mean": mean,
                          "bd_range_bpp": rate_range}, indent=2))
        return 0
    for image, r in result.items():
        print(f"{image}: BD-rate {r['bd_rate_percent']:+.1f} %, BD-PSNR {r['bd_psnr_db']:+.2f} dB "
              f"({r['points'][0]} -> {r['points'][1]} points)")
    print(f"mean: BD-rate {mean['bd_rate_percent']:+.1f} %, BD-PSNR {mean['bd_psnr_db']:+.2f} dB")
    return 0


def table(runs: Sequence[Path], rate_range: tuple[float, float] | None, as_json: bool,
          metric: str = "psnr") -> int:
    """Every sirencodec codec of every run against each anchor: mean BD-rate over its images."""
    rows = []
    for run in runs:
        curves = all_curves(run, metric)
        for codec in (c for c in SRN_CODECS if c in curves):
            test = curves[codec]
            row = {"codec": codec, "run": str(run), "images": sorted(test), "bd_rate_percent": {}}
            for anchor in (a for a in ANCHORS if a in curves):
                values = [bd_rate(curves[anchor][image], test[image], rate_range)
                          for image in sorted(test) if image in curves[anchor]]
                row["bd_rate_percent"][anchor] = sum(values) / len(values) if values else None
            rows.append(row)
    if not rows:
        raise InputError("no run has sirencodec points" + (f" with {metric} (colour images only)" if metric != "psnr"
                                                          else ""))
    if as_json:
        print(json.dumps({"rows": rows, "metric": metric, "bd_range_bpp": rate_range}, indent=2))
        return 0
    anchors = [a for a in ANCHORS if any(a in r["bd_rate_percent"] for r in rows)]
    print("| codec | images | " + " | ".join(f"vs {ANCHOR_TITLES[a]}" for a in anchors) + " |")
    print("|---|---|" + "---|" * len(anchors))
    for r in rows:
        cells = [r["bd_rate_percent"].get(a) for a in anchors]
        print(f"| {r['codec']} (`{r['run']}`) | {len(r['images'])} | "
              + " | ".join("n/a" if v is None else f"{v:+.1f} %" for v in cells) + " |")
    return 0


def selection(runs: Sequence[Path], rows: Sequence[Sequence[dict]], codec: str) -> tuple[dict[str, Points], list[dict]]:
    """The per-image choice among ``runs`` (``rows[k]``: run k's rows): image -> its chosen
    points, and one record per (image, lam) trained in every run naming the run chosen
    (``MSE + lam * bpp`` lowest)."""
    found: dict[tuple[str, float], dict[int, dict]] = {}
    for k, run_rows_ in enumerate(rows):
        for row in run_rows_:
            if row["codec"] == codec and row.get("lam") not in (None, ""):
                found.setdefault((row["image"], float(row["lam"])), {})[k] = row
    choices = []
    for (image, lam), by_run in sorted(found.items()):
        if len(by_run) < len(runs):
            continue
        costs = {k: 10 ** (-float(r["psnr"]) / 10) + lam * float(r["bpp"]) for k, r in by_run.items()}
        best = min(costs, key=lambda k: (costs[k], k))
        row = by_run[best]
        choices.append({"image": image, "lam": lam, "run": str(runs[best]), "bpp": float(row["bpp"]),
                        "psnr": float(row["psnr"]), "file": row["file"],
                        "cost": {str(runs[k]): costs[k] for k in sorted(costs)}})
    if not choices:
        raise InputError(f"no image has a {codec} file at a lam that every run trained")
    curves: dict[str, Points] = {}
    for c in choices:
        curves.setdefault(c["image"], []).append((c["bpp"], c["psnr"]))
    return curves, choices


def select(runs: Sequence[Path], codec: str | None, rate_range: tuple[float, float] | None, as_json: bool) -> int:
    """The per-image choice's curve against each run's and against the first run's anchors."""
    rows = [run_rows(run) for run in runs]  # each results.csv read once
    curves = [curves_of(r) for r in rows]
    name = srn_codec(curves, codec)
    chosen, choices = selection(runs, rows, name)

    def deltas(test: dict[str, Points], what: str) -> dict[str, float]:
        out = {}
        for image in sorted(set(chosen) & set(test)):
            try:
                out[image] = bd_rate(test[image], chosen[image], rate_range)
            except InputError as error:  # e.g. too few points on one side
                print(f"{PROG}: {image} vs {what} skipped: {error}", file=sys.stderr)
        return out

    against = {str(run): deltas(c.get(name, {}), str(run)) for run, c in zip(runs, curves)}
    anchors = {a: deltas(curves[0][a], a) for a in ANCHORS if a in curves[0]}

    def mean(values: dict[str, float]) -> float | None:
        return sum(values.values()) / len(values) if values else None

    if as_json:
        print(json.dumps({"codec": name, "choices": choices, "bd_rate_percent_vs_run": against,
                          "bd_rate_percent_vs_anchor": anchors, "bd_range_bpp": rate_range}, indent=2))
        return 0
    for c in choices:
        print(f"{c['image']} lam={c['lam']:g}: {c['run']} ({c['bpp']:.4f} bpp, {c['psnr']:.2f} dB)")
    for title, table_ in [*((f"vs {r}", v) for r, v in against.items()),
                          *((f"vs {ANCHOR_TITLES[a]}", v) for a, v in anchors.items())]:
        cells = ", ".join(f"{image} {v:+.1f} %" for image, v in table_.items())
        m = mean(table_)
        print(f"selection {title}: " + ("n/a" if m is None else f"BD-rate {m:+.1f} % ({cells})"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR")
    parser.add_argument("--probe", type=Path, nargs="+", metavar="FILE",
                        help="probe JSON lines as the test curve")
    parser.add_argument("--table", action="store_true",
                        help="each run's sirencodec codecs against the anchors")
    parser.add_argument("--select", action="store_true",
                        help="the per-image choice among the runs' files, against each run and the anchors")
    parser.add_argument("--codec", choices=SRN_CODECS,
                        help="the sirencodec codec compared (default: the first both runs have)")
    parser.add_argument("--bd-range", metavar="LO,HI", help="only the test curve between these bpp")
    parser.add_argument("--metric", choices=METRICS, default="psnr",
                        help="the quality axis: RGB PSNR (default) or the YCbCr-weighted PSNR (BEFORE AFTER, --table)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.metric != "psnr" and (args.select or args.probe):
        parser.error("--metric applies to BEFORE AFTER and --table")
    try:
        rate_range = parse_rate_range(args.bd_range)
        if args.table:
            return table(args.runs, rate_range, args.json, args.metric)
        if args.select:
            return select(args.runs, args.codec, rate_range, args.json)
        if args.probe:
            if len(args.runs) != 1:
                parser.error("--probe compares against one RUN_DIR")
            return against_codecs(args.runs[0], probe_curves(args.probe), rate_range, args.json)
        if len(args.runs) != 2:
            parser.error("give BEFORE_DIR AFTER_DIR, or RUN_DIR --probe FILE..., or --table RUN_DIR...")
        return before_after(args.runs[0], args.runs[1], args.codec, rate_range, args.json, args.metric)
    except (InputError, OSError, json.JSONDecodeError, KeyError, ValueError) as error:
        print(f"{PROG}: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
