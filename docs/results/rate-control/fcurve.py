"""Scratch: a saved model's steps scaled by f, re-rounded, packed, decoded: JSON lines."""
import json, sys, torch
from sirencodec.bitstream import pack
from sirencodec.quant import export_network
from sirencodec.decoder import decode
from sirencodec.metrics import psnr
from sirencodec.imageio import load_image
torch.set_num_threads(1)
m = torch.load(sys.argv[1], weights_only=False)['model']
px, _ = load_image(sys.argv[2])
s0 = [float(m.q_scale[i]) if s is None else s for i, s in enumerate(m.steps)]
for f in [float(x) for x in sys.argv[3].split(',')]:
    m.set_steps([s*f for s in s0]); d = pack(export_network(m, px.shape[1], px.shape[0]))
    print(json.dumps({"image": sys.argv[2].split('/')[-1], "tag": f"{sys.argv[1].split('/')[-1]} f={f}", "bytes": len(d), "bpp": round(8*len(d)/px.size, 4), "psnr": round(psnr(px, decode(d)), 3)}))
