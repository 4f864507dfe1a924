"""Command-line tools: srnenc, srndec, srninfo.

Each command parses options, calls the library, prints; any SrnError becomes one line on
stderr and exit code 2, an interrupt exit code 130.  Output files are written atomically.
"""

from __future__ import annotations

import functools
import json
import sys

import click

from .config import LR_NARROW, LR_WIDE, LR_WIDE_FROM, MAX_FILE_BYTES
from .errors import InputError, SrnError


def _fail(prog: str, message: str, code: int = 2):
    click.echo(f"{prog}: error: {message}", err=True)
    sys.exit(code)


class Command(click.Command):
    """A click command whose usage errors are one line too (``prog: error: ...``, exit 2)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            _fail(self.name or "sirencodec", exc.format_message().splitlines()[0], exc.exit_code)
        except click.exceptions.Abort:
            _fail(self.name or "sirencodec", "interrupted", 130)
        sys.exit(rv if isinstance(rv, int) else 0)


def command(name: str):
    return click.command(name, cls=Command, context_settings={"help_option_names": ["-h", "--help"]})


def handle_errors(prog: str):
    """Map the package's errors and interrupts to a one-line message and an exit code."""

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except SrnError as exc:
                _fail(prog, str(exc))
            except KeyboardInterrupt:
                _fail(prog, "interrupted", 130)
            except MemoryError:
                _fail(prog, "out of memory", 1)
        return inner

    return wrap


def read_input(path: str) -> bytes:
    """Read a file (or stdin for '-') up to the format's size cap."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{path} is larger than the {MAX_FILE_BYTES}-byte limit of a .srn file")
    return data


def parse_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"--size must look like WIDTHxHEIGHT (e.g. 512x512), got '{text}'") from None
    if w < 1 or h < 1:
        raise InputError(f"--size must be positive, got '{text}'")
    return w, h


# --- srndec ---------------------------------------------------------------------------


@command("srndec")
@click.argument("src", metavar="IN.srn")
@click.option("-o", "--output", "dst", required=True, metavar="OUT",
              help="Output image (format from the extension: .png, .bmp, .tif, .jpg ...); '-' for stdout.")
@click.option("--size", metavar="WxH", help="Render at another resolution, e.g. 1024x1024.")
@click.option("--scale", type=float, metavar="S", help="Render at S times the stored resolution.")
@click.option("--format", "fmt", metavar="FMT", help="Pillow format name when writing to stdout (default PNG).")
@handle_errors("srndec")
def srndec(src: str, dst: str, size: str | None, scale: float | None, fmt: str | None) -> None:
    """Decode a .srn file to an image ('-' reads stdin)."""
    from .decoder import decode
    from .imageio import encode_image_bytes, save_image

    pixels = decode(read_input(src), size=parse_size(size), scale=scale)
    if dst == "-":
        try:
            data = encode_image_bytes(pixels, (fmt or "PNG").upper())
        except (KeyError, OSError, ValueError) as exc:
            raise InputError(f"cannot write format '{fmt}': {exc}") from None
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        save_image(pixels, dst, fmt.upper() if fmt else None)


# --- srninfo --------------------------------------------------------------------------


@command("srninfo")
@click.argument("src", metavar="IN.srn")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors("srninfo")
def srninfo(src: str, as_json: bool) -> None:
    """Show a .srn file's header, per-layer coding and byte breakdown ('-' reads stdin)."""
    from .decoder import inspect

    info = inspect(read_input(src))
    info["file"] = src
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(format_info(info))


def _file_lines(info: dict) -> list[str]:
    kind = "gray" if info["channels"] == 1 else "RGB"
    return [f"file      {info['file']}: {info['total_bytes']} bytes, {info['bpp']:.4f} bpp, "
            f"format version {info['format_version']}",
            f"image     {info['width']}x{info['height']} {kind}"]


