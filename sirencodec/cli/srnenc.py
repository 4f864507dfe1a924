"""``srnenc``: encode an image into a .srn file.  Options map one to one onto the keywords of
:func:`sirencodec.encoder.encode` (``--target-bpp`` is ``target_bpp``), which does the work."""

from __future__ import annotations

import math
import sys

import click

from ..device import DEVICES
from ..errors import InputError
from ..latent.config import EFFORTS, LatentConfig
from ..progress import ProgressBars
from ..siren.config import LR_NARROW, LR_WIDE, LR_WIDE_FROM, PRESETS
from .common import command, handle_errors, json_line, read_input, write_stdout


@command("srnenc")
@click.argument("sources", metavar="IMAGE...", nargs=-1, required=True)
@click.option("-o", "--output", "dst", required=True, metavar="OUT.srn|DIR/",
              help="Output file ('-' for stdout); with several images, a directory (made if missing) that "
                   "receives NAME.srn for each input NAME.*.")
@click.option("--quality", type=click.IntRange(1, 8), metavar="1..8",
              help="Quality level: higher is larger and better (default 5 when no SIREN network option is given).")
@click.option("--target-bpp", type=click.FloatRange(0, min_open=True), metavar="BPP",
              help="Largest file at or below BPP bits per pixel (aims within 5 % below).")
@click.option("--target-psnr", type=click.FloatRange(0, min_open=True), metavar="DB",
              help="Smallest file found that decodes to at least DB dB PSNR (latent: one training run; "
                   "SIREN: several).")
@click.option("--preset", type=click.Choice(sorted(PRESETS)),
              help="SIREN settings to start from: its training always, its fixed network unless --quality or "
                   "--target-* is given. With --network siren and no network options, srnenc runs --quality 5 "
                   "with the 'default' preset's training. The options below, up to --seed, set SIREN fields.")
@click.option("--bits", type=click.IntRange(2, 16), help="Bits per weight (the first layer keeps the preset's first-bits unless --first-bits); with bit allocation, the precision the layers' steps are balanced around.")
@click.option("--bit-allocation/--no-bit-allocation", default=None,
              help="Move precision between layers by their measured sensitivity, at equal estimated distortion (default: on; off keeps every layer at its --bits).")
@click.option("--quant-noise", type=click.FloatRange(0), metavar="SHARE",
              help="Bit allocation's distortion budget: quantization may add this share of the float network's MSE (default 0.057; 0: the distortion of uniform --bits).")
@click.option("--first-bits", type=click.IntRange(2, 16), help="Bits of the first layer's weights.")
@click.option("--last-bits", type=click.IntRange(2, 16), help="Bits of the output layer's weights.")
@click.option("--prune", type=click.FloatRange(0.0, 0.95), help="Fraction of all weights pruned (AGP).")
@click.option("--layer-prune", metavar="F,F,...", help="Per-layer prune profile, first to output layer; scaled by one factor so exactly --prune of all weights are pruned (fractions whose weight-weighted mean already equals --prune are used as given).")
@click.option("--width", type=click.IntRange(1, 1024), help="Hidden width.")
@click.option("--depth", type=click.IntRange(0, 64), help="Number of hidden layers.")
@click.option("--fit-steps", type=click.IntRange(0), help="Steps of stage 1 (fit).")
@click.option("--prune-steps", type=click.IntRange(0), help="Steps of stage 2 (AGP pruning + recovery).")
@click.option("--qat-steps", type=click.IntRange(0), help="Steps of stage 3 (quantization-aware training).")
@click.option("--agp-t0", type=click.IntRange(0), help="AGP: first pruning step within stage 2.")
@click.option("--agp-n", type=click.IntRange(1), help="AGP: number of pruning steps.")
@click.option("--agp-dt", type=click.IntRange(1), help="AGP: steps between pruning steps.")
@click.option("--lr", type=click.FloatRange(0, min_open=True),
              help=f"Learning rate of stage 1 (default: {LR_NARROW:g} for networks under {LR_WIDE_FROM} "
                   f"wide, else {LR_WIDE:g}).")
@click.option("--qat-lr", type=click.FloatRange(0, min_open=True), help="Learning rate of stage 3.")
@click.option("--omega0", type=click.FloatRange(0, min_open=True), help="SIREN frequency omega0.")
@click.option("--range-update-every", type=click.IntRange(1), help="QAT: refresh ranges every k steps.")
@click.option("--bias-dtype", type=click.Choice(["float32", "float16"]),
              help="Float type of the biases that are not quantized (see --bias-bits).")
@click.option("--bias-bits", type=click.IntRange(0, 16),
              help="Bits of the hidden layers' quantized biases; 0 stores them as --bias-dtype floats.")
