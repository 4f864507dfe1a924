"""Session 9's two probes at the top of the latent curve (cameraman, lam 1.5e-4): another seed,
and a larger synthesis.  Each writes the real file and prints one JSON line.

    OMP_NUM_THREADS=1 .venv/bin/python docs/results/latent-v4/high_rate_probe.py '{"seed": 1}' out.srn
    OMP_NUM_THREADS=1 .venv/bin/python docs/results/latent-v4/high_rate_probe.py '{"hidden": [32, 16]}' out.srn

(high-rate-probes.jsonl; placed against this run's curve by benchmarks/vs_curve.py)
"""

import json
import sys

from sirencodec.codec import encode_latent
from sirencodec.imageio import load_image
from sirencodec.latentfit import LatentConfig

img, _ = load_image("sample_images/cameraman256.png")
kw = json.loads(sys.argv[1])
if "hidden" in kw:
    kw["hidden"] = tuple(kw["hidden"])
bits = kw.pop("bits", 8)
r = encode_latent(img, LatentConfig(lam=1.5e-4, **kw), device="cpu", bits=bits)
open(sys.argv[2], "wb").write(r.data)
print(json.dumps({"kw": sys.argv[1], "bits": bits, "bytes": r.report["bytes"], "bpp": r.report["bpp"],
                  "psnr": r.report["psnr"], "s": r.report["seconds"]["total"]}))
