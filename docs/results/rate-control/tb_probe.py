"""Scratch: target-bpp trimming by pruning (current) vs by coarsening every layer's step."""
import copy, json, sys, time, dataclasses
import numpy as np, torch
from sirencodec.config import PRESETS
from sirencodec.imageio import load_image
from sirencodec import ratecontrol as rc
from sirencodec.fit import fit_network, fine_tune
from sirencodec.quant import export_network
from sirencodec.bitstream import pack
from sirencodec.decoder import decode
from sirencodec.metrics import psnr

torch.set_num_threads(1)
mode, img, bpp, path = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
pixels, _ = load_image(img)
h, w = pixels.shape[:2]
base = PRESETS["default"]
max_bytes = rc.byte_budget(bpp, w, h)
dev = torch.device("cpu")
def rep(tag, net, t0, **kw):
    data = pack(net)
    print(json.dumps({"tag": tag, "bytes": len(data), "bpp": round(8*len(data)/(w*h), 4),
                      "psnr": round(psnr(pixels, decode(data)), 3), "s": round(time.time()-t0, 1), **kw}), flush=True)
if mode == "train":
    margin = float(sys.argv[5])
    config = rc.plan(base, bpp, w, h, 1, exact=True, margin=margin)
    t0 = time.time()
    fitted = fit_network(pixels, config, dev)
    torch.save({"model": fitted.model, "config": config}, path)
    rep("trained", fitted.network, t0, width=config.hidden_width, prune=config.prune, stage=fitted.stage_psnr)
    sys.exit()
saved = torch.load(path, weights_only=False)
model, config = saved["model"], saved["config"]
t0 = time.time()
steps = config.qat_steps // 2
if mode == "prune":
    tr = rc.Trimmer(export_network(model, w, h))
    k = tr.smallest_k(rc._fits(max_bytes))
    rep("prune-notune", tr.network(k), t0, k=k)
    rc._apply_masks(model, tr.network(k))
    fine_tune(model, pixels, config, steps, dev)
    tr = rc.Trimmer(export_network(model, w, h)); k2 = tr.smallest_k(rc._fits(max_bytes))
    rep("prune+tune", tr.network(k2), t0, k=k, k2=k2)
elif mode == "scale":
    aim = float(sys.argv[5]) * max_bytes
    s0 = [float(model.q_scale[i]) if s is None else s for i, s in enumerate(model.steps)]
    def size(f):
        model.set_steps([s * f for s in s0]); return len(pack(export_network(model, w, h)))
    lo, hi = 0.25, 4.0  # bytes decrease with f; find smallest f with size <= aim
    for _ in range(20):
        mid = (lo * hi) ** 0.5
        if size(mid) <= aim: hi = mid
        else: lo = mid
    size(hi)
    rep("scale-notune", export_network(model, w, h), t0, f=round(hi, 4))
    lr = float(sys.argv[6]) if len(sys.argv) > 6 else config.qat_lr
    fine_tune(model, pixels, dataclasses.replace(config, qat_lr=lr), steps, dev)
    net = export_network(model, w, h)
    tr = rc.Trimmer(net); k2 = tr.smallest_k(rc._fits(max_bytes))
    rep("scale+tune", tr.network(k2), t0, lr=lr, f=round(hi, 4), before_trim=len(pack(net)), k2=k2)
