import pickle, sys, torch, numpy as np, copy
sys.path.insert(0, ".")  # run from the checkout measured
from sirencodec import arm as sarm, latentrate as lr
from sirencodec.latentfit import export
f = pickle.load(open(sys.argv[1], "rb"))
m = f.model
net = export(f, 8)
iarm = net.integer_arm()
r = [torch.round(y.detach()) for y in m.latents]
def proxy_per_grid(model):
    with torch.no_grad():
        mu, b = model.laplace_params(r)
        d = torch.cat([y.reshape(-1) for y in r]) - mu
        cdf = lambda t: 0.5 + 0.5 * torch.sign(t) * (1 - torch.exp(-t.abs() / b))
        p = (cdf(d + 0.5) - cdf(d - 0.5)).clamp_min(sarm.PROB_FLOOR)
        bits = -torch.log2(p)
    out, o = [], 0
    for y in r:
        out.append(bits[o:o + y.numel()].sum().item() / 8); o += y.numel()
    return out
fl = proxy_per_grid(m)
# dequantized ARM weights
m2 = copy.deepcopy(m)
with torch.no_grad():
    for layer, (w, b) in zip(m2.arm, zip(iarm.weights, iarm.biases)):
        layer.weight.copy_(torch.from_numpy(w / sarm.ONE).float()); layer.bias.copy_(torch.from_numpy(b / sarm.ONE).float())
dq = proxy_per_grid(m2)
ideal = [sarm.arm_ideal_bits(g, iarm) / 8 for g in net.grids]
for i, g in enumerate(net.grids):
    print(i, g.shape, "nz", int((g != 0).sum()), "float %.0f deq %.0f int-ideal %.0f" % (fl[i], dq[i], ideal[i]))
print("tot float %.0f deq %.0f ideal %.0f" % (sum(fl), sum(dq), sum(ideal)))
payload, _ = sarm.encode_latents(net.grids, iarm, 0)
print("actual payload", len(payload))
print([ (w/sarm.ONE).round(3).tolist() for w in iarm.weights][-1])
