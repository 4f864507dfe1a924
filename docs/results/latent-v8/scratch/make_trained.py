import sys, pickle, torch, numpy as np
sys.path.insert(0, sys.argv[1])
from sirencodec import latentfit as lf
from PIL import Image
torch.set_num_threads(1)
img = np.asarray(Image.open(sys.argv[2]).convert("L")); lam = float(sys.argv[3])
cfg = lf.LatentConfig(lam=lam)
model = lf.LatentModel(*img.shape, cfg, 1); opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
st = torch.load(sys.argv[4]); model.load_state_dict(st["m"]); opt.load_state_dict(st["o"])
target = lf._planes(img, "cpu")
for _ in range(1200):
    lf._step(model, opt, target, lam, cfg.hard_lr, None)
pickle.dump(lf._snapshot(model, 0.0, lam), open(sys.argv[5], "wb"))
