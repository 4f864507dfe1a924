"""Scratch copy of fit_network with L-BFGS polishing (full batch, pruned weights held at zero)
after the fit and/or the prune stage; packs the real file and decodes it.  Session 6 probe:

    .venv/bin/python docs/results/training-probes/lbfgs_patch.py sample_images/cameraman256.png 46 0 0    # control
    .venv/bin/python docs/results/training-probes/lbfgs_patch.py sample_images/cameraman256.png 46 0 300  # 300 after pruning
"""
import sys, time, json, torch
sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parents[3]))
from sirencodec import fit as F
from sirencodec.prune import AgpPruner
from sirencodec.quant import export_network
from sirencodec.bitstream import pack
from sirencodec.decoder import decode
from sirencodec.metrics import psnr
from sirencodec.imageio import load_image
from sirencodec.model import Siren
from sirencodec.config import FitConfig, PRUNE_LR_FACTOR
torch.set_num_threads(1)
img = sys.argv[1]; W = int(sys.argv[2]); after_fit = int(sys.argv[3]); after_prune = int(sys.argv[4])
pixels,_ = load_image(img)
cfg = FitConfig(hidden_width=W)
coords, target = F._training_tensors(pixels, 1, torch.device('cpu'))
model = Siren(W, 4, 1, generator=torch.Generator().manual_seed(0), seeded_residuals=True)
tr = F._Trainer(model, coords, target, cfg, torch.Generator().manual_seed(0), None)
def lbfgs(n):
    masks = [model.mask(i) for i in range(model.num_layers)]
    hooks = [model.weights[i].register_hook(lambda g, m=masks[i]: g * m) for i in range(model.num_layers)]
    opt = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=20, history_size=50, line_search_fn='strong_wolfe')
    def closure():
        opt.zero_grad(); l = F.mse_loss(model(coords), target); l.backward(); return l
    for k in range(n // 20): opt.step(closure)
    for h in hooks: h.remove()
    model.apply_masks_()
    return tr.evaluate()
t = time.time(); out = {}
tr.run('fit', cfg.fit_steps, cfg.lr); out['fit'] = tr.psnr['fit']
if after_fit: out['fit_lbfgs'] = lbfgs(after_fit)
t0, n, dt = F.agp_schedule(cfg)
pruner = AgpPruner(F.prune_targets(cfg, model.shapes), t0, n, dt)
tr.run('prune', cfg.prune_steps, cfg.lr * PRUNE_LR_FACTOR, before_step=lambda s: pruner.step(model, s)); out['prune'] = tr.psnr['prune']
if after_prune: out['prune_lbfgs'] = lbfgs(after_prune)
L = model.num_layers
model.enable_quantization(F.layer_bits(cfg, L), F.layer_bias_dtypes(cfg, L), F.layer_bias_bits(cfg, L))
F.allocate_steps(model, coords, target, cfg.seed)
tr.run('qat', cfg.qat_steps, cfg.qat_lr, before_step=F._qat_hooks(tr, cfg)); out['qat'] = tr.psnr['qat']
net = export_network(model, 256, 256); net.validate(); data = pack(net)
print(json.dumps({'image': img, 'W': W, 'after_fit': after_fit, 'after_prune': after_prune, 'bytes': len(data),
  'psnr': round(psnr(pixels, decode(data)), 3), 'stages': {k: round(v, 3) for k, v in out.items()}, 's': round(time.time() - t, 1)}), flush=True)
