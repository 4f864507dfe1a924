"""Latent-grid probe: would a Cool-chic-style network pay enough to be worth a new format?

    .venv/bin/python benchmarks/latent_probe.py IMAGE [--lam 2e-3] [--steps 6000]
        [--levels 7] [--hidden 32,16] [--no-conv] [--context 8] [--arm 8] [--weight-bits 8]
        [--json]

The network (Ladune et al., "COOL-CHIC", ICCV 2023, reduced to what runs on two CPU cores):

* **Latents:** one learned grid per level l = 0..LEVELS-1, of size ceil(H / 2^l) x ceil(W / 2^l),
  coded as integers (unit quantization step).
* **Synthesis:** every grid upsampled bicubically to H x W, stacked as LEVELS channels, then a
  per-pixel ReLU MLP (``--hidden``) to one value, plus a residual 3x3 convolution.
* **Entropy model (ARM):** a ReLU MLP reads ``--context`` causal neighbours of a latent in its
  own grid (zero outside) and gives the mean and scale of a Laplace over its integer value.

Training minimises MSE + lam * rate (bits per pixel) with Adam (lr 1e-2, cosine-decayed to 5 %).
``--quant mixed`` (session 4): the synthesis sees rounded latents (straight-through), the rate
term sees latents plus uniform noise with contexts from the rounded ones (the "mixed"
quantization of Minnen et al.).  ``--quant soft`` (session 9, what ``sirencodec.latentfit``
does): C3's soft rounding plus noise into both, temperature annealed 0.3 -> 0.1, then the last
``--hard`` share of the steps on rounded latents at ``--hard-lr``; on cameraman it moved the
curve from +44.8 % to -25.8 % BD-rate against JPEG (docs/results/latent-soft).

After training, synthesis and ARM weights are quantized to ``--weight-bits`` with one step per
tensor; the PSNR is measured on the uint8 image from rounded latents and quantized weights.
Bytes are counted as a codec would store them, but **this is not a file**:

* ``latent_bytes``: the rounded latents range-coded (constriction) the way a bit-exact decoder
  could decode them: the ARM runs in int64 fixed point (``integer_arm``), its outputs select a
  row of a table of discretized Laplaces (scale in 1/8 steps of log scale, mean in 1/16 of a
  unit above its floor), one categorical row per latent, plus 4 bytes per grid for its reach
  and length.  ``float_arm_latent_bytes`` codes the same latents with the float ARM's exact
  Laplace (constriction's ``QuantizedLaplace``): the integer design's cost is the difference.
  Both are decoded back and checked (``latents_round_trip``).
* each weight tensor costs its ideal code length under the codec's own weight models plus a
  4-byte step; the header is assumed to be 16 bytes.

A probe only says whether the idea can pay before it is built into the format.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import constriction
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sirencodec import arm as sarm
from sirencodec import entropy
from sirencodec.imageio import load_image

# Causal neighbours (row, column offsets) in the order the ARM reads them.
OFFSETS = [(0, -1), (-1, 0), (-1, -1), (-1, 1), (0, -2), (-2, 0), (-1, -2), (-1, 2),
           (-2, -1), (-2, 1), (-2, -2), (-2, 2), (0, -3), (-3, 0), (-1, -3), (-1, 3)]
HEADER_BYTES = 16
MIN_SCALE = 0.01
# The integer ARM (what a bit-exact decoder would run): fixed point with FRAC_BITS fraction
# bits, scales from a table of SCALE_STEPS per unit of log(scale - MIN_SCALE) from LOG_SCALE_MIN.
# Means keep MEAN_STEPS fractions of a unit above their floor.
FRAC_BITS, SCALE_STEPS, LOG_SCALE_MIN, SCALE_TABLE, MEAN_STEPS = 12, 8, math.log(0.01), 72, 16


class LatentNet(nn.Module):
    def __init__(self, h: int, w: int, levels: int, hidden: list[int], conv: bool, context: int, arm: int,
                 finest: int = 0):
        super().__init__()
        self.size = (h, w)
        self.latents = nn.ParameterList(
            [nn.Parameter(torch.zeros(1, 1, -(-h // 2**l), -(-w // 2**l))) for l in range(finest, finest + levels)])
        dims = [levels] + hidden + [1]
        self.synthesis = nn.ModuleList([nn.Conv2d(i, o, 1) for i, o in zip(dims, dims[1:])])
        self.conv = nn.Conv2d(1, 1, 3, padding=1) if conv else None
        if self.conv is not None:
            nn.init.zeros_(self.conv.weight)
            nn.init.zeros_(self.conv.bias)
        self.offsets = OFFSETS[:context]
        self.arm = nn.ModuleList([nn.Linear(context, arm), nn.Linear(arm, arm), nn.Linear(arm, 2)])

    def synthesize(self, ys: list[torch.Tensor]) -> torch.Tensor:
        feats = [F.interpolate(y, size=self.size, mode="bicubic", align_corners=False)
                 if y.shape[-2:] != self.size else y for y in ys]
        h = torch.cat(feats, 1)
        for i, layer in enumerate(self.synthesis):
            h = layer(h)
            if i < len(self.synthesis) - 1:
                h = torch.relu(h)
        return h if self.conv is None else h + self.conv(h)

    def laplace_params(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and scale of every latent of one grid, from its causal neighbours in ``y``."""
        hh, ww = y.shape[-2:]
        pad = max(max(-dy, abs(dx)) for dy, dx in self.offsets)
        yp = F.pad(y, (pad, pad, pad, 0))
        ctx = torch.cat([yp[..., pad + dy: pad + dy + hh, pad + dx: pad + dx + ww] for dy, dx in self.offsets], 1)
        h = ctx.permute(0, 2, 3, 1).reshape(-1, len(self.offsets))
        h = torch.relu(self.arm[0](h))
        h = torch.relu(self.arm[1](h))
        out = self.arm[2](h)
        return out[:, 0], torch.exp(out[:, 1]) + MIN_SCALE

    def rate_bits(self, coded: list[torch.Tensor], contexts: list[torch.Tensor]) -> torch.Tensor:
        """Laplace code length of ``coded`` (integers or noisy values) given ``contexts``."""
        total = torch.zeros(())
        for y, c in zip(coded, contexts):
            mu, b = self.laplace_params(c)
            d = y.reshape(-1) - mu

            def cdf(t):
                return 0.5 + 0.5 * torch.sign(t) * (1 - torch.exp(-t.abs() / b))
            p = (cdf(d + 0.5) - cdf(d - 0.5)).clamp_min(2.0**-16)
            total = total - torch.log2(p).sum()
        return total


