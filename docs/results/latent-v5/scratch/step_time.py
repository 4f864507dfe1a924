import sys, time, numpy as np, torch
sys.path.insert(0, sys.argv[1])
from PIL import Image
from sirencodec import latentfit as lf
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv)>2 else 1)
px = np.array(Image.open('/work/main/sample_images/cameraman256.png').convert('L'))
ts=[]
for _ in range(3):
    t=time.perf_counter(); f=lf.fit_latent(px, lf.LatentConfig(steps=200)); ts.append(time.perf_counter()-t)
print(sys.argv[1], 'ms/step median', sorted(ts)[1]/200*1e3, 'psnr-ish', [int(g.abs().sum()) if hasattr(g,'abs') else int(np.abs(g).sum()) for g in f.grids][:3])
