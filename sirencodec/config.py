"""Constants of the format and the decoder's safety limits, in one place.

Everything a `.srn` reader and writer must agree on numerically lives here, so that the
spec (`format_spec.md`), the numpy decoder and the torch encoder cannot drift apart.
"""

# --- container ----------------------------------------------------------------------
MAGIC = b"SRN"
FORMAT_VERSION = 1

# --- network defaults (the SIREN paper's omega_0) -------------------------------------
DEFAULT_OMEGA0 = 30.0

# --- limits a decoder enforces before allocating anything -----------------------------
MAX_FILE_BYTES = 64 * 1024 * 1024  # a reader refuses larger inputs
MAX_DIMENSION = 65535  # width and height are u16
MAX_PIXELS = 1 << 26  # 67,108,864 pixels (8192 x 8192) for both the stored and rendered size
MAX_HIDDEN_WIDTH = 1024
MAX_HIDDEN_LAYERS = 64
MAX_WEIGHTS = 1 << 22  # total weight entries of all layers (4,194,304)
MIN_BITS, MAX_BITS = 2, 16

# --- decoder tiling -------------------------------------------------------------------
# Activations of one tile hold at most this many float32 values (16 MiB) per buffer.
TILE_FLOATS = 1 << 22

# --- encoder training (sirencodec.fit) -----------------------------------------------
from dataclasses import dataclass  # noqa: E402  (appended section; the constants above need no imports)


@dataclass(frozen=True)
class FitConfig:
    """Everything that shapes one fit: fit -> AGP prune -> quantization-aware training.

    Learning-rate schedule: every stage decays its rate from its base value to
    ``lr_min_factor`` times it along a half cosine.  A SIREN fit converges markedly better
    with a decaying rate than a constant one, and each stage starts from a perturbation
    (pruned weights, quantized weights) that wants a larger step first and a small one at
    the end so the final weights settle.  QAT uses a lower base rate (thesis: lower did
    better): large steps make weights hop between quantization levels."""

    hidden_width: int = 64
    hidden_layers: int = 5
    omega0: float = DEFAULT_OMEGA0  # omega0 of the hidden layers (and the first, unless overridden)
    omega0_first: float | None = None
    fit_steps: int = 1000
    prune_steps: int = 400  # AGP pruning plus recovery
    qat_steps: int = 400
    lr: float = 1e-3  # Adam, fit stage
    prune_lr: float | None = None  # None: lr * PRUNE_LR_FACTOR
    qat_lr: float = 1e-4
    lr_min_factor: float = 0.05  # each stage's cosine ends at base lr * this
    prune: float = 0.0  # fraction P of all weight entries pruned
    layer_prune: tuple[float, ...] | None = None  # per-tensor fractions, scaled to meet P exactly
    agp_t0: int | None = None  # AGP schedule in prune-stage steps; None: derived from prune_steps
    agp_n: int | None = None
    agp_dt: int | None = None
    bits: int = 8
    first_bits: int | None = None  # None: bits
    last_bits: int | None = None  # None: bits
    bias_dtype: str = "float32"  # "float32" or "float16", all layers ...
    first_bias_dtype: str | None = None  # ... except the first, if given
    range_update_every: int = 1  # QAT: refresh scale / zero point every k steps
    batch_pixels: int = 1 << 18  # full batch up to this many pixels, random mini-batches above
    max_restarts: int = 3  # per stage, each halving the stage's learning rate
    seed: int = 0


# A stage's share of the prune stage spent pruning (the rest recovers at the final masks),
# and the default number of AGP pruning steps.
AGP_PRUNE_FRACTION = 0.6
AGP_DEFAULT_STEPS = 10
PRUNE_LR_FACTOR = 0.3

PRESETS: dict[str, FitConfig] = {}
