"""Prototype: move latents one step where it trades bytes for distortion most cheaply."""
import sys, pickle, time, math, json
import numpy as np, torch
sys.path.insert(0, sys.argv[1])
from sirencodec import latentrate as lr, latentfit as lf, arm as sarm
from sirencodec.metrics import psnr as psnr_db
from PIL import Image
torch.set_num_threads(1)
img = np.asarray(Image.open(sys.argv[2]).convert("L"))
fit = pickle.load(open(sys.argv[3], "rb"))
widths, net, data = lf.choose_bits(fit, img, fit.lam, lr.quick_pack)
print("base", len(data), round(psnr_db(img, net.render()), 3), widths)
m = fit.model
t0 = time.perf_counter()
H, W = m.size; N = H * W
ys = [torch.from_numpy(g).float().requires_grad_(True) for g in fit.grids]
target = lf._planes(img, "cpu")
out = m.synthesize(ys)
loss = torch.mean((out - target) ** 2)
grads = torch.autograd.grad(loss, ys)
with torch.no_grad():
    # per-pixel Jacobian of the MLP output wrt each feature (ReLU linearised), conv ignored
    feats = []
    for i, y in enumerate(ys):
        feats.append(y if y.shape == m.size else getattr(m, f"up_rows{i}") @ y @ getattr(m, f"up_cols{i}").T)
    a = torch.stack(feats).reshape(len(feats), -1)
    J = None  # [L, N]
    layers = list(m.synthesis)
    Jm = torch.eye(len(feats))[:, :, None].expand(-1, -1, a.shape[1])  # d a / d feat : [units, L, N]
    act = a
    for k, layer in enumerate(layers):
        act = layer.weight @ act + layer.bias[:, None]
        Jm = torch.einsum("ou,uln->oln", layer.weight, Jm)
        if k < len(layers) - 1:
            mask = (act > 0).float()
            act = act * mask
            Jm = Jm * mask[:, None, :]
    J2 = (Jm[0] ** 2).reshape(len(feats), H, W)  # [L, H, W]
    hs = []
    for i, y in enumerate(ys):
        if y.shape == m.size:
            hs.append(J2[i] / N)
        else:
            R, C = getattr(m, f"up_rows{i}"), getattr(m, f"up_cols{i}")
            hs.append((R ** 2).T @ J2[i] @ (C ** 2) / N)
    r = [torch.from_numpy(g).float() for g in fit.grids]
    mu, b = m.laplace_params(r)
    v = torch.cat([y.reshape(-1) for y in r])
    g = torch.cat([x.reshape(-1) for x in grads])
    h = torch.cat([x.reshape(-1) for x in hs])
    def bits(val):
        d = val - mu
        cdf = lambda t: 0.5 + 0.5 * torch.sign(t) * (1 - torch.exp(-t.abs() / b))
        return -torch.log2((cdf(d + 0.5) - cdf(d - 0.5)).clamp_min(sarm.PROB_FLOOR))
    b0 = bits(v)
    moves = []
    for delta in (-1.0, 1.0):
        dR = bits(v + delta) - b0
        dD = g * delta + h * delta * delta
        moves.append((delta, dR, dD))
print("ranking s", round(time.perf_counter() - t0, 2))
sizes = [g_.size for g_ in fit.grids]
offs = np.cumsum([0] + sizes)
def apply(idx, deltas):
    flat = np.concatenate([g_.reshape(-1) for g_ in fit.grids]).copy()
    flat[idx] += deltas.astype(np.int64)
    return [flat[offs[i]:offs[i + 1]].reshape(fit.grids[i].shape) for i in range(len(sizes))]
import dataclasses
def evaluate(grids):
    n2 = dataclasses.replace(net, grids=grids)
    return len(lr.quick_pack(n2)), psnr_db(img, n2.render())
# removal: moves with dR < 0, best first by dD / -dR (per bit saved)
for name, sel in (("remove", lambda dR, dD: dR < -1e-6), ("add", lambda dR, dD: (dR > 1e-6) & (dD < 0))):
    cand = []
    for delta, dR, dD in moves:
        mask = sel(dR, dD)
        idx = torch.nonzero(mask).reshape(-1)
        score = (dD[idx] / -dR[idx]) if name == "remove" else (dD[idx] / dR[idx])  # ascending: cheapest first
        cand.append((idx.numpy(), np.full(len(idx), delta), score.numpy(), dR[idx].numpy(), dD[idx].numpy()))
    idx = np.concatenate([c[0] for c in cand]); dl = np.concatenate([c[1] for c in cand]); sc = np.concatenate([c[2] for c in cand])
    dRs = np.concatenate([c[3] for c in cand]); dDs = np.concatenate([c[4] for c in cand])
    order = np.argsort(sc, kind="stable")
    idx, dl, sc, dRs, dDs = idx[order], dl[order], sc[order], dRs[order], dDs[order]
    _, first = np.unique(idx, return_index=True)  # one move per latent: its best
    keep = np.sort(first)
    idx, dl, sc, dRs, dDs = idx[keep], dl[keep], sc[keep], dRs[keep], dDs[keep]
    print(name, "candidates", len(idx), "free (dD<0 & dR<0)" if name == "remove" else "", int(((dDs < 0) & (dRs < 0)).sum()))
    for k in (0, 50, 100, 200, 400, 800, 1600, 3200, 6400):
        if k > len(idx): break
        t = time.perf_counter()
        by, ps = evaluate(apply(idx[:k], dl[:k]))
        print(json.dumps(dict(side=name, k=k, bytes=by, psnr=round(ps, 3), est_dR=round(float(dRs[:k].sum()) / 8), est_dD_psnr=None, score=float(sc[k - 1]) if k else None, s=round(time.perf_counter() - t, 2))), flush=True)
