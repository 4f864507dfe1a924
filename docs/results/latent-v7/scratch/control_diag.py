"""Diagnose the --target-bpp controller (cameraman 256, 0.8 bpp): at each control point the
file's bytes at the widths chosen at the previous point ("stale"), at widths chosen afresh
("fresh", which this run steers by), at 8 bits everywhere ("all8"); choose_bits' seconds.
Then the trained file, and the trained model pickled for arm_gap.py / arm_bits.py.

usage: python control_diag.py CHECKOUT - THREADS OUT.pkl   (run from CHECKOUT; session 12 ran
it on ca32bc1, choose_bits starting at 8: control_diag.log)"""
import dataclasses, json, math, sys, time
import numpy as np, torch
sys.path.insert(0, sys.argv[1])
from sirencodec import latentrate as lr
from sirencodec.latentfit import choose_bits, export
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
from PIL import Image
img = np.asarray(Image.open("sample_images/cameraman256.png").convert("L"))
bpp = 0.8
run = lr._Run(img, None, "cpu", None)
budget = lr.byte_budget(bpp, run.width, run.height)
widths = []
log = []
def control(snap, lam):
    t = time.perf_counter()
    fresh = choose_bits(snap, run.image, lam, lr.quick_pack)[0]
    tc = time.perf_counter() - t
    if not widths: widths[:] = fresh
    stale = len(lr.quick_pack(export(snap, widths)))
    fr = len(lr.quick_pack(export(snap, fresh)))
    all8 = len(lr.quick_pack(export(snap, 8)))
    net = export(snap, fresh)
    fixed = len(lr.quick_pack(dataclasses.replace(net, grids=[np.zeros_like(g) for g in net.grids])))
    room = max(lr.CONTROL_AIM * budget - fixed, 1.0)
    new = lr._moved(lam, lr.GAIN * math.log(max(fr - fixed, 1.0) / room) / lr.RATE_SLOPE, lr.MAX_MOVE)
    e = dict(lam=lam, stale=stale, fresh=fr, all8=all8, fixed=fixed, widths=fresh, old=list(widths), t_choose=round(tc, 2), next=new)
    print(json.dumps(e), flush=True); log.append(e)
    widths[:] = fresh
    return new
lam = lr._clamp_lam(lr.START_BIAS * lr.REF_LAM * (lr.REF_BPP / bpp) ** (1 / lr.RATE_SLOPE))
t = time.perf_counter()
fitted = run.fit(lam, control)
ch = choose_bits(fitted, run.image, fitted.lam, lr.quick_pack)
print(json.dumps(dict(trained=len(ch[2]), widths=ch[0], lam=fitted.lam, psnr=run.psnr(ch[1]), secs=time.perf_counter()-t)), flush=True)
import pickle; pickle.dump(fitted, open(sys.argv[4], "wb"))
