import sys, time, torch, numpy as np
sys.path.insert(0, "/work/main")
torch.set_num_threads(1)
from sirencodec import latentfit as lf, arm as sarm
m = lf.LatentModel(256,256,lf.LatentConfig())
for y in m.latents: torch.nn.init.normal_(y, std=2)
ys=list(m.latents); C=8
def t(f, n=30):
    ts=[]
    for _ in range(n):
        s=time.perf_counter(); f(); ts.append(time.perf_counter()-s)
    return sorted(ts)[n//2]*1e3
def g_stack():
    cols=[]
    for y in ys:
        h,w=y.shape; yp=torch.nn.functional.pad(y,(3,3,3,0))
        cols.append(torch.stack([yp[3+dy:3+dy+h,3+dx:3+dx+w] for dy,dx in sarm.OFFSETS[:C]]).reshape(C,-1))
    return torch.cat(cols,1)
idxs=[]
for y in ys:
    h,w=y.shape; W=w+6
    r=torch.arange(h)[:,None]; c=torch.arange(w)[None,:]
    idxs.append(torch.stack([((r+3+dy)*W + (c+3+dx)).reshape(-1) for dy,dx in sarm.OFFSETS[:C]]))
def g_index():
    cols=[]
    for y,ix in zip(ys,idxs):
        yp=torch.nn.functional.pad(y,(3,3,3,0)).reshape(-1)
        cols.append(yp[ix])
    return torch.cat(cols,1)
# one flat padded buffer for all grids
def g_flat():
    flat=torch.cat([torch.nn.functional.pad(y,(3,3,3,0)).reshape(-1) for y in ys])
    return flat[allidx]
off=0; parts=[]
for y,ix in zip(ys,idxs):
    h,w=y.shape; parts.append(ix+off); off+=(h+3)*(w+6)
allidx=torch.cat(parts,1)
def g_flat_is():
    flat=torch.cat([torch.nn.functional.pad(y,(3,3,3,0)).reshape(-1) for y in ys])
    return flat.index_select(0, allidx.reshape(-1)).reshape(C,-1)
print((g_stack()-g_index()).abs().max().item(), (g_stack()-g_flat()).abs().max().item(), (g_stack()-g_flat_is()).abs().max().item())
for f in (g_stack,g_index,g_flat,g_flat_is):
    def run(): a=f(); (a*a).sum().backward()
    print(f.__name__, "%.1f ms"%t(run))
