"""What the hard stage does to the file's bytes, and whether it can be predicted or steered.
Trains IMAGE at fixed lam (soft stage as fit_latent), then:
 - at late soft-stage points: bytes now, and bytes after a PROBE-step hard probe on a copy
   (model and Adam state copied);
 - at the soft stage's end: the normal hard stage (kept Adam) at lam, 2 lam, lam/2, 4 lam;
 - from the normal hard-stage model: 400-step refinements with a fresh Adam (as refine_latent)
   and with the Adam state kept, at lam, 2 lam, 4 lam.
usage: python hard_diag.py CHECKOUT IMAGE LAM THREADS"""
import copy, json, math, sys, time
import numpy as np, torch
sys.path.insert(0, sys.argv[1])
from sirencodec import latentrate as lr
from sirencodec import latentfit as lf
from PIL import Image
torch.set_num_threads(int(sys.argv[4]))
img = np.asarray(Image.open(sys.argv[2]).convert("L"))
lam = float(sys.argv[3])
cfg = lf.LatentConfig(lam=lam)
target = lf._planes(img, "cpu")
torch.manual_seed(cfg.seed)
model = lf.LatentModel(*img.shape, cfg, 1)
opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
soft = cfg.steps - round(cfg.hard_fraction * cfg.steps)
first = round(lf.CONTROL_START * soft); every = (soft - first) // lf.CONTROL_POINTS
t0 = time.perf_counter()

def measure(m, l):
    fit = lf._snapshot(m, 0.0, l)
    w, net, data = lf.choose_bits(fit, img, l, lr.quick_pack)
    return len(data), round(lr.psnr_db(img, net.render()), 3), w

def clone(m, o):
    m2 = copy.deepcopy(m)
    o2 = torch.optim.Adam(m2.parameters(), lr=cfg.hard_lr)
    o2.load_state_dict(o.state_dict())
    return m2, o2

def hard(m, o, l, steps):
    for _ in range(steps):
        lf._step(m, o, target, l, cfg.hard_lr, None)

def out(**k):
    k["t"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(k), flush=True)

late = {first + every * k for k in (12, 14, 15)}
for s in range(soft):
    if s in late:
        b, p, w = measure(model, lam)
        m2, o2 = clone(model, opt)
        hard(m2, o2, lam, 300)
        b3, p3, _ = measure(m2, lam)
        hard(m2, o2, lam, 300)
        b6, p6, _ = measure(m2, lam)
        out(point=s, bytes=b, psnr=p, probe300=b3, probe300_psnr=p3, probe600=b6, probe600_psnr=p6, ratio300=round(b3 / b, 4), ratio600=round(b6 / b, 4))
    frac = s / max(1, soft - 1)
    temp = lf.SOFT_T0 * (lf.SOFT_T1 / lf.SOFT_T0) ** frac
    lrate = cfg.lr * (lf.LR_FLOOR + (1 - lf.LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * s / soft)))
    lf._step(model, opt, target, lam, lrate, temp)
b, p, w = measure(model, lam)
out(point="soft_end", bytes=b, psnr=p, widths=w)
hard_steps = cfg.steps - soft
ends = {}
for f in (1.0, 2.0, 0.5, 4.0):
    m2, o2 = clone(model, opt)
    hard(m2, o2, lam * f, hard_steps)
    b2, p2, w2 = measure(m2, lam * f)
    ends[f] = (m2, o2)
    out(point="hard_end", lam_factor=f, bytes=b2, psnr=p2, ratio=round(b2 / b, 4), widths=w2)
m1, o1 = ends[1.0]
for f in (1.0, 2.0, 4.0):
    fresh = lf.refine_latent(lf._snapshot(m1, 0.0, lam), img, lam * f, 400, cfg.hard_lr)
    bf, pf, _ = measure(fresh.model, lam * f)
    m2, o2 = clone(m1, o1)
    hard(m2, o2, lam * f, 400)
    bk, pk, _ = measure(m2, lam * f)
    out(point="refine400", lam_factor=f, fresh=bf, fresh_psnr=pf, kept=bk, kept_psnr=pk)