def format_info(info: dict) -> str:
    if info.get("kind") == "latent":
        return _format_latent_info(info)
    lines = [
        *_file_lines(info),
        f"network   SIREN 2 -> {info['hidden_width']} x ({info['hidden_layers']} hidden + first) -> "
        f"{info['channels']}, omega0 {info['omega0_first']:g}/{info['omega0_hidden']:g}, "
        f"{info['parameters']} parameters",
        f"sparsity  {info['pruned']}/{info['weights']} weights pruned ({100 * info['sparsity']:.1f} %)",
        "",
        f"{'layer':<10}{'shape':>10}{'bits':>6}{'sparsity':>10}{'model':>10}{'range':>13}{'bias':>9}"
        f"{'mask B':>9}{'weights B':>11}{'other B':>9}{'bit/kept':>10}",
    ]
    for ly in info["layers"]:
        b = ly["bytes"]
        other = b["header"] + b["quant_params"] + b["entropy_model"] + b["biases"]
        lines.append(
            f"{ly['index']:>2} {ly['kind']:<7}{'x'.join(map(str, ly['shape'])):>10}{ly['bits']:>6}"
            f"{100 * ly['sparsity']:>9.1f}%{ly['model'] + ('*' if ly['seeded_residual'] else ''):>10}"
            f"{'%d..%d' % tuple(ly['range']):>13}"
            f"{_bias_label(ly):>9}{b['masks']:>9.1f}{b['weights']:>11.1f}{other:>9.1f}"
            f"{ly['bits_per_kept_weight']:>10.2f}")
    by = info["bytes"]
    lines += ["", "bytes     " + ", ".join(f"{k.replace('_', ' ')} {v:.1f}" if isinstance(v, float) else
                                         f"{k.replace('_', ' ')} {v}" for k, v in by.items())
              + f"  = {sum(by.values()):.0f} total",
              "          (the payload is one range-coded stream; its split between masks and weights "
              "is attributed by information content)"]
    if any(ly["seeded_residual"] or ly["bias_seeded_residual"] for ly in info["layers"]):
        lines.append("          * coded as residuals from seeded values (format_spec.md section 5)")
    return "\n".join(lines)


def _format_latent_info(info: dict) -> str:
    lines = [
        *_file_lines(info),
        f"network   latent grids: {info['levels']} grids, {info['latents']} latents; synthesis "
        f"{info['levels']} -> {' -> '.join(map(str, info['synthesis']))}{' + 3x3 conv' if info['conv'] else ''}; "
        f"ARM {info['context']} -> {' -> '.join(map(str, info['arm']))}; {info['parameters']} parameters",
        "",
        f"{'grid':<6}{'shape':>10}{'reach':>7}{'nonzero':>9}",
    ]
    for i, g in enumerate(info["grids"]):
        lines.append(f"{i:<6}{'x'.join(map(str, g['shape'])):>10}{g['reach']:>7}{g['nonzero']:>9}")
    lines += ["", f"{'layer':<13}{'shape':>8}{'bits':>6}{'model':>10}{'record B':>10}"]
    for ly in info["layers"]:
        lines.append(f"{ly['index']:>2} {ly['kind']:<10}{'x'.join(map(str, ly['shape'])):>8}{ly['bits']:>6}"
                     f"{ly['model']:>10}{ly['record_bytes']:>10}")
    by = info["bytes"]
    lines += ["", "bytes     " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in by.items())
              + f"  = {sum(by.values())} total"]
    return "\n".join(lines)


def _bias_label(layer: dict) -> str:
    """'f32', 'f16', 'q10' (quantized to 10 bits) or 'q10*' (a seeded residual)."""
    if layer["bias_dtype"] == "quantized":
        return f"q{layer['bias_bits']}" + ("*" if layer["bias_seeded_residual"] else "")
    return layer["bias_dtype"].replace("float", "f")


# --- srnenc ---------------------------------------------------------------------------

_LATENT_DEFAULT_STEPS = 12000  # LatentConfig.steps (tests/test_latent_encode.py checks; latentfit imports torch, so not imported here)

_FIT_OPTIONS = {  # CLI option -> FitConfig field
    "width": "hidden_width", "depth": "hidden_layers", "bits": "bits", "first_bits": "first_bits",
    "last_bits": "last_bits", "prune": "prune", "fit_steps": "fit_steps", "prune_steps": "prune_steps",
    "qat_steps": "qat_steps", "lr": "lr", "qat_lr": "qat_lr", "omega0": "omega0", "agp_t0": "agp_t0",
    "agp_n": "agp_n", "agp_dt": "agp_dt", "range_update_every": "range_update_every",
    "bias_dtype": "bias_dtype", "bias_bits": "bias_bits", "first_bias_bits": "first_bias_bits",
    "batch_pixels": "batch_pixels", "seed": "seed", "bit_allocation": "allocate_bits",
    "quant_noise": "quant_noise",
}


def _preset_names():
    from .config import PRESETS

    return sorted(PRESETS)


@command("srnenc")
@click.argument("src", metavar="IMAGE")
@click.option("-o", "--output", "dst", required=True, metavar="OUT.srn", help="Output file ('-' for stdout).")
@click.option("--quality", type=click.IntRange(1, 8), metavar="1..8",
              help="Quality level: higher is larger and better (default 5 when no SIREN network option is given).")
@click.option("--target-bpp", type=click.FloatRange(0, min_open=True), metavar="BPP",
              help="Largest file at or below BPP bits per pixel (aims within 5 % below).")
