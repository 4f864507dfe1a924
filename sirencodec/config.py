"""Constants of the format and the decoder's safety limits, in one place.

Everything a `.srn` reader and writer must agree on numerically lives here, so that the
spec (`format_spec.md`), the numpy decoder and the torch encoder cannot drift apart.
"""

# --- container ----------------------------------------------------------------------
MAGIC = b"SRN"
# The newest format version: 2 added quantized biases, 3 seeded residuals, 4 latent-grid
# networks.  A file carries the lowest version that describes it (format_spec.md section 9):
# SIREN files are written as version 3 (their layout did not change), latent-grid files as 4.
FORMAT_VERSION = 4
SIREN_VERSION = 3
LATENT_VERSION = 4

# --- network defaults (the SIREN paper's omega_0) -------------------------------------
DEFAULT_OMEGA0 = 30.0

# --- limits a decoder enforces before allocating anything -----------------------------
MAX_FILE_BYTES = 64 * 1024 * 1024  # a reader refuses larger inputs
MAX_DIMENSION = 65535  # width and height are u16
MAX_PIXELS = 1 << 26  # 67,108,864 pixels (8192 x 8192) for both the stored and rendered size
MAX_HIDDEN_WIDTH = 1024
MAX_HIDDEN_LAYERS = 64
MAX_WEIGHTS = 1 << 22  # total weight entries of all layers (4,194,304)
# Rendered pixels x weights (multiply-adds) of one decode: bounds decoding time (a crafted
# 8192 x 8192 file with a million weights would otherwise take hours).  4096 x 4096 from a
# (64, 5) network is ~3.5e11; the cap is ~1.1e12 (about a minute on 2 cores).
MAX_DECODE_WORK = 1 << 40
MIN_BITS, MAX_BITS = 2, 16
# Latent-grid files (version 4): latents x alphabet size (2 * reach + 1) summed over the grids
# bounds the entropy decoder's work (a 256x256 file needs ~1e6; the cap takes ~10 s).
MAX_LATENT_WORK = 1 << 28

# --- decoder tiling -------------------------------------------------------------------
# Activations of one tile hold at most this many float32 values (16 MiB) per buffer.
TILE_FLOATS = 1 << 22

# --- encoder training (sirencodec.fit) -----------------------------------------------
from dataclasses import dataclass, replace  # noqa: E402  (appended section; the constants above need no imports)


@dataclass(frozen=True)
class FitConfig:
    """Everything that shapes one fit: fit -> AGP prune -> quantization-aware training.

    Learning-rate schedule: every stage decays its rate from its base value to
    ``lr_min_factor`` times it along a half cosine.  A SIREN fit converges markedly better
    with a decaying rate than a constant one, and each stage starts from a perturbation
    (pruned weights, quantized weights) that wants a larger step first and a small one at
    the end so the final weights settle.  QAT uses a lower base rate (thesis: lower did
    better): large steps make weights hop between quantization levels."""

    hidden_width: int = 48
    hidden_layers: int = 4
    omega0: float = DEFAULT_OMEGA0  # omega0 of the hidden layers (and the first, unless overridden)
    omega0_first: float | None = None
    # Steps and rates measured on the cameraman crop, (48, 4), one CPU thread (fit / after
    # prune / after QAT, dB):  full batch, lr 1e-3, 1900/600/500 steps (the first default):
    # 30.98 dB at 1.047 bpp in ~240 s.  8192-pixel batches, lr 1e-3, 8000/3000/2000:
    # 33.08/32.78/32.50 at 1.035 bpp, 226 s.  Same with lr 2e-3: 33.41/33.22/32.86 at
    # 1.010 bpp, 256 s (kept).  14000 fit steps: 33.72 -> 32.88 (+0.02 dB for 100 s more);
    # 4000 QAT steps at 2e-4: 32.79; 7-bit weights (width 52): 32.44 at 1.016 bpp.
    # Random 8192-pixel batches are ~4x cheaper per step than the full 65536 and reach a
    # better fit in the same time (float (48, 4): 32.99 dB in 189 s vs 32.63 dB in 453 s).
    # Session 6: 1.5x those steps (12000/4500/3000) with the allocation's noise tied to the fit
    # (quant_noise below): -3.5 % BD-rate on four images (docs/results/rd-long vs rd-lrmin).
    # 2x gained no more on cameraman's quality 5 and would leave quality 7 over 10 minutes.
    fit_steps: int = 12000
    prune_steps: int = 4500  # AGP pruning plus recovery
    qat_steps: int = 3000
    # Adam, fit stage; None: by the hidden width (default_lr).  4096-pixel batches at 2e-3
    # collapsed (see fit.COLLAPSE_DB).
    lr: float | None = None
    prune_lr: float | None = None  # None: lr * PRUNE_LR_FACTOR
    qat_lr: float = 3e-4  # (48, 4) QAT sweep: 1e-4 -0.07 dB, 1e-3 -0.9 dB vs 3e-4
    # Each stage's cosine ends at base lr * this.  0.01 against 0.05 (docs/results/rd-lrmin
    # vs rd-seeded, four images, quality 2-7): -1.2 % BD-rate (cameraman +0.4 %, the others
    # -1.7 to -1.8 %); the fit stage gains ~0.3 dB, pruning takes most of it back.
    lr_min_factor: float = 0.01
    prune: float = 0.2  # fraction P of all weight entries pruned
    layer_prune: tuple[float, ...] | None = None  # per-tensor fractions, scaled to meet P exactly
    agp_t0: int | None = None  # AGP schedule in prune-stage steps; None: derived from prune_steps
    agp_n: int | None = None
    agp_dt: int | None = None
    bits: int = 8
    # The first layer's error is amplified by omega0 and it has only 2 * width weights: 12 bits
    # there cost ~nothing and removed most of the QAT loss (8 bit everywhere: -0.9 dB, (32, 3)).
    first_bits: int | None = 12  # None: bits
    last_bits: int | None = None  # None: bits
    # float16 biases cost no measurable PSNR in the hidden and output layers and halve their
    # size; the first layer's bias (phase, times omega0) stays float32 (64-ish values).
    bias_dtype: str = "float16"  # "float32" or "float16", all layers ...
    first_bias_dtype: str | None = "float32"  # ... except the first, if given
    # Quantized biases (format v2) replace the floats above where given: range-linear like
    # the weights, min/max range, fake-quantized during QAT.  Post-training on the default
    # file: hidden biases at 10 bits and first-layer biases at 14 bits lose <= 0.005 dB
    # (9 bits: -0.06 dB; 12 bits first: -0.03 dB).  The output layer's C biases stay floats
    # (a quantized bias costs 7 bytes of parameters).
    bias_bits: int | None = 10  # hidden layers; None: store as bias_dtype
    first_bias_bits: int | None = 14  # first layer; None: store as first_bias_dtype
    # Bit allocation (fit.allocate_steps): before QAT, each layer's quantization step is set
    # from its measured sensitivity so that the estimated distortion of the uniform `bits`
    # allocation is kept with fewer coded bits.  Quality 5's (44, 4) on cameraman
    # (benchmarks/probe.py IMAGE hidden_width=44): 6,559 bytes / 32.06 dB against 6,859 /
    # 32.07 without (-4.4 % bytes).
    allocate_bits: bool = True
    # The allocation's distortion budget: None keeps the estimated distortion of the uniform
    # `bits` allocation; a number sets it to that share of the pruned float network's MSE,
    # so that precision follows how well the network fits rather than its weights' range.
    # Longer training widens the weights' range: at 2x steps the uniform 8-bit allocation
    # added 26 % to the float MSE (1x: 5.7 %) and QAT lost 1.5 dB.  0.057 is the uniform
    # share of quality 5 on cameraman at the old steps (training-probes/allocation-shares.txt).
    quant_noise: float | None = 0.057
    # Seeded residuals (format v3, sirencodec/seeded.py): the first layer's weights and the
    # quantized biases start from seeded values the decoder regenerates, and the file codes
    # only their trained residual.  They barely move in training (the first layer's weights
    # correlate 0.998 with their start), so this saves 3-5 bits per first-layer weight and
    # bias.  (Freezing them at the seeded values instead, storing nothing, lost 0.26-0.36 dB:
    # more than the bits it saved.)
    seeded_residuals: bool = True
    range_update_every: int = 1  # QAT: refresh scale / zero point every k steps
    batch_pixels: int = 8192  # full batch up to this many pixels, random mini-batches above
    max_restarts: int = 3  # per stage, each halving the stage's learning rate
    seed: int = 0


