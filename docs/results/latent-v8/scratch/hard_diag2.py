"""Why the hard stage adds bytes: at the soft stage's end and every 300 hard steps (lam and
4 lam, Adam kept), the training's own rate (float ARM, rounded latents), the integer ARM's
ideal code length of the same latents (choose_bits' widths), the file, PSNR, nonzero latents.
usage: python hard_diag2.py CHECKOUT IMAGE LAM THREADS SAVE.pt"""
import copy, json, math, os, sys, time
import numpy as np, torch
sys.path.insert(0, sys.argv[1])
from sirencodec import latentrate as lr, latentfit as lf, arm as sarm
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
t0 = time.perf_counter()
if os.path.exists(sys.argv[5]):
    st = torch.load(sys.argv[5]); model.load_state_dict(st["m"]); opt.load_state_dict(st["o"])
else:
    for s in range(soft):
        frac = s / max(1, soft - 1)
        temp = lf.SOFT_T0 * (lf.SOFT_T1 / lf.SOFT_T0) ** frac
        lrate = cfg.lr * (lf.LR_FLOOR + (1 - lf.LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * s / soft)))
        lf._step(model, opt, target, lam, lrate, temp)
    torch.save({"m": model.state_dict(), "o": opt.state_dict()}, sys.argv[5])

def measure(m, l, tag, k):
    fit = lf._snapshot(m, 0.0, l)
    w, net, data = lf.choose_bits(fit, img, l, lr.quick_pack)
    w8 = lr.quick_pack(lf.export(fit, w[:3] + [16, 16, 16]))
    with torch.no_grad():
        r = [torch.round(y) for y in m.latents]
        proxy = m.rate_bits(r, r).item() / 8
    iarm = net.integer_arm()
    ideal = sum(sarm.arm_ideal_bits(g, iarm) for g in net.grids) / 8
    nz = sum(int((g != 0).sum()) for g in fit.grids)
    l1 = sum(int(np.abs(g).sum()) for g in fit.grids)
    print(json.dumps(dict(tag=tag, step=k, file=len(data), file_arm16=len(w8), proxy=round(proxy), int_ideal=round(ideal),
                          psnr=round(lr.psnr_db(img, net.render()), 3), nz=nz, l1=l1, widths=w,
                          t=round(time.perf_counter() - t0))), flush=True)

measure(model, lam, "soft_end", 0)
for f in (1.0, 4.0):
    m2 = copy.deepcopy(model)
    o2 = torch.optim.Adam(m2.parameters(), lr=cfg.hard_lr); o2.load_state_dict(opt.state_dict())
    for k in range(1, 6):
        for _ in range(300):
            lf._step(m2, o2, target, lam * f, cfg.hard_lr, None)
        measure(m2, lam * f, f"hard x{f:g}", 300 * k)
