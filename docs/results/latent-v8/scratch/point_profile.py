"""Bytes of the rounded model at each control point of a fixed-lam training (the controller's
measurement, lam left alone), and the trained file: how the bytes at a point relate to the end.
usage: python profile.py CHECKOUT IMAGE LAM"""
import json, sys, time
import numpy as np, torch
sys.path.insert(0, sys.argv[1])
from sirencodec import latentrate as lr
from sirencodec.latentfit import choose_bits
from PIL import Image
torch.set_num_threads(1)
img = np.asarray(Image.open(sys.argv[2]).convert("L"))
run = lr._Run(img, None, "cpu", None)
pts = []
def control(snap, lam):
    _, net, data = choose_bits(snap, run.image, lam, lr.quick_pack)
    pts.append(len(data))
    print(json.dumps({"point": len(pts) - 1, "bytes": len(data), "psnr": round(run.psnr(net), 3)}), flush=True)
    return lam
fitted = run.fit(float(sys.argv[3]), control)
_, net, data = choose_bits(fitted, run.image, fitted.lam, lr.quick_pack)
print(json.dumps({"trained": len(data), "psnr": round(run.psnr(net), 3), "ratios": [round(p / len(data), 4) for p in pts]}), flush=True)
