"""The SIREN encoder's settings: ``FitConfig`` (one fit: fit -> AGP prune -> QAT) and its presets."""

from __future__ import annotations

from dataclasses import dataclass, replace

DEFAULT_OMEGA0 = 30.0  # the SIREN paper's omega_0 (Sitzmann et al. 2020)


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
    # Steps of the three stages (docs/results/CHANGELOG.md#siren-5).
    fit_steps: int = 12000
    prune_steps: int = 4500  # AGP pruning plus recovery
    qat_steps: int = 3000
    lr: float | None = None  # Adam, fit stage; None: by the hidden width (default_lr)
    prune_lr: float | None = None  # None: lr * PRUNE_LR_FACTOR
    qat_lr: float = 3e-4  # QAT's base rate: 1e-4 lost 0.07 dB, 1e-3 0.9 dB (docs/results/CHANGELOG.md#siren-1)
    lr_min_factor: float = 0.01  # each stage's cosine ends at base lr * this (docs/results/CHANGELOG.md#siren-4)
    prune: float = 0.2  # fraction P of all weight entries pruned
    layer_prune: tuple[float, ...] | None = None  # per-tensor fractions, scaled to meet P exactly
    agp_t0: int | None = None  # AGP schedule in prune-stage steps; None: derived from prune_steps
    agp_n: int | None = None
    agp_dt: int | None = None
    bits: int = 8
    # The first layer's 2 x width weights, whose error omega0 amplifies, at 12 bits: most of the
    # QAT loss gone for almost no bytes (docs/results/CHANGELOG.md#siren-1).
    first_bits: int | None = 12  # None: bits
    last_bits: int | None = None  # None: bits
    # Float storage of the biases not quantized: float16 costs no measurable PSNR; the first
    # layer's (a phase, times omega0) stays float32.
    bias_dtype: str = "float16"  # "float32" or "float16", all layers ...
    first_bias_dtype: str | None = "float32"  # ... except the first, if given
    # Quantized biases (format version 2; the output layer's few biases stay floats): at 10 and
    # 14 bits they lose under 0.005 dB (docs/results/CHANGELOG.md#siren-2).
    bias_bits: int | None = 10  # hidden layers; None: store as bias_dtype
    first_bias_bits: int | None = 14  # first layer; None: store as first_bias_dtype
    # Bit allocation (allocate.allocate_steps): each layer's quantization step from its measured
    # sensitivity, before QAT (docs/results/CHANGELOG.md#siren-3).
    allocate_bits: bool = True
    # The allocation's distortion budget as a share of the pruned float network's MSE; None:
    # the uniform ``bits`` allocation's distortion (docs/results/CHANGELOG.md#siren-5).
    quant_noise: float | None = 0.057
    # Seeded residuals (format version 3, ``format.seeded``): the first layer's weights and the
    # quantized biases code only their residual from values the decoder regenerates
    # (docs/results/CHANGELOG.md#siren-4).
    seeded_residuals: bool = True
    range_update_every: int = 1  # QAT: refresh scale / zero point every k steps
    batch_pixels: int = 8192  # full batch up to this many pixels, random mini-batches above
    max_restarts: int = 3  # per stage, each halving the stage's learning rate
    seed: int = 0


# The fit stage's learning rate when FitConfig.lr is None: narrow networks take a larger one
# (docs/results/CHANGELOG.md#siren-7).
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
