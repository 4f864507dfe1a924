"""PSNR of the fixed-lam curve at a bpp: linear in log bpp between the nearest points of
latent-v7's results.csv plus this session's fixed-lam trainings (point_profile.log: astronaut
2.5e-3, chelsea 7e-4, cameraman 8e-4, 12,000 steps). usage: oncurve.py IMAGE BPP [PSNR]
(run from the repository root)"""
import csv, json, math, sys

img, bpp = sys.argv[1], float(sys.argv[2])
pts = [(float(r["bpp"]), float(r["psnr"])) for r in csv.DictReader(open("docs/results/latent-v7/results.csv"))
       if r["image"] == img and r["codec"] == "siren"]
name = None
for line in open("docs/results/latent-v8/scratch/point_profile.log"):
    if line.startswith("---"):
        name = line.split()[1]
    elif name == img and '"trained"' in line:
        t = json.loads(line)
        pts.append((8 * t["trained"] / 65536, t["psnr"]))
pts.sort()
for (b0, p0), (b1, p1) in zip(pts, pts[1:]):
    if b0 <= bpp <= b1:
        p = p0 + (p1 - p0) * math.log(bpp / b0) / math.log(b1 / b0)
        got = f", got {float(sys.argv[3]):.2f} ({float(sys.argv[3]) - p:+.2f} dB)" if len(sys.argv) > 3 else ""
        print(f"{img} {bpp:.4f} bpp: fixed-lam curve {p:.2f} dB (between {b0:.3f} and {b1:.3f} bpp){got}")
