import sys, time, torch, numpy as np
sys.path.insert(0, "/work/main")
torch.set_num_threads(1)
from PIL import Image
from sirencodec import latentfit as lf
px = np.array(Image.open('/work/main/sample_images/cameraman256.png').convert('L'))
m = lf.LatentModel(256,256,lf.LatentConfig())
for y in m.latents: torch.nn.init.normal_(y, std=2)
target = torch.from_numpy(px[None].astype(np.float32)/255)
opt = torch.optim.Adam(m.parameters(), lr=1e-3)
def t(f, n=30):
    ts=[]
    for _ in range(n):
        s=time.perf_counter(); f(); ts.append(time.perf_counter()-s)
    return sorted(ts)[n//2]*1e3
def noise():
    return [lf.soft_round(y, 0.2) + torch.rand_like(y) - 0.5 for y in m.latents]
def synth():
    nz = noise(); img = m.synthesize([lf.soft_round(v, 0.2) for v in nz]); ((img-target)**2).mean().backward()
def rate():
    nz = noise(); m.rate_bits(nz, nz).backward()
def noiseonly():
    nz = noise(); sum(v.sum() for v in nz).backward()
def full():
    lf._step(m, opt, target, 1e-3, 1e-3, 0.2)
def adam():
    opt.step()
for f in (noiseonly, synth, rate, full, adam):
    print(f.__name__, "%.1f ms" % t(f))
