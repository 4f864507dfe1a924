"""``srnbench``: rate-distortion benchmark of sirencodec against JPEG, WebP, JPEG 2000, AVIF.

Bad input ends with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

from sirencodec.errors import InputError, SrnError

from sirencodec.progress import ThrottledLines

from .bdrate import parse_rate_range
from .codecs import ANCHORS, CODEC_NAMES, SRN_CODECS, Setting, make_codecs
from .run import PlotStyle, run_benchmark
from .sweeps import EXPERIMENTS, get_sweep, parse_settings

PROG = "srnbench"


def _parse_codecs(text: str | None, default: Sequence[str]) -> list[str]:
    if text is None:
        return list(default)
    names = list(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    if not names:
        raise InputError(f"empty --codecs; choose from {','.join(CODEC_NAMES)}")
    unknown = [n for n in names if n not in CODEC_NAMES]
    if unknown:
        raise InputError(f"unknown codec {unknown[0]!r} in --codecs; choose from {','.join(CODEC_NAMES)}")
    return names


def _parse_anchor_sweeps(items: Sequence[str]) -> dict[str, list[Setting]]:
    """``("jpeg=30,80", "jpeg2000=0.5,1")`` -> each anchor's settings."""
    sweeps: dict[str, list[Setting]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip().lower()
        if not sep or name not in ANCHORS:
            raise InputError(
                f"bad --anchor-sweep {item!r}; write CODEC=V1,V2 with CODEC one of {','.join(ANCHORS)}"
            )
        codec = ANCHORS[name]()
        try:
            settings = codec.sweep([float(v) for v in values.split(",") if v.strip()])
        except ValueError:
            raise InputError(f"bad --anchor-sweep {item!r}: values must be numbers") from None
        if not settings:
            raise InputError(f"empty sweep: --anchor-sweep {item!r} has no values")
        sweeps[name] = settings
    return sweeps


@click.command(
    name=PROG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.argument("images", nargs=-1, required=True, metavar="IMAGES...")
@click.option(
    "-o", "--out", "outdir", required=True, metavar="OUTDIR", help="Output directory (resumed if it exists)."
)
@click.option("--quick", is_flag=True,
              help="Small sweep: four quality levels, short latent training, the SIREN's 'fast' preset.")
@click.option("--codecs", metavar="LIST", help=f"Comma-separated subset of {','.join(CODEC_NAMES)}.")
@click.option(
    "--preset", metavar="P", help="The SIREN's preset (default: 'fast' with --quick, else 'default')."
)
@click.option(
    "--settings",
    metavar="SPEC",
    help="Points of the sirencodec codec run, replacing the sweep: latent, e.g. 'lam=0.002;quality=3;"
    "target_bpp=0.8,steps=2000'; siren, e.g. 'bits=8,prune=0.2;quality=4' (FitConfig fields).",
)
@click.option("--experiment", metavar="NAME", help=f"Thesis experiment (SIREN): {'|'.join(EXPERIMENTS)}.")
@click.option(
    "--anchor-sweep",
    "anchor_sweeps",
    multiple=True,
    metavar="CODEC=V,..",
    help="Override an anchor's sweep: quality for jpeg/webp/avif, target bpp for jpeg2000 (on colour "
    "images, in each of the codec's chroma modes). Repeatable.",
)
@click.option("--device", default="auto", show_default=True, metavar="auto|cpu|cuda", help="Encoder device.")
@click.option("--bd-range", metavar="LO,HI",
              help="BD metrics over each sirencodec curve between these rates only (bpp), e.g. 0.4,1.6.")
@click.option("--no-plot", is_flag=True, help="Skip the PNG plots (no matplotlib needed).")
def command(
    images: tuple[str, ...],
    outdir: str,
    quick: bool,
    codecs: str | None,
    preset: str | None,
    settings: str | None,
    experiment: str | None,
    anchor_sweeps: tuple[str, ...],
    device: str,
    bd_range: str | None,
    no_plot: bool,
) -> None:
    """Encode IMAGES with every codec over a sweep; write results.csv, summary.json and
    rd_<image>.png plots to OUTDIR.

    \b
    srnbench cameraman256.png -o bench-out --quick
    srnbench img.png -o out --settings 'lam=0.002;lam=0.001' --bd-range 0.4,1.6
    srnbench img.png -o out --codecs jpeg,latent,siren
    srnbench img.png -o out --codecs jpeg,siren --settings 'bits=8,prune=0.2'
    srnbench img.png -o out-qat --experiment qat --device cuda
    """
    if device not in ("auto", "cpu", "cuda"):
        raise InputError(f"unknown --device {device!r}; use auto, cpu or cuda")
    rate_range = parse_rate_range(bd_range)
    if settings is not None and experiment is not None:
        raise InputError("use either --settings or --experiment, not both")
    sweep = get_sweep(experiment.strip().lower() if experiment is not None else None, quick)
    names = _parse_codecs(codecs, sweep.codecs)
    sweeps: dict[str, list[Any]] = {name: list(points) for name, points in sweep.settings.items()}
    if settings is not None:
        srn = [n for n in names if n in SRN_CODECS]
        if len(srn) != 1:
            raise InputError(f"--settings sets the points of one sirencodec codec; give --codecs with "
                             f"{' or '.join(SRN_CODECS)} (not both)")
        sweeps[srn[0]] = list(parse_settings(settings))
    sweeps.update(_parse_anchor_sweeps(anchor_sweeps))
    chosen_preset = preset if preset is not None else sweep.preset
    progress = ThrottledLines(lambda line: click.echo(line, err=True))
    selected, notes = make_codecs(names, preset=chosen_preset, device=device, progress=progress)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    if not selected:
        raise InputError("no codec left to run; pick others with --codecs")
    title = sweep.description if settings is None else f"settings {settings}"
    result = run_benchmark(
        images,
        selected,
        outdir,
        sweeps,
        plot=not no_plot,
        style=PlotStyle(title=title, group_by=sweep.group_by if settings is None else None,
                        annotate=sweep.annotate if settings is None else None),
        meta={"sweep": sweep.name if settings is None else "custom", "preset": chosen_preset,
              "device": device, "codecs": [c.name for c in selected]},
        log=lambda line: click.echo(line, err=True),
        bd_range=rate_range,
    )
    from .report import write_readme

    write_readme(outdir, result.summary, (click.get_current_context().obj or {}).get("argv", sys.argv[1:]),
                 title, device)
    click.echo(f"{result.computed} point(s) computed, {result.reused} reused; results in {outdir}")
    for image, info in result.summary["images"].items():
        for test in result.summary["test_codecs"]:
            for anchor, bd in info.get(f"bd_{test}_vs", {}).items():
                click.echo(f"{image}: {test} vs {anchor}: {_fmt_bd(bd)}")


def _fmt_bd(bd: dict[str, Any]) -> str:
    rate, psnr = bd.get("bd_rate_percent"), bd.get("bd_psnr_db")
    parts = [
        f"BD-rate {rate:+.1f} %" if rate is not None else "BD-rate n/a",
        f"BD-PSNR {psnr:+.2f} dB" if psnr is not None else "BD-PSNR n/a",
    ]
    return ", ".join(parts) + (f" ({bd['note']})" if bd.get("note") else "")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``srnbench`` with ``argv`` (default: the process arguments); returns the exit code."""
    try:
        args = list(argv) if argv is not None else None
        result = command.main(args=args, prog_name=PROG, standalone_mode=False,
                              obj={"argv": args if args is not None else sys.argv[1:]})
    except click.exceptions.Abort:
        click.echo(f"{PROG}: interrupted", err=True)
        return 130
    except click.ClickException as error:  # usage errors: bad or missing options
        click.echo(f"{PROG}: error: {error.format_message()} (see {PROG} --help)", err=True)
        return 2
    except SrnError as error:
        click.echo(f"{PROG}: error: {' '.join(str(error).split())}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo(f"{PROG}: interrupted; rerun the same command to resume", err=True)
        return 130
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
