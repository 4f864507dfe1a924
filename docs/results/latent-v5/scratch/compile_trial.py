import time, numpy as np, torch
from PIL import Image
from sirencodec import latentfit as lf
torch.set_num_threads(1)
px = np.array(Image.open('sample_images/cameraman256.png').convert('L'))
m = lf.LatentModel(256,256,lf.LatentConfig())
for y in m.latents: y.data.normal_(0,2)
tgt = torch.from_numpy(px.astype(np.float32)/255)[None]
def loss(temp):
    noisy=[lf.soft_round(y,temp)+torch.rand_like(y)-0.5 for y in m.latents]
    im=m.synthesize([lf.soft_round(v,temp) for v in noisy])
    return torch.mean((im-tgt)**2) + 1e-3*m.rate_bits(noisy,noisy)/65536
def run(f, n=30):
    for _ in range(3): f(torch.tensor(0.2)).backward()
    s=time.perf_counter()
    for _ in range(n): f(torch.tensor(0.2)).backward()
    return (time.perf_counter()-s)/n*1e3
print('eager', run(loss))
t=time.perf_counter(); c=torch.compile(loss); c(torch.tensor(0.2)).backward(); print('compile s', time.perf_counter()-t)
print('compiled', run(c))
