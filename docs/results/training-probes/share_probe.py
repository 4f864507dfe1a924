"""benchmarks/probe.py, printing one ALLOC line first: the distortion budget of the uniform
`bits` allocation (before fit.allocate_steps moves the steps), the pruned float network's MSE
on the allocation's pixels, their ratio (the "share" that FitConfig.quant_noise fixes), and
the budget actually used.  Session 6 (allocation-shares.txt):

    .venv/bin/python docs/results/training-probes/share_probe.py sample_images/cameraman256.png hidden_width=46
    ... hidden_width=46 fit_steps=12000 prune_steps=4500 qat_steps=3000 quant_noise=0.057
    ... hidden_width=46 fit_steps=16000 prune_steps=6000 qat_steps=4000 quant_noise=0.057
"""
import sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "benchmarks")); sys.path.insert(0, str(ROOT))
from sirencodec import fit as F
orig = F.balanced_steps
class P(F.SensitivityProbe):
    def __init__(self, *a, **k):
        super().__init__(*a, **k); global LAST; LAST = self
F.SensitivityProbe = P
def wrapped(kept, sens, steps, budget=None):
    b = sum(a * s * s for a, s in zip(sens, steps))
    fm = LAST.float_mse()
    print('ALLOC uniform_budget', b, 'float_mse', fm, 'share', b / fm, 'given', budget, 'base', LAST.base, flush=True)
    return orig(kept, sens, steps, budget)
F.balanced_steps = wrapped
import probe
probe.main(sys.argv[1:])
