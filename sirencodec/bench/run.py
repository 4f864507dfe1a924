"""The sweep runner: encode every (image, codec, setting), measure, record, summarize.

For each point the codec's bytes are written to a file, the file is read back and decoded,
and the row records the real file size (``bpp = 8 * bytes / (H * W)``) and PSNR / SSIM of
what the decoder returned from that file.  Output directory layout::

    OUTDIR/results.csv                       one row per encoded file (all runs so far)
    OUTDIR/summary.json                      BD-rate / BD-PSNR of each sirencodec codec vs the others
    OUTDIR/rd_<image>.png                    PSNR-bpp plot per image
    OUTDIR/<image>/<codec>/<setting>.<ext>   the encoded files (latent/, siren-<preset>/, jpeg/ ...)
    OUTDIR/<image>/<codec>/<setting>.srn.report.json   the encoder's report of each .srn file

**Resume**: a point whose file exists and whose row in ``results.csv`` names that file
with the same byte count is not recomputed.  ``results.csv`` is rewritten atomically after
every point, so an interrupted run loses at most the point in progress.
"""

from __future__ import annotations

import csv
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from sirencodec import metrics
from sirencodec.errors import InputError
from sirencodec.imageio import atomic_write
from sirencodec.result import json_safe

from .bdrate import bd_psnr, bd_rate, pareto_front
from .codecs import SRN_CODECS, Codec, Setting, SrnCodec
from .images import read_image

RESULTS_FILE = "results.csv"
SUMMARY_FILE = "summary.json"
BASE_COLUMNS = (
    "image", "codec", "setting", "file", "bytes", "bpp", "psnr", "ssim",
    "encode_s", "decode_s", "width", "height", "channels", "psnr_ycbcr",
)
_INT_COLUMNS = {"bytes", "width", "height", "channels"}
_FLOAT_COLUMNS = {"bpp", "psnr", "ssim", "encode_s", "decode_s", "psnr_ycbcr"}

Row = dict[str, Any]
Log = Callable[[str], None]


@dataclass(frozen=True)
class PlotStyle:
    """How the sirencodec points of a plot are grouped and annotated (see ``sweeps.Sweep``)."""

    title: str = ""
    group_by: str | None = None
    annotate: tuple[str, ...] | None = None


@dataclass
class RunResult:
    """What a run produced: its rows (this run's points only), summary and counters."""

    rows: list[Row]
    summary: dict[str, Any]
    computed: int = 0
    reused: int = 0
    plots: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class _Point:
    image: str
    codec: Codec
    setting: Setting
    label: str
    file: str  # relative to the output directory, always with '/'


def safe_name(text: str) -> str:
    """A file-name-safe form of a label or image name (``bits=8,prune=0.2`` -> ``bits-8_prune-0.2``)."""
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text.replace("=", "-")).strip("_") or "_"


