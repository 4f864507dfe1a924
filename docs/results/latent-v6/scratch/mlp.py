import time, torch
torch.set_num_threads(1)
N=87381
def t(f, n=30):
    ts=[]
    for _ in range(n):
        s=time.perf_counter(); f(); ts.append(time.perf_counter()-s)
    return sorted(ts)[n//2]*1e3
Ws = [torch.randn(8,8,requires_grad=True), torch.randn(8,8,requires_grad=True), torch.randn(2,8,requires_grad=True)]
bs = [torch.randn(8,requires_grad=True), torch.randn(8,requires_grad=True), torch.randn(2,requires_grad=True)]
xr = torch.randn(N,8,requires_grad=True)
xc = torch.randn(8,N,requires_grad=True)
def rowmajor():
    a = xr
    for i,(W,b) in enumerate(zip(Ws,bs)):
        a = torch.nn.functional.linear(a, W, b)
        if i<2: a = torch.relu(a)
    a.sum().backward()
def colmajor():
    a = xc
    for i,(W,b) in enumerate(zip(Ws,bs)):
        a = torch.addmm(b[:,None], W, a)
        if i<2: a = torch.relu(a)
    a.sum().backward()
def fwd_row():
    with torch.no_grad():
        a = xr
        for i,(W,b) in enumerate(zip(Ws,bs)):
            a = torch.nn.functional.linear(a, W, b)
            if i<2: a = torch.relu(a)
def fwd_col():
    with torch.no_grad():
        a = xc
        for i,(W,b) in enumerate(zip(Ws,bs)):
            a = torch.addmm(b[:,None], W, a)
            if i<2: a = torch.relu(a)
for f in (rowmajor, colmajor, fwd_row, fwd_col, rowmajor, colmajor):
    print(f.__name__, "%.2f ms"%t(f))