SOFT_T0, SOFT_T1 = 0.3, 0.1  # C3 (Kim et al., CVPR 2024): soft-rounding temperature annealed 0.3 -> 0.1


def soft_round(y: torch.Tensor, temp: float) -> torch.Tensor:
    """C3's soft rounding: a smooth staircase that tends to round() as ``temp`` -> 0."""
    m = torch.floor(y) + 0.5
    return m + 0.5 * torch.tanh((y - m) / temp) / math.tanh(0.5 / temp)


def psnr_uint8(out: torch.Tensor, pixels: np.ndarray) -> float:
    rec = np.clip(np.round(out.detach().numpy()[0, 0] * 255.0), 0, 255)
    mse = float(((rec - pixels.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


def code_latents(net: LatentNet, ys: list[torch.Tensor]) -> tuple[int, bool]:
    """Range-code the rounded latents with the ARM's Laplace models; returns (bytes, round-trips)."""
    words, ok = 0, True
    for y in ys:
        values = y.reshape(-1).numpy().astype(np.int32)
        mu, b = (t.double().numpy() for t in net.laplace_params(y))
        reach = int(np.abs(values).max(initial=0)) + 1
        n, same = _range_code(values, constriction.stream.model.QuantizedLaplace(-reach, reach), mu, b)
        words, ok = words + n, ok and same
    return 4 * words, ok


def _range_code(symbols: np.ndarray, family, *params: np.ndarray) -> tuple[int, bool]:
    """32-bit words of one grid's stream, plus one word for its reach and length (16 bits
    each), and whether decoding the stream gives ``symbols`` back."""
    enc = constriction.stream.queue.RangeEncoder()
    enc.encode(symbols, family, *params)
    compressed = enc.get_compressed()
    dec = constriction.stream.queue.RangeDecoder(compressed)
    return len(compressed) + 1, bool(np.array_equal(dec.decode(family, *params), symbols))


def integer_arm(net: LatentNet, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ARM in int64 fixed point: (floor of the mean, its fraction in 1/MEAN_STEPS, scale-table
    index) of every latent.  The ARM's weights, already on their 8-bit grid, are rounded to
    multiples of 2**-FRAC_BITS here; a format would make their steps powers of two so that
    this rounding is exact."""
    one = 1 << FRAC_BITS
    hh, ww = y.shape
    pad = max(max(-dy, abs(dx)) for dy, dx in net.offsets)
    yp = np.pad(y.astype(np.int64), ((pad, 0), (pad, pad)))
    a = np.stack([yp[pad + dy: pad + dy + hh, pad + dx: pad + dx + ww].reshape(-1) for dy, dx in net.offsets], 1) * one
    for i, layer in enumerate(net.arm):
        w = np.round(layer.weight.detach().double().numpy() * one).astype(np.int64)
        b = np.round(layer.bias.detach().double().numpy() * one).astype(np.int64)
        a = ((a @ w.T) >> FRAC_BITS) + b
        if i < len(net.arm) - 1:
            a = np.maximum(a, 0)
    base = a[:, 0] >> FRAC_BITS
    frac = (a[:, 0] - (base << FRAC_BITS)) * MEAN_STEPS >> FRAC_BITS
    index = (a[:, 1] - round(LOG_SCALE_MIN * one)) * SCALE_STEPS >> FRAC_BITS
    return base, frac, np.clip(index, 0, SCALE_TABLE - 1)


def code_latents_integer(net: LatentNet, ys: list[torch.Tensor]) -> tuple[int, bool]:
    """Range-code the rounded latents as a bit-exact decoder could: integer ARM, a Laplace from a
    table of (scale, mean fraction) pairs, one categorical row per latent.  Returns (bytes,
    round-trips)."""
    scales = np.exp(LOG_SCALE_MIN + (np.arange(SCALE_TABLE) + 0.5) / SCALE_STEPS) + MIN_SCALE
    fracs = (np.arange(MEAN_STEPS) + 0.5) / MEAN_STEPS
    words, ok = 0, True
    for y in ys:
        values = y[0, 0].numpy().astype(np.int64)
        base, frac, index = integer_arm(net, values)
        d = values.reshape(-1) - base
        reach = int(np.abs(d).max(initial=0))
        if reach == 0:  # every latent sits at its mean's floor: nothing to code but the header
            words += 1
            continue
        k = np.arange(-reach, reach + 1, dtype=np.float64)[None, None, :] - fracs[None, :, None]

        def cdf(t):
            return 0.5 + 0.5 * np.sign(t) * -np.expm1(-np.abs(t) / scales[:, None, None])
        table = np.maximum(cdf(k + 0.5) - cdf(k - 0.5), 1e-12)  # [scale, fraction, symbol]
        rows = table[index, frac]
        rows /= rows.sum(axis=1, keepdims=True)
        symbols = (d + reach).astype(np.int32)
        n, same = _range_code(symbols, constriction.stream.model.Categorical(perfect=False), rows)
        words, ok = words + n, ok and same
    return 4 * words, ok


def code_latents_format(net: LatentNet, ys: list[torch.Tensor]) -> tuple[int, bool]:
    """Range-code the rounded latents with ``sirencodec.arm`` (the codec's integer ARM and
    probability table): (bytes, round-trips).  The first 4 of probe-points.jsonl predate this field."""
    layers = list(net.arm)
    iarm = sarm.integer_arm([ly.weight.detach().double().numpy() for ly in layers],
                            [ly.bias.detach().double().numpy() for ly in layers])
    grids = [y[0, 0].numpy().astype(np.int64) for y in ys]
    enc = constriction.stream.queue.RangeEncoder()
    reaches = sarm.encode_grids(grids, iarm, enc)
    words = enc.get_compressed()
    back = sarm.decode_grids(constriction.stream.queue.RangeDecoder(words), [g.shape for g in grids], reaches, iarm)
    return 4 * len(words) + 2 * len(grids), all(np.array_equal(a, b) for a, b in zip(grids, back))


def quantize_tensors(tensors: list[torch.Tensor], bits: int) -> float:
    """Quantize in place with one step per tensor; returns the coded bits (codec weight models)."""
    total = 0.0
    for t in tensors:
        step = float(t.abs().max()) / (2 ** (bits - 1) - 1) or 1.0
        q = torch.round(t / step)
        t.copy_(q * step)
        values = q.flatten().numpy().astype(np.int64) + 2 ** (bits - 1)
        total += entropy.cross_entropy_bits(entropy.choose_model(values), values) + 32
    return total


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("image")
    p.add_argument("--lam", type=float, default=2e-3, help="rate weight: loss = MSE + lam * bpp")
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--levels", type=int, default=7)
    p.add_argument("--finest", type=int, default=0, help="finest grid is 1/2^FINEST of the image size")
    p.add_argument("--hidden", default="32,16", help="synthesis hidden widths, comma-separated")
    p.add_argument("--no-conv", dest="conv", action="store_false", help="drop the residual 3x3 convolution")
    p.add_argument("--context", type=int, default=8, choices=range(1, len(OFFSETS) + 1), metavar="1..16")
    p.add_argument("--arm", type=int, default=8, help="ARM hidden width")
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--weight-bits", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quant", choices=["mixed", "soft"], default="mixed",
                   help="mixed: rounded latents into the synthesis, noisy into the rate (session 4); soft: "
                        "C3's soft rounding plus noise into both, temperature annealed, then a hard-rounding "
                        "stage (--hard)")
    p.add_argument("--hard", type=float, default=0.1, help="soft: fraction of the steps trained on rounded latents")
    p.add_argument("--hard-lr", type=float, default=1e-4, help="soft: the hard stage's learning rate")
    p.add_argument("--save", help="torch.save the trained network here")
    p.add_argument("--json", action="store_true", help="print one JSON line instead of text")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    pixels, _ = load_image(a.image)
    if pixels.ndim != 2:
        raise SystemExit("latent_probe: gray images only")
    h, w = pixels.shape
    target = torch.from_numpy(pixels.astype(np.float32) / 255.0)[None, None]
    hidden = [int(v) for v in a.hidden.split(",") if v]
    net = LatentNet(h, w, a.levels, hidden, a.conv, a.context, a.arm, a.finest)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    start = time.perf_counter()
    soft_steps = a.steps - round(a.hard * a.steps)
    for s in range(a.steps):
        for g in opt.param_groups:
            g["lr"] = a.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * s / a.steps)))
        if a.quant == "mixed":
            rounded = [y + (torch.round(y) - y).detach() for y in net.latents]
            noisy = [y + torch.rand_like(y) - 0.5 for y in net.latents]
            mse = F.mse_loss(net.synthesize(rounded), target)
            bpp = net.rate_bits(noisy, rounded) / (h * w)
        elif s < soft_steps:
            frac = s / max(1, soft_steps - 1)
            temp = SOFT_T0 * (SOFT_T1 / SOFT_T0) ** frac
            for g in opt.param_groups:
                g["lr"] = a.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * s / soft_steps)))
            noisy = [soft_round(y, temp) + torch.rand_like(y) - 0.5 for y in net.latents]
            mse = F.mse_loss(net.synthesize([soft_round(v, temp) for v in noisy]), target)
            bpp = net.rate_bits(noisy, noisy) / (h * w)
        else:
            for g in opt.param_groups:
                g["lr"] = a.hard_lr
            rounded = [y + (torch.round(y) - y).detach() for y in net.latents]
            mse = F.mse_loss(net.synthesize(rounded), target)
            bpp = net.rate_bits(rounded, rounded) / (h * w)
        loss = mse + a.lam * bpp
        opt.zero_grad()
        loss.backward()
        opt.step()
        if not a.json and (s + 1) % max(1, a.steps // 6) == 0:
            print(f"step {s + 1}: train psnr {-10 * math.log10(max(mse.item(), 1e-12)):.2f}, "
                  f"rate proxy {bpp.item():.3f} bpp ({time.perf_counter() - start:.0f} s)", flush=True)
    with torch.no_grad():
        ys = [torch.round(y) for y in net.latents]
        synth = [t for layer in net.synthesis for t in (layer.weight, layer.bias)]
        synth += [] if net.conv is None else [net.conv.weight, net.conv.bias]
        arm = [t for layer in net.arm for t in (layer.weight, layer.bias)]
        synth_bits = quantize_tensors(synth, a.weight_bits)
        arm_bits = quantize_tensors(arm, a.weight_bits)
        float_bytes, float_round_trip = code_latents(net, ys)
        latent_bytes, round_trip = code_latents_integer(net, ys)
        format_bytes, format_round_trip = code_latents_format(net, ys)
        psnr = psnr_uint8(net.synthesize(ys), pixels)
    if a.save:
        torch.save(net.state_dict(), a.save)
    parts = {"latent_bytes": latent_bytes, "synthesis_bytes": math.ceil(synth_bits / 8),
             "arm_bytes": math.ceil(arm_bits / 8), "header_bytes": HEADER_BYTES}
    total = sum(parts.values())
    result = {"image": a.image, "lam": a.lam, "steps": a.steps, "quant": a.quant, "finest": a.finest, **parts, "bytes": total,
              "bpp": round(8 * total / (h * w), 4), "psnr": round(psnr, 3), "latents_round_trip": round_trip and float_round_trip,
              "float_arm_latent_bytes": float_bytes, "format_latent_bytes": format_bytes,
              "format_round_trip": format_round_trip,
              "nonzero_latents": [int((y != 0).sum()) for y in ys], "seconds": round(time.perf_counter() - start, 1)}
    if a.json:
        print(json.dumps(result))
    else:
        print(" ".join(f"{k} {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