# The fit stage's learning rate when FitConfig.lr is None: narrow networks take a larger one.
# Session 8, 3e-3 instead of 2e-3, dB at equal rate against docs/results/rd-cal's curves
# (benchmarks/vs_curve.py; docs/results/lr-probes/), cameraman / astronaut / chelsea / coffee:
# quality 2 (33 x 3) +0.33 / +0.37 / +0.18 / +0.96, quality 3 (34 x 4) +0.35 / 0.00 / +0.15 /
# +0.60; quality 4 (41 x 4) -0.63 / -0.84 / - / -, quality 6 (52 x 4) -0.08 / -0.44 / -0.70 / -.
# 1.5e-3 at quality 6 lost too (-0.11 / -0.33 / - / -); 2.5e-3 at quality 4 was level
# (+0.10 / -0.17 / +0.03 / +0.04, against docs/results/rd-lr).
LR_NARROW, LR_WIDE = 3e-3, 2e-3
LR_WIDE_FROM = 36  # hidden width from which LR_WIDE applies (the default preset's 48: 2e-3)


def default_lr(hidden_width: int) -> float:
    """The fit stage's base learning rate for a network this wide (FitConfig.lr = None)."""
    return LR_NARROW if hidden_width < LR_WIDE_FROM else LR_WIDE


def resolved(config: "FitConfig") -> "FitConfig":
    """``config`` with its learning rate filled in (what training and reports use)."""
    return config if config.lr is not None else replace(config, lr=default_lr(config.hidden_width))


# A stage's share of the prune stage spent pruning (the rest recovers at the final masks),
# and the default number of AGP pruning steps.
AGP_PRUNE_FRACTION = 0.6
AGP_DEFAULT_STEPS = 10
PRUNE_LR_FACTOR = 0.3

# The defaults above are the "default" preset: its training settings are what rate control
# (--quality, the default mode of srnenc) uses; its (48, 4) network is what --preset default
# encodes.  The fast and test presets keep a full batch (their steps are few).
PRESETS: dict[str, FitConfig] = {
    "default": FitConfig(),
    # ~30 s for 256 x 256 gray on 2 cores.  A small net takes the larger learning rate well.
    "fast": FitConfig(
        hidden_width=32, hidden_layers=3, fit_steps=450, prune_steps=150, qat_steps=100, lr=2e-3,
        batch_pixels=1 << 18,
    ),
    # Tiny and quick, for unit tests: exercises every stage, prunes and quantizes; one bit
    # width for all layers, so `bits` alone sets them.
    "test": FitConfig(
        hidden_width=8, hidden_layers=2, fit_steps=12, prune_steps=10, qat_steps=8, prune=0.25, bits=6,
        first_bits=None, batch_pixels=1 << 18, lr=1e-3, allocate_bits=False,
    ),
}