@click.option("--target-psnr", type=click.FloatRange(0, min_open=True), metavar="DB",
              help="Smallest file found that decodes to at least DB dB PSNR (latent: one training run; "
                   "SIREN: several).")
@click.option("--preset", type=click.Choice(_preset_names()),
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
@click.option("--latent-steps", type=click.IntRange(1), metavar="N",
              help=f"Latent network: training steps (default {_LATENT_DEFAULT_STEPS}).")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--quiet", "-q", is_flag=True, help="No progress bars and no summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@handle_errors("srnenc")
def srnenc(src: str, dst: str, quality: int | None, target_bpp: float | None, target_psnr: float | None,
           preset: str | None, layer_prune: str | None, network: str | None, latent: bool, lam: float | None,
           latent_steps: int | None, device: str, quiet: bool, as_json: bool, **options) -> None:
    """Encode an image (any format Pillow reads; '-' for stdin) into a .srn file.

    By default a latent-grid network at --quality 5; --quality, --target-bpp, --target-psnr
    or --lam set its rate. SIREN options (--preset, --width, --bits, --prune, ...) or
    --network siren encode a SIREN instead."""
    import dataclasses

    from .config import PRESETS

    siren_given = sorted(f"--{k.replace('_', '-')}" for k, v in
                         {**options, "preset": preset, "layer_prune": layer_prune}.items()
                         if v is not None and k != "seed")
    latent_given = [name for name, v in (("--lam", lam), ("--latent-steps", latent_steps)) if v is not None]
    if latent and network == "siren":
        raise InputError("--latent and --network siren contradict each other")
    kind = network or ("latent" if latent else "siren" if siren_given else "latent")
    if kind == "latent":
        if siren_given:
            raise InputError(f"{', '.join(siren_given)} set a SIREN; give --network siren, or drop them "
                             "for the latent network")
        return _srnenc_latent(src, dst, quality, target_bpp, target_psnr, lam, latent_steps, options.get("seed"),
                              device, quiet, as_json)
    if latent_given:
        raise InputError(f"{' and '.join(latent_given)} apply to the latent network, not a SIREN")
    fields = {_FIT_OPTIONS[k]: v for k, v in options.items() if v is not None}
    if fields.get("quant_noise") == 0:
        fields["quant_noise"] = None  # the uniform allocation's distortion
    for key in ("bias_bits", "first_bias_bits"):
        if fields.get(key) == 0:
            fields[key] = None  # stored as floats
        elif key in fields and fields[key] < 2:
            raise InputError(f"--{key.replace('_', '-')} must be 0 (floats) or 2..16, got {fields[key]}")
    if layer_prune is not None:
        try:
            fields["layer_prune"] = tuple(float(v) for v in layer_prune.split(","))
        except ValueError:
            raise InputError(f"--layer-prune must be comma-separated numbers, got '{layer_prune}'") from None
    mode = _rate_mode(quality, target_bpp, target_psnr, preset, fields)
    config = dataclasses.replace(PRESETS[preset or "default"], **fields)

    image = _load_encoder_input(src)

    from . import ratecontrol
    from .codec import encode

    with ProgressBars(enabled=not quiet and sys.stderr.isatty()) as bars:
        if mode == "target_bpp":
            result = ratecontrol.encode_target_bpp(image, target_bpp, config, device, bars.update)
        elif mode == "target_psnr":
            result = ratecontrol.encode_target_psnr(image, target_psnr, config, device, bars.update)
        elif mode == "quality":
            level = ratecontrol.DEFAULT_QUALITY if quality is None else quality
            result = ratecontrol.encode_quality(image, level, config, device, bars.update)
        else:
            result = encode(image, config, device=device, progress=bars.update)
    _emit(result, dst, quiet, as_json, format_report)


def _load_encoder_input(src: str):
    from .imageio import load_image

    image, notes = load_image(read_input(src) if src == "-" else src)
    for note in notes:
        click.echo(f"srnenc: warning: {note}", err=True)
    return image


def _emit(result, dst: str, quiet: bool, as_json: bool, summary) -> None:
    """Write the file (atomically, or to stdout) and print the report (JSON or ``summary``);
    with the file on stdout the report goes to stderr."""
    from .imageio import atomic_write

    if dst == "-":
        sys.stdout.buffer.write(result.data)
        sys.stdout.buffer.flush()
    else:
        with atomic_write(dst) as f:
            f.write(result.data)
    report = {"file": dst, **result.report}
    if as_json:
        click.echo(json.dumps(report), err=dst == "-")
    elif not quiet:
        click.echo(summary(report), err=dst == "-")


def _srnenc_latent(src: str, dst: str, quality: int | None, target_bpp: float | None, target_psnr: float | None,
                   lam: float | None, steps: int | None, seed: int | None, device: str, quiet: bool,
                   as_json: bool) -> None:
    import dataclasses

    from . import latentrate
    from .codec import encode_latent
    from .latentfit import LatentConfig

    given = [name for name, v in (("--quality", quality), ("--target-bpp", target_bpp),
                                  ("--target-psnr", target_psnr), ("--lam", lam)) if v is not None]
    if len(given) > 1:
        raise InputError(f"{' and '.join(given)} cannot be combined; give one")
    config = LatentConfig(steps=_LATENT_DEFAULT_STEPS if steps is None else steps, seed=0 if seed is None else seed)
    image = _load_encoder_input(src)
    with ProgressBars(enabled=not quiet and sys.stderr.isatty()) as bars:
        if target_bpp is not None:
            result = latentrate.encode_target_bpp(image, target_bpp, config, device, bars.update)
        elif target_psnr is not None:
            result = latentrate.encode_target_psnr(image, target_psnr, config, device, bars.update)
        elif lam is not None:
            result = encode_latent(image, dataclasses.replace(config, lam=lam), device, bars.update)
        else:
            level = latentrate.DEFAULT_QUALITY if quality is None else quality
            result = latentrate.encode_quality(image, level, config, device, bars.update)
    _emit(result, dst, quiet, as_json, format_latent_report)


def format_latent_report(r: dict) -> str:
    sec, cfg = r["seconds"], r["config"]
    mode = (f"quality {r['quality']}, " if "quality" in r else
            f"target {r['target_bpp']:g} bpp ({r['budget_bytes']} bytes), " if "target_bpp" in r else
            f"target {r['target_psnr']:g} dB, " if "target_psnr" in r else "")
    return (f"{r['file']}: {r['bytes']} bytes, {r['bpp']:.4f} bpp, PSNR {r['psnr']:.2f} dB, SSIM {r['ssim']:.4f}\n"
            f"  latent network, {mode}lambda {r['lam']:.3g}, {r['levels']} grids, layer bits "
            f"{','.join(map(str, r['layer_bits']))}, {cfg['steps']} steps, device {r['device']}\n"
            f"  time: fit {sec['fit']:.1f} s, bits {sec['bits']:.1f} s, write {sec['write']:.2f} s, "
            f"decode {sec['decode']:.2f} s, total {sec['total']:.1f} s")


# Options that fix the network; rate control chooses these itself.
_NETWORK_FIELDS = ("hidden_width", "hidden_layers", "bits", "first_bits", "last_bits", "prune", "layer_prune")


def _rate_mode(quality, target_bpp, target_psnr, preset, fields) -> str:
    """'quality', 'target_bpp', 'target_psnr' or 'manual' (a preset / explicit network)."""
    given = [name for name, v in (("--quality", quality), ("--target-bpp", target_bpp),
                                  ("--target-psnr", target_psnr)) if v is not None]
    if len(given) > 1:
        raise InputError(f"{' and '.join(given)} cannot be combined; give one")
    network = sorted(f"--{_OPTION_OF[f].replace('_', '-')}" for f in fields if f in _NETWORK_FIELDS)
    if given and network:
        raise InputError(f"{given[0]} chooses the network itself; drop {', '.join(network)}")
    if given:
        return given[0][2:].replace("-", "_")
    return "manual" if preset is not None or network else "quality"


_OPTION_OF = {field: option for option, field in _FIT_OPTIONS.items()} | {"layer_prune": "layer_prune"}


def format_report(r: dict) -> str:
    bits = "/".join(str(ly["bits"]) for ly in r["layers"])
    sec = r["seconds"]
    return (f"{r['file']}: {r['bytes']} bytes, {r['bpp']:.4f} bpp, PSNR {r['psnr']:.2f} dB, SSIM {r['ssim']:.4f}\n"
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


class ProgressBars:
    """One tqdm bar per training stage, with the live PSNR; a no-op when disabled."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.stage = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()

    def update(self, stage: str, step: int, total: int, psnr: float | None) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if stage != self.stage or self.bar is None:
            if self.bar is not None:
                self.bar.close()
            self.bar = tqdm(total=total, desc=f"{stage:>5}", unit="step", leave=True, dynamic_ncols=True)
            self.stage = stage
        if psnr is not None:
            self.bar.set_postfix_str(f"PSNR {psnr:.2f} dB", refresh=False)
        self.bar.update(step - self.bar.n)  # tqdm redraws at most every 0.1 s
