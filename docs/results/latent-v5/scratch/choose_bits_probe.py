import sys, time, numpy as np, torch
from PIL import Image
from sirencodec import latentfit as lf
from sirencodec.bitstream import pack_latent
from sirencodec.decoder import decode
from sirencodec.metrics import psnr
torch.set_num_threads(1)
img = sys.argv[1]; lam=float(sys.argv[2])
px = np.array(Image.open(f'sample_images/{img}.png').convert('L'))
f = lf.fit_latent(px, lf.LatentConfig(steps=int(sys.argv[3]), lam=lam))
d8 = pack_latent(lf.export(f, 8)); p8 = psnr(px, decode(d8))
t=time.perf_counter(); widths, net, d = lf.choose_bits(f, px, lam, pack_latent); dt=time.perf_counter()-t
p = psnr(px, decode(d))
J = lambda b, q: (255**2/10**(q/10))/255**2 + lam*8*b/65536
print(img, lam, '8-bit', len(d8), round(p8,3), 'chosen', widths, len(d), round(p,3), f'{dt:.1f}s', 'J', J(len(d8),p8), J(len(d),p))
