"""Automated Gradual Pruning (Zhu & Gupta 2017) with exact per-tensor targets.

The overall prune rate P is turned into an exact integer count of pruned entries for every
weight tensor (:func:`layer_targets`); during the prune stage each tensor's count follows
the AGP cubic schedule (:func:`agp_sparsity`) towards its target, removing the
smallest-magnitude kept weights (:func:`magnitude_mask`).  Masks only ever lose entries,
and stop changing once the target is reached.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..errors import InputError

# No tensor loses more than this fraction of its weights: a fully pruned layer kills the image.
MAX_TENSOR_SPARSITY = 0.95
# Default profile: relative prune rate of the hidden layers rises linearly from first to last
# (the thesis's sensitivity analysis: first hidden 10-20 %, last hidden 45-55 %).
HIDDEN_RATE_FIRST, HIDDEN_RATE_LAST = 1.0, 3.0


def agp_sparsity(t: int, s_i: float, s_f: float, t0: int, n: int, dt: int) -> float:
    """AGP sparsity at step ``t``: ``s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt))**3``.

    The sparsity only changes at the pruning steps t0, t0 + dt, ..., t0 + n*dt and holds its
    last value in between; it is ``s_i`` before t0 and ``s_f`` from t0 + n*dt on."""
    if dt < 1 or n < 0:
        raise ValueError(f"AGP needs dt >= 1 and n >= 0, got dt={dt}, n={n}")
    if t < t0:
        return s_i
    k = min((t - t0) // dt, n)  # index of the latest pruning step
    # The end points are returned exactly (the formula gives them only up to rounding).
    if k == n:
        return s_f
    if k == 0:
        return s_i
    return s_f + (s_i - s_f) * (1.0 - k / n) ** 3


def default_profile(num_tensors: int) -> list[float]:
    """Relative prune rates: first and output layer 0, hidden layers linearly rising."""
    hidden = num_tensors - 2
    if hidden <= 0:
        return [0.0] * num_tensors
    if hidden == 1:
        rates = [HIDDEN_RATE_LAST]
    else:
        step = (HIDDEN_RATE_LAST - HIDDEN_RATE_FIRST) / (hidden - 1)
        rates = [HIDDEN_RATE_FIRST + j * step for j in range(hidden)]
    return [0.0] + rates + [0.0]


def layer_targets(
    shapes: Sequence[tuple[int, int]], prune: float, profile: Sequence[float] | None = None,
    keep_first: bool = False,
) -> list[int]:
    """Number of pruned entries per weight tensor; they sum to exactly ``round(prune * N)``.

    ``shapes``: [out, in] per tensor, N = total entries.  ``profile``: per-tensor prune
    fractions (or relative rates); they are scaled by one common factor so that the total
    is met, so a profile whose size-weighted mean is ``prune`` is used as given.  Default:
    :func:`default_profile` (hidden layers only, deeper more).  No tensor exceeds
    ``MAX_TENSOR_SPARSITY``; what a capped tensor cannot take spills over to the others of
    the profile and then, for the default profile only, to the first and output layers.
    ``keep_first``: the first tensor is never pruned (its weights are seeded residuals,
    format version 3): it takes no spill-over, and a profile may not name it."""
    sizes = [int(o) * int(i) for o, i in shapes]
    total = sum(sizes)
    if not 0.0 <= prune < 1.0:
        raise InputError(f"prune rate must be in [0, 1), got {prune}")
    target = int(round(prune * total))
    if profile is None:
        rates = default_profile(len(sizes))
        # Spill-over group: if the hidden layers (at their caps) cannot absorb the target,
        # the first and output layers take the rest at equal rates.
        fallback = [0.0 if keep_first else 1.0] + [1.0] * (len(sizes) - 1)
    else:
        rates = [float(r) for r in profile]
        if len(rates) != len(sizes):
            raise InputError(f"prune profile needs {len(sizes)} entries, got {len(rates)}")
        if any(not (np.isfinite(r) and 0.0 <= r <= 1.0) for r in rates):
            raise InputError(f"prune profile fractions must be in [0, 1], got {list(profile)}")
        if keep_first and rates[0] > 0:
            raise InputError("the prune profile must give the first layer 0: its weights are seeded "
                             "residuals, which are never pruned")
        fallback = None
    caps = [int(np.floor(MAX_TENSOR_SPARSITY * s)) for s in sizes]
    counts = [0] * len(sizes)
    remaining = target
    for group in (rates, fallback):
        if group is None or remaining == 0:
            continue
        # Only tensors with capacity left take part (the fallback group re-includes every tensor).
        room = [cap - c for cap, c in zip(caps, counts)]
        add = _allocate(remaining, sizes, group, room)
        counts = [c + a for c, a in zip(counts, add)]
        remaining = target - sum(counts)
    if remaining:
        raise InputError(
            f"cannot prune {target} of {total} weights with this profile "
            f"(at most {MAX_TENSOR_SPARSITY:.0%} of any tensor)"
        )
    return counts


def _allocate(target: int, sizes: Sequence[int], rates: Sequence[float], room: Sequence[int]) -> list[int]:
    """Integer counts c_i <= room_i, proportional to rates_i * sizes_i, summing to ``target``
    when the rooms allow (water-filling for the caps, largest remainder for the rounding)."""
    n = len(sizes)
    real = [0.0] * n
    active = [i for i in range(n) if rates[i] > 0 and room[i] > 0]
    left = float(target)
    while active:
        weight = sum(rates[i] * sizes[i] for i in active)
        alpha = left / weight
        over = [i for i in active if alpha * rates[i] * sizes[i] >= room[i]]
        if not over:
            for i in active:
                real[i] = alpha * rates[i] * sizes[i]
            break
        for i in over:  # capped tensors take all they can; the rest is shared again
            real[i] = float(room[i])
            left -= room[i]
        active = [i for i in active if i not in over]
    eligible = [i for i in range(n) if rates[i] > 0 and room[i] > 0]
    goal = min(target, sum(room[i] for i in eligible))
    counts = [min(int(np.floor(real[i])), room[i]) for i in range(n)]
    # Largest remainder first; ties (and float noise) broken by tensor index, deterministically.
    order = sorted(eligible, key=lambda i: (-(real[i] - counts[i]), i))
    short = goal - sum(counts)
    while short > 0:
        for i in order:
            if short > 0 and counts[i] < room[i]:
                counts[i] += 1
                short -= 1
    return counts


def magnitude_mask(weight: torch.Tensor, mask: torch.Tensor, count: int) -> torch.Tensor:
    """New bool mask [out, in] with exactly ``count`` entries pruned (False).

    Already pruned entries stay pruned; further entries are the kept ones of smallest
    |weight|, ties broken by flat (row-major) index so the result is deterministic."""
    old = mask.detach().cpu().numpy().reshape(-1)
    pruned_now = int((~old).sum())
    if count < pruned_now:
        raise ValueError(f"masks are monotone: {pruned_now} already pruned, asked for {count}")
    if count > old.size:
        raise ValueError(f"cannot prune {count} of {old.size} entries")
    mag = weight.detach().abs().cpu().numpy().reshape(-1).astype(np.float64)
    mag[~old] = -1.0  # already pruned sort first
    order = np.argsort(mag, kind="stable")
    new = np.ones(old.size, dtype=bool)
    new[order[:count]] = False
    return torch.from_numpy(new.reshape(mask.shape)).to(mask.device)


class AgpPruner:
    """Drives a model's masks along the AGP schedule towards exact per-tensor targets.

    ``targets[i]``: final pruned count of tensor ``i``; schedule (t0, n, dt) in stage steps."""

    def __init__(self, targets: Sequence[int], t0: int, n: int, dt: int) -> None:
        self.targets = [int(c) for c in targets]
        self.t0, self.n, self.dt = t0, n, dt

    def fraction(self, t: int) -> float:
        """AGP sparsity at step ``t`` relative to the final one (0 -> 1)."""
        return agp_sparsity(t, 0.0, 1.0, self.t0, self.n, self.dt)

    def count_at(self, i: int, t: int) -> int:
        """Pruned entries tensor ``i`` should have at step ``t`` (reaches targets[i] exactly)."""
        return int(round(self.targets[i] * self.fraction(t)))

    def step(self, model, t: int) -> bool:
        """Prune ``model`` (a :class:`sirencodec.siren.model.Siren`) to the schedule at step ``t``.

        Returns True when a mask changed."""
        if t > 0 and self.fraction(t) == self.fraction(t - 1):
            return False  # not a pruning step: skip reading the masks back (a device sync)
        changed = False
        for i, target in enumerate(self.targets):
            if target == 0:
                continue
            mask = model.mask(i)
            want = self.count_at(i, t)
            if want > mask.numel() - int(mask.sum()):
                model.set_mask(i, magnitude_mask(model.weights[i], mask, want))
                changed = True
        return changed

    def done(self, model) -> bool:
        """True once every tensor has exactly its target count pruned."""
        return all(model.mask(i).numel() - int(model.mask(i).sum()) == c for i, c in enumerate(self.targets))
