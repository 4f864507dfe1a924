import numpy as np
import pytest
import torch

from sirencodec.errors import InputError
from sirencodec.siren.model import Siren
from sirencodec.format.siren_v3 import layer_shapes
from sirencodec.siren.prune import (
    MAX_TENSOR_SPARSITY,
    AgpPruner,
    agp_sparsity,
    default_profile,
    layer_targets,
    magnitude_mask,
)


@pytest.mark.parametrize("s_i,s_f,t0,n,dt", [(0.0, 0.3, 0, 10, 5), (0.1, 0.8, 7, 4, 3), (0.0, 0.5, 2, 1, 9)])
def test_agp_matches_formula_at_every_step(s_i, s_f, t0, n, dt):
    for t in range(t0 + n * dt + 20):
        got = agp_sparsity(t, s_i, s_f, t0, n, dt)
        if t < t0:
            want = s_i
        else:
            last = t0 + min((t - t0) // dt, n) * dt  # latest pruning step at or before t
            want = s_f + (s_i - s_f) * (1 - (last - t0) / (n * dt)) ** 3
        assert got == pytest.approx(want, abs=1e-15), t
    assert agp_sparsity(t0, s_i, s_f, t0, n, dt) == pytest.approx(s_i)
    assert agp_sparsity(t0 + n * dt, s_i, s_f, t0, n, dt) == pytest.approx(s_f)
    values = [agp_sparsity(t, s_i, s_f, t0, n, dt) for t in range(t0 + n * dt + 5)]
    assert all(a <= b for a, b in zip(values, values[1:]))


def test_agp_prunes_fast_early_slow_late():
    s = [agp_sparsity(k * 10, 0.0, 0.5, 0, 5, 10) for k in range(6)]
    inc = [b - a for a, b in zip(s, s[1:])]
    assert all(a > b for a, b in zip(inc, inc[1:]))


@pytest.mark.parametrize("width,hidden,channels", [(64, 5, 1), (8, 2, 3), (5, 1, 1), (7, 0, 1), (13, 4, 3)])
def test_layer_targets_total_is_exact(width, hidden, channels):
    shapes = layer_shapes(width, hidden, channels)
    sizes = [o * i for o, i in shapes]
    total = sum(sizes)
    for p in np.linspace(0.0, 0.9, 37):
        counts = layer_targets(shapes, float(p))
        assert sum(counts) == round(p * total)
        for c, s in zip(counts, sizes):
            assert 0 <= c <= MAX_TENSOR_SPARSITY * s


def test_default_profile_spares_first_and_output_and_prunes_deeper_more():
    shapes = layer_shapes(64, 5, 1)
    counts = layer_targets(shapes, 0.3)
    assert counts[0] == 0 and counts[-1] == 0
    hidden = counts[1:-1]
    assert all(a < b for a, b in zip(hidden, hidden[1:]))
    assert default_profile(7)[0] == 0 and default_profile(7)[-1] == 0


def test_spill_over_to_first_and_output_when_hidden_are_full():
    shapes = layer_shapes(16, 1, 1)  # [16,2], [16,16], [1,16]: hidden holds 256 of 304
    counts = layer_targets(shapes, 0.9)
    assert counts[1] == int(MAX_TENSOR_SPARSITY * 256)
    assert counts[0] > 0 and counts[2] > 0
    assert sum(counts) == round(0.9 * 304)


def test_keep_first_spills_to_the_output_layer_only():
    # A first layer of seeded residuals (format v3) is never pruned.
    shapes = layer_shapes(16, 1, 1)
    counts = layer_targets(shapes, 0.82, keep_first=True)  # hidden 243 + output 6 of 249
    assert counts[0] == 0 and counts[1] == int(MAX_TENSOR_SPARSITY * 256) and counts[2] > 0
    assert sum(counts) == round(0.82 * 304)
    with pytest.raises(InputError, match="cannot prune"):
        layer_targets(shapes, 0.9, keep_first=True)  # needs the first layer
    with pytest.raises(InputError, match="first layer 0"):
        layer_targets(shapes, 0.2, [0.1, 0.2, 0.0], keep_first=True)
    assert layer_targets(shapes, 0.2, [0.0, 0.2, 0.1], keep_first=True)[0] == 0


def test_profile_override_scaled_to_exact_total():
    shapes = layer_shapes(10, 3, 1)
    sizes = [o * i for o, i in shapes]
    profile = [0.0, 0.1, 0.2, 0.4, 0.0]
    p = sum(f * s for f, s in zip(profile, sizes)) / sum(sizes)
    counts = layer_targets(shapes, p, profile)
    assert counts == [0, 10, 20, 40, 0]  # a profile whose mean is P is used as given
    counts = layer_targets(shapes, p / 2, profile)
    assert sum(counts) == round(p / 2 * sum(sizes)) and counts[0] == counts[-1] == 0


def test_layer_targets_rejects_bad_input():
    shapes = layer_shapes(8, 2, 1)
    with pytest.raises(InputError):
        layer_targets(shapes, 1.0)
    with pytest.raises(InputError):
        layer_targets(shapes, 0.2, [0.1, 0.2])
    with pytest.raises(InputError):
        layer_targets(shapes, 0.2, [0.0, 0.0, 0.0, 0.0])
    with pytest.raises(InputError):
        layer_targets(shapes, 0.5, [0.0, 0.0, 1.0, 0.0])  # 64 entries at 95 % cannot hold half of 168


def test_magnitude_mask_exact_monotone_deterministic():
    w = torch.tensor([[0.5, -0.1, 0.3], [0.1, 0.0, -0.7]])
    mask = torch.ones(2, 3, dtype=torch.bool)
    m1 = magnitude_mask(w, mask, 2)
    assert (~m1).sum() == 2 and not m1[1, 1] and not m1[0, 1]  # |-0.1| ties 0.1: lower index first
    w2 = w.clone()
    w2[0, 0] = 0.0  # the pruned set grows by the smallest *kept* weight
    m2 = magnitude_mask(w2, m1, 3)
    assert not m2[0, 0] and bool((m2 <= m1).all())
    m3 = magnitude_mask(torch.ones(3, 4), torch.ones(3, 4, dtype=torch.bool), 5)
    assert m3.flatten().tolist() == [False] * 5 + [True] * 7
    with pytest.raises(ValueError):
        magnitude_mask(w, m2, 1)


def test_agp_pruner_in_training_loop():
    torch.manual_seed(0)
    model = Siren(12, 3, 1, generator=torch.Generator().manual_seed(1))
    targets = layer_targets(model.shapes, 0.4)
    pruner = AgpPruner(targets, t0=2, n=4, dt=3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    coords = torch.rand(50, 2) * 2 - 1
    target = torch.rand(50, 1)
    prev = [model.mask(i).clone() for i in range(model.num_layers)]
    for t in range(20):
        pruner.step(model, t)
        for i in range(model.num_layers):
            mask = model.mask(i)
            assert mask.numel() - int(mask.sum()) == pruner.count_at(i, t)
            assert bool((mask <= prev[i]).all()), "masks must be monotone"
            prev[i] = mask.clone()
        loss = ((model(coords) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        for i in range(model.num_layers):  # no gradient reaches pruned entries
            assert bool((model.weights[i].grad[~model.mask(i)] == 0).all())
        opt.step()
        model.apply_masks_()
        for i in range(model.num_layers):
            assert bool((model.weights[i][~model.mask(i)] == 0).all())
    assert pruner.done(model)
    assert [model.mask(i).numel() - int(model.mask(i).sum()) for i in range(model.num_layers)] == targets