@contextmanager
def _atomic(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """``imageio.atomic_write`` into a directory created first if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, mode) as f:
        yield f


def _parse_cell(column: str, text: str) -> Any:
    if text == "":
        return None
    try:
        if column in _INT_COLUMNS:
            return int(text)
        if column in _FLOAT_COLUMNS:
            return float(text)
    except ValueError:
        return None
    return text


def read_results(path: Path) -> dict[str, Row]:
    """Rows of an existing ``results.csv`` keyed by their ``file``; empty if there is none."""
    if not path.is_file():
        return {}
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = [{k: _parse_cell(k, v or "") for k, v in row.items() if k} for row in csv.DictReader(f)]
    except (OSError, csv.Error, UnicodeDecodeError) as error:
        raise InputError(f"cannot read {path}: {error}; move it away to start afresh") from None
    return {row["file"]: row for row in rows if row.get("file")}


def write_results(path: Path, rows: Sequence[Row]) -> None:
    """Write all rows (base columns first, then any others in first-seen order), atomically."""
    columns = list(BASE_COLUMNS)
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    with _atomic(path, "w") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})


def _load_images(paths: Sequence[str | os.PathLike[str]], log: Log) -> dict[str, np.ndarray]:
    images: dict[str, np.ndarray] = {}
    for path in paths:
        pixels, notes = read_image(path)
        name = safe_name(Path(path).stem)
        if name in images:
            raise InputError(f"two input images share the name {name!r}; rename one of them")
        for note in notes:
            log(f"note: {path}: {note}")
        images[name] = pixels
    if not images:
        raise InputError("no input images given")
    return images


def _plan(
    images: Mapping[str, np.ndarray], codecs: Sequence[Codec], sweeps: Mapping[str, Sequence[Setting]]
) -> list[_Point]:
    """Every point to produce.  Setting names and value types are checked here, before
    anything runs; value ranges only when the encoder sees them."""
    points: list[_Point] = []
    for codec in codecs:
        settings = sweeps[codec.name] if codec.name in sweeps else codec.default_sweep()
        if not settings:
            raise InputError(f"empty sweep for codec {codec.name}")
        seen: set[tuple[str, str]] = set()
        for setting in settings:
            if isinstance(codec, SrnCodec):
                setting = codec.normalize(setting)
            for image, pixels in images.items():
                applied = codec.for_image(setting, pixels)
                if applied is None:
                    continue
                label = codec.label(applied)
                if (image, label) in seen:
                    continue
                seen.add((image, label))
                file = f"{image}/{codec.directory}/{safe_name(label)}{codec.extension}"
                points.append(_Point(image, codec, applied, label, file))
    if not points:
        raise InputError("empty sweep: nothing to encode")
    # Image-major order: each image's curves fill in together.
    order = {name: i for i, name in enumerate(images)}
    points.sort(key=lambda p: order[p.image])
    return points


def _batch_trainer(points: Sequence[_Point], images: Mapping[str, np.ndarray], reusable: Callable[[_Point], bool],
                   log: Log) -> Callable[[_Point], Any]:
    """``trained(point)``: the EncodeResult of a point that trains with others (a latent
    network at a fixed rate weight, a fixed SIREN: the codec's ``batch_config``), else None.
    Asked for the first such point still to do, it trains every one still to do of that codec
    (its ``encode_many``: one batch per image shape and training, as memory allows) and keeps
    their results until asked."""
    ready: dict[str, Any] = {}

    def batchable(point: _Point) -> bool:
        return hasattr(point.codec, "encode_many") and point.codec.batch_config(point.setting) is not None

    def trained(point: _Point) -> Any:
        if point.file not in ready and batchable(point):
            group = [p for p in points if p.codec is point.codec and batchable(p) and not reusable(p)]
            log(f"training {len(group)} {point.codec.name} networks together ...")
            for p, encoded in zip(group, point.codec.encode_many([(images[p.image], p.setting) for p in group])):
                ready[p.file] = encoded
        return ready.pop(point.file, None)

    return trained


def _measure(point: _Point, image: np.ndarray, outdir: Path, log: Log, encoded: Any = None) -> Row:
    """Encode (or take ``encoded``, the point's EncodeResult from a batch), write, read back,
    decode and measure one point."""
    codec = point.codec
    path = outdir / point.file
    start = time.perf_counter()
    if encoded is None:
        data = codec.encode(image, point.setting)
        encode_s = time.perf_counter() - start
    else:  # the network's share of its batch's training, and its own finishing
        codec.last_result = encoded
        data, encode_s = bytes(encoded.data), encoded.report["seconds"]["total"]
    with _atomic(path) as f:
        f.write(data)
    stored = path.read_bytes()
    channels = 1 if image.ndim == 2 else image.shape[2]
    start = time.perf_counter()
    decoded = codec.decode(stored, channels)
    decode_s = time.perf_counter() - start
    if decoded.shape != image.shape or decoded.dtype != np.uint8:
        raise InputError(
            f"{codec.name} decoded {point.file} to {decoded.dtype} {decoded.shape}, "
            f"expected uint8 {image.shape}"
        )
    if isinstance(codec, SrnCodec):
        _srn_extras(codec, decoded, path, log)
    height, width = image.shape[:2]
    size = path.stat().st_size
    return {
        "image": point.image,
        "codec": codec.name,
        "setting": point.label,
        "file": point.file,
        "bytes": size,
        "bpp": 8.0 * size / (height * width),
        "psnr": metrics.psnr(image, decoded),
        "ssim": metrics.ssim(image, decoded),
        "encode_s": round(encode_s, 4),
        "decode_s": round(decode_s, 4),
        "width": width,
        "height": height,
        "channels": channels,
        "psnr_ycbcr": metrics.psnr_ycbcr(image, decoded) if channels == 3 else None,
        **codec.columns(point.setting),
        **_used_config(codec),
        **({"batch": codec.last_result.report.get("batch", 1)} if isinstance(codec, SrnCodec) else {}),
    }


def _used_config(codec) -> dict:
    """The FitConfig the encoder actually used (rate control chooses the network itself)."""
    if not isinstance(codec, SrnCodec):
        return {}
    report = getattr(codec.last_result, "report", None)
    return dict(report["config"]) if report and "config" in report else {}


def _srn_extras(codec: SrnCodec, decoded: np.ndarray, path: Path, log: Log) -> None:
    """Keep the encoder's report beside the file; warn if its own decode differs from the file's."""
    result = codec.last_result
    if result is None:
        return
    own = getattr(result, "decoded", None)
    if own is not None and not np.array_equal(np.asarray(own), decoded):
        log(f"warning: {path.name}: the encoder's reported decode differs from decoding the file")
    report = getattr(result, "report", None)
    if report is not None:
        with _atomic(path.with_name(path.name + ".report.json"), "w") as f:
            json.dump(json_safe(report), f, indent=1)


def _describe(row: Row) -> str:
    return (
        f"{row['bpp']:.3f} bpp, {row['psnr']:.2f} dB, SSIM {row['ssim']:.4f}, "
        f"encode {row['encode_s']:.2f} s"
    )


def _front_rows(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """The Pareto-front points of one codec's rows (what BD metrics use), by rate."""
    front = set(pareto_front((r["bpp"], r["psnr"]) for r in rows))
    chosen = sorted((r for r in rows if (r["bpp"], r["psnr"]) in front), key=lambda r: r["bpp"])
    unique = {(r["bpp"], r["psnr"]): r for r in reversed(chosen)}  # one row per point
    return [{"setting": r["setting"], "bpp": r["bpp"], "psnr": r["psnr"], "ssim": r["ssim"],
             **({"psnr_ycbcr": r["psnr_ycbcr"]} if r.get("psnr_ycbcr") is not None else {})}
            for r in sorted(unique.values(), key=lambda r: r["bpp"])]


def summarize(
    rows: Sequence[Row], test_codecs: Sequence[str] = SRN_CODECS, bd_range: tuple[float, float] | None = None
) -> dict[str, Any]:
    """BD-rate and BD-PSNR of each of ``test_codecs`` present in ``rows`` vs every other codec,
    per image and averaged over images; over the test curve's part between the rates of
    ``bd_range`` (bpp), if given.

    Per image, ``<test>_front`` lists a test codec's Pareto-front points and ``bd_<test>_vs``
    its deltas against each other codec; ``mean[<test>][<other>]`` averages them.  A pair whose
    curves do not overlap (or have too few points) gets ``null`` values and a ``note`` with
    the reason.
    """
    by_image: dict[str, dict[str, list[tuple[float, float]]]] = {}
    sizes: dict[str, tuple[int, int]] = {}
    for row in rows:
        curves = by_image.setdefault(row["image"], {})
        curves.setdefault(row["codec"], []).append((row["bpp"], row["psnr"]))
        sizes[row["image"]] = (row["width"], row["height"])
    present = [t for t in test_codecs if any(t in curves for curves in by_image.values())]
    images: dict[str, Any] = {}
    collected: dict[str, dict[str, dict[str, list[float]]]] = {t: {} for t in present}
    for image, curves in by_image.items():
        info: dict[str, Any] = {
            "width": sizes[image][0],
            "height": sizes[image][1],
            "points": {codec: len(curve) for codec, curve in curves.items()},
        }
        for test_codec in present:
            test = curves.get(test_codec)
            bd: dict[str, Any] = {}
            for other, curve in curves.items():
                if other == test_codec or test is None:
                    continue
                entry: dict[str, Any] = {}
                notes = []
                deltas = (("bd_rate_percent", "BD-rate", bd_rate), ("bd_psnr_db", "BD-PSNR", bd_psnr))
                for key, name, function in deltas:
                    try:
                        entry[key] = function(curve, test, bd_range)
                        collected[test_codec].setdefault(other, {}).setdefault(key, []).append(entry[key])
                    except InputError as error:
                        entry[key] = None
                        notes.append(f"{name}: {error}")
                if notes:
                    entry["note"] = "; ".join(notes)
                bd[other] = entry
            info[f"{test_codec}_front"] = _front_rows(
                [r for r in rows if r["image"] == image and r["codec"] == test_codec])
            info[f"bd_{test_codec}_vs"] = bd
        images[image] = info
    mean = {
        test_codec: {
            other: {
                **{key: (sum(v) / len(v) if v else None) for key, v in values.items()},
                **{f"images_{key}": len(v) for key, v in values.items()},
            }
            for other, values in by_other.items()
        }
        for test_codec, by_other in collected.items()
    }
    return {
        "test_codecs": present,
        "method": "Bjontegaard deltas, pchip interpolation of log10(bpp) vs PSNR over the "
        "overlapping range, Pareto-front points of each curve (see sirencodec.bench.bdrate)",
        "images": images,
        "mean": mean,
    }


def run_benchmark(
    image_paths: Sequence[str | os.PathLike[str]],
    codecs: Sequence[Codec],
    outdir: str | os.PathLike[str],
    sweeps: Mapping[str, Sequence[Setting]] | None = None,
    *,
    plot: bool = True,
    style: PlotStyle = PlotStyle(),
    meta: Mapping[str, Any] | None = None,
    log: Log = print,
    bd_range: tuple[float, float] | None = None,
) -> RunResult:
    """Run (or resume) a benchmark and write results.csv, summary.json and the plots.

    ``sweeps`` maps a codec name to its settings; codecs not named use their default sweep.
    ``meta`` is copied into summary.json (preset, sweep name, ...).
    """
    if plot:
        from .plot import require_matplotlib

        require_matplotlib()
    out = Path(outdir)
    images = _load_images(image_paths, log)
    points = _plan(images, codecs, sweeps or {})
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot create output directory {out}: {error.strerror or error}") from None
    results_path = out / RESULTS_FILE
    known = read_results(results_path)
    result = RunResult(rows=[], summary={})

    def reusable(point: _Point) -> bool:
        row, path = known.get(point.file), out / point.file
        return row is not None and path.is_file() and row.get("bytes") == path.stat().st_size

    trained = _batch_trainer(points, images, reusable, log)
    for index, point in enumerate(points, 1):
        prefix = f"[{index}/{len(points)}] {point.image} {point.codec.name} {point.label}"
        if reusable(point):
            row = known[point.file]
            result.reused += 1
        else:
            encoded = trained(point)
            if isinstance(point.codec, SrnCodec) and encoded is None:  # slow: say what is running
                log(f"{prefix} ...")
            row = _measure(point, images[point.image], out, log, encoded)
            known[point.file] = row
            write_results(results_path, list(known.values()))
            result.computed += 1
            log(f"{prefix}: {_describe(row)}")
        result.rows.append(row)
    result.summary = {**json_safe(dict(meta or {})), "bd_range_bpp": list(bd_range) if bd_range else None,
                      **summarize(result.rows, bd_range=bd_range)}
    with _atomic(out / SUMMARY_FILE, "w") as f:
        json.dump(json_safe(result.summary), f, indent=2)
    if plot:
        from .plot import plot_rd

        for image in images:
            target = out / f"rd_{image}.png"
            plot_rd([r for r in result.rows if r["image"] == image], target, style, image)
            result.plots.append(target)
    return result
