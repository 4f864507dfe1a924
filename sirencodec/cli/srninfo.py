"""``srninfo``: a .srn file's header, per-layer coding and byte breakdown."""

from __future__ import annotations

import json

import click

from .common import command, handle_errors, read_input


@command("srninfo")
@click.argument("src", metavar="IN.srn")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors("srninfo")
def srninfo(src: str, as_json: bool) -> None:
    """Show a .srn file's header, per-layer coding and byte breakdown ('-' reads stdin)."""
    from ..decoder import inspect

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
        f"{'grid':<6}{'level':>6}{'shape':>10}{'reach':>7}{'nonzero':>9}",
    ]
    for i, (g, level) in enumerate(zip(info["grids"], info["grid_levels"])):
        lines.append(f"{i:<6}{level:>6}{'x'.join(map(str, g['shape'])):>10}{g['reach']:>7}{g['nonzero']:>9}")
    lines += ["", f"{'layer':<13}{'shape':>8}{'bits':>6}{'model':>10}{'record B':>10}"]
    for ly in info["layers"]:
        lines.append(f"{ly['index']:>2} {ly['kind']:<10}{'x'.join(map(str, ly['shape'])):>8}{ly['bits']:>6}"
                     f"{ly['model']:>10}{ly['record_bytes']:>10}")
    up = info["upsampling"]
    if up != "bicubic":
        lines.append(f"{'':>2} {'upsample':<10}{str(up['filters']) + 'x4':>8}{up['bits']:>6}"
                     f"{up['model']:>10}{up['record_bytes']:>10}   learned x2 filters, one per level")
    by = info["bytes"]
    lines += ["", "bytes     " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in by.items())
              + f"  = {sum(by.values())} total"]
    return "\n".join(lines)


def _bias_label(layer: dict) -> str:
    """'f32', 'f16', 'q10' (quantized to 10 bits) or 'q10*' (a seeded residual)."""
    if layer["bias_dtype"] == "quantized":
        return f"q{layer['bias_bits']}" + ("*" if layer["bias_seeded_residual"] else "")
    return layer["bias_dtype"].replace("float", "f")