@click.option("--first-bias-bits", type=click.IntRange(0, 16),
              help="Bits of the first layer's quantized biases; 0 stores them as float32.")
@click.option("--batch-pixels", type=click.IntRange(1), help="Pixels per step (full batch up to this).")
@click.option("--seed", type=int, help="Random seed (same seed, device and input: same file).")
@click.option("--network", type=click.Choice(["latent", "siren"]),
              help="Kind of network: 'latent' grids (format version 4; the default) or a 'siren' "
                   "(format version 3; chosen by itself when a SIREN option such as --preset, --width, "
                   "--bits or --prune is given).")
@click.option("--latent", is_flag=True, help="Same as --network latent.")
@click.option("--lam", type=click.FloatRange(0, min_open=True), metavar="LAMBDA",
              help="Latent network: a fixed rate weight in MSE + LAMBDA * bpp (pixels in 0..1) instead of "
                   "rate control; larger is smaller (quality 4 is 0.001, about 0.65 bpp on a 256x256 photograph).")
@click.option("--effort", type=click.Choice(list(EFFORTS)),
              help="Latent network: encode time against rate. 'fast' trains a third as long as 'default'; "
                   "'max' (for benchmarks and GPUs) takes longer for a smaller file; 'best' trains max's "
                   "network in three variants (RGB or YCbCr synthesis, more latent grids) and keeps each "
                   "image's best file; each level's time, BD-rate and decode cost: README.")
@click.option("--latent-steps", type=click.IntRange(1), metavar="N",
              help=f"Latent network: training steps, replacing --effort's (default {LatentConfig().steps}).")
