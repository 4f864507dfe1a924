"""Scratch: the fit stage (Adam, the codec's schedule) then full-batch L-BFGS on the float
network; prints the full-image PSNR every 20 L-BFGS iterations.  Session 6 probe:

    .venv/bin/python docs/results/training-probes/lbfgs_float.py sample_images/cameraman256.png 46 400 8000
"""
import sys, math, time, torch, json
sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parents[3]))
from sirencodec import fit as F
from sirencodec.config import FitConfig
from sirencodec.model import Siren
from sirencodec.imageio import load_image
torch.set_num_threads(1)
pixels,_ = load_image(sys.argv[1])
W = int(sys.argv[2]); iters = int(sys.argv[3]); fit_steps = int(sys.argv[4])
cfg = FitConfig(hidden_width=W, fit_steps=fit_steps)
coords, target = F._training_tensors(pixels, 1, torch.device('cpu'))
model = Siren(W, 4, 1, generator=torch.Generator().manual_seed(0), seeded_residuals=True)
tr = F._Trainer(model, coords, target, cfg, torch.Generator().manual_seed(0), None)
t=time.time(); tr.run('fit', cfg.fit_steps, cfg.lr); print('adam', fit_steps, round(tr.psnr['fit'],3), round(time.time()-t,1), flush=True)
opt = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=20, history_size=50, line_search_fn='strong_wolfe')
def closure():
    opt.zero_grad(); l = F.mse_loss(model(coords), target); l.backward(); return l
t=time.time()
for k in range(iters // 20):
    opt.step(closure)
    print('lbfgs', (k+1)*20, round(tr.evaluate(),3), round(time.time()-t,1), flush=True)