@click.option("--device", default="auto", show_default=True, type=click.Choice(DEVICES))
@click.option("--batch", type=click.IntRange(1), metavar="N",
              help="Several images: latent networks of one image size train together, at most N per batch "
                   "(default: as many as memory holds).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars and no summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@handle_errors("srnenc")
def srnenc(sources: tuple[str, ...], dst: str, latent: bool, quiet: bool, as_json: bool, batch: int | None,
           **options) -> None:
    """Encode images (any format Pillow reads; '-' for stdin) into .srn files.

    By default a latent-grid network at --quality 5; --quality, --target-bpp, --target-psnr
    or --lam set its rate. SIREN options (--preset, --width, --bits, --prune, ...) or
    --network siren encode a SIREN instead. Several images go to a directory (-o DIR/); at a
    fixed rate (--quality, --lam) latent networks, and fixed SIRENs, train in batches, one per image size."""
    from ..encoder import plan
    from ..imageio import check_output

    if latent:
        if options["network"] == "siren":
            raise InputError("--latent and --network siren contradict each other")
        options["network"] = "latent"
    encoding = plan(**options)  # every option checked before the input is read
    outputs = _output_paths(sources, dst)
    for out in outputs:
        if out != "-":
            check_output(out)  # before any training
    images = [_load_encoder_input(src) for src in sources]
    with ProgressBars(enabled=not quiet and sys.stderr.isatty()) as bars:
        if len(images) == 1:
            _emit(encoding.run(images[0], bars.update), outputs[0], quiet, as_json)
        else:  # each file is written as soon as it is done
            encoding.run_many(images, bars.update, batch,
                              on_result=lambda i, result: _emit(result, outputs[i], quiet, as_json))


def _output_paths(sources: tuple[str, ...], dst: str) -> list[str]:
    """Where each input's file goes: ``dst`` itself for one input (NAME.srn inside it when it
    names a directory), ``dst``/NAME.srn for several (the directory made if missing)."""
    import os
    from pathlib import Path

    directory = dst.endswith(("/", os.sep)) or os.path.isdir(dst)
    if len(sources) == 1 and not directory:
        return [dst]
    if "-" in sources:
        raise InputError("stdin ('-') is encoded on its own, to -o FILE or -o -" if len(sources) == 1 else
                         "stdin ('-') can be encoded on its own only, not with other images")
    if dst == "-":
        raise InputError("several images cannot go to stdout; give -o DIR/")
    stems = [Path(src).stem for src in sources]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    if twice:
        raise InputError(f"two inputs would both be written as {twice[0]}.srn; rename one")
    if os.path.exists(dst) and not os.path.isdir(dst):
        raise InputError(f"{dst} is not a directory: several images go to -o DIR/")
    try:
        os.makedirs(dst, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output directory {dst}: {exc.strerror or exc}") from None
    return [os.path.join(dst, f"{stem}.srn") for stem in stems]


def _load_encoder_input(src: str):
    from ..imageio import load_image

    image, notes = load_image(read_input(src) if src == "-" else src)
    for note in notes:
        click.echo(f"srnenc: warning: {note}", err=True)
    return image


def _emit(result, dst: str, quiet: bool, as_json: bool) -> None:
    """Write the file (atomically, or to stdout) and print the report (JSON or a summary);
    with the file on stdout the report goes to stderr."""
    from ..imageio import atomic_write

    if dst == "-":
        write_stdout(result.data)
    else:
        with atomic_write(dst) as f:
            f.write(result.data)
    report = {"file": dst, **result.report}
    if as_json:
        click.echo(json_line(report), err=dst == "-")
    elif not quiet:
        summary = format_latent_report if report["kind"] == "latent" else format_siren_report
        click.echo(summary(report), err=dst == "-")


def _ssim_text(value: float | None) -> str:
    """SSIM, or why there is none (an image under 3 pixels on a side has no SSIM window)."""
    return "SSIM n/a" if value is None or math.isnan(value) else f"SSIM {value:.4f}"


def format_latent_report(r: dict) -> str:
    sec, cfg = r["seconds"], r["config"]
    mode = (f"quality {r['quality']}, " if "quality" in r else
            f"target {r['target_bpp']:g} bpp ({r['budget_bytes']} bytes), " if "target_bpp" in r else
            f"target {r['target_psnr']:g} dB, " if "target_psnr" in r else "")
    return (f"{r['file']}: {r['bytes']} bytes, {r['bpp']:.4f} bpp, PSNR {r['psnr']:.2f} dB, {_ssim_text(r['ssim'])}\n"
            f"  latent network, {mode}lambda {r['lam']:.3g}, {r['levels']} grids, layer bits "
            f"{','.join(map(str, r['layer_bits']))}, {cfg['steps']} steps, device {r['device']}\n"
            f"  time: fit {sec['fit']:.1f} s, bits {sec['bits']:.1f} s, write {sec['write']:.2f} s, "
            f"decode {sec['decode']:.2f} s, total {sec['total']:.1f} s" + _format_choice(r.get("choice")))


def _format_choice(choice: dict | None) -> str:
    """One line per network a choosing effort level tried, the kept one marked."""
    if not choice:
        return ""
    lines = []
    for i, c in enumerate(choice["candidates"]):
        name = ", ".join(f"{k}={_option_text(v)}" for k, v in c.get("options", {}).items()) or "as configured"
        mark = "*" if i == choice["chosen"] else " "
        lines.append(f"\n  {mark} net {i + 1}: {name}: " +
                     (f"error: {c['error']}" if "error" in c else f"{c['bytes']} bytes, PSNR {c['psnr']:.2f} dB"))
    return f"\n  kept the best by {choice['by']} of {len(lines)} networks:" + "".join(lines)


def _option_text(value) -> str:
    return "/".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def format_siren_report(r: dict) -> str:
    bits = "/".join(str(ly["bits"]) for ly in r["layers"])
    sec = r["seconds"]
    return (f"{r['file']}: {r['bytes']} bytes, {r['bpp']:.4f} bpp, PSNR {r['psnr']:.2f} dB, {_ssim_text(r['ssim'])}\n"
            f"  network {r['hidden_width']} wide x {r['hidden_layers']} hidden, bits {bits}, "
            f"sparsity {100 * r['sparsity']:.1f} %, device {r['device']}\n"
            f"  time: fit {sec.get('fit', 0):.1f} s, prune {sec.get('prune', 0):.1f} s, qat {sec.get('qat', 0):.1f} s, "
            f"write {sec['write']:.2f} s, decode {sec['decode']:.2f} s, total {sec['total']:.1f} s"
            + _format_rate_control(r.get("rate_control")))


def _format_rate_control(rc: dict | None) -> str:
    if not rc:
        return ""
    if rc["mode"] == "quality":
        return f"\n  quality {rc['quality']} (nominal {rc['nominal_bpp']:g} bpp)"
    if rc["mode"] == "target_bpp":
        trained = " then ".join(f"{a['trained_bytes']} bytes (width {a['width']})" for a in rc["attempts"])
        return (f"\n  target {rc['target_bpp']:g} bpp (at most {rc['max_bytes']} bytes): trained "
                f"{trained}, steps x{rc['step_factor']:g}"
                + (f", trimmed {rc['trimmed']} weights" if "trimmed" in rc else ""))
    tried = ", ".join(f"q{q} {v['psnr']:.2f} dB/{v['bytes']} B" for q, v in rc["tried"].items())
    cands = ", ".join(f"q{c['quality']} x{c['step_factor']:g} {c['psnr']:.2f} dB/{c['bytes']} B"
                      for c in rc.get("candidates", []))
    return (f"\n  target {rc['target_psnr']:g} dB: tried {tried}; rescaled {cands}; chose quality {rc['quality']}, "
            f"steps x{rc['step_factor']:g}")
