"""Session 8: what a more compact layer record could save (a bound, no file written).

    .venv/bin/python docs/results/side-info/side_info_bound.py   # reads bench-out/rd-cal/*/siren-default/*.srn

Per file of rd-cal, in bytes: coding the quantized biases with a fitted model (or uniform over
their own range) instead of uniform over 0..2**nb-1, side information included ("bias_model",
negative: costs more); deriving a seeded bias's scale instead of storing it (4 bytes each);
a 16-bit model parameter instead of f32 (2 bytes each); varint alphabet bounds (~1 byte a layer).
Output: rd-cal.txt.  Verdict: 20-40 bytes a file, 0.2-1.1 %: not worth a format version.
"""
import glob, numpy as np, sys
from sirencodec import bitstream, entropy
tot = {}
for f in sorted(glob.glob("bench-out/rd-cal/*/siren-default/quality-*.srn")):
    data = open(f,"rb").read()
    p = bitstream.unpack(data)
    save_bias_model = 0.0; n_qb = 0; n_param = 0; lohi = 0
    for layer, info in zip(p.network.layers, p.layers):
        if info.model.parametric: n_param += 1
        if info.bias_code is not None:
            n_qb += 1
            q = np.asarray(layer.bias_code.q, np.int64).reshape(-1)
            bits = info.bias_code[0]
            uni = len(q) * bits
            m = entropy.choose_model(q)
            alt = entropy.cross_entropy_bits(m, q) + (10*8 if m.parametric else 4*8)
            alt2 = len(q) * np.log2(q.max()-q.min()+1) + 4*8   # uniform over lo..hi
            save_bias_model += (uni - min(alt, alt2)) / 8
    # derived bias scale: 4 B per quantized bias; param u16: 2 B per parametric; lo/hi varint ~1 B per layer
    s = {"bias_model": save_bias_model, "bias_scale": 4*n_qb, "param_u16": 2*n_param, "lohi": len(p.layers)}
    total = sum(s.values())
    key = f.split("/")[2][:5] + " " + f.split("/")[-1][:9]
    print(key, len(data), {k: round(v,1) for k,v in s.items()}, round(total,1), f"{100*total/len(data):.2f}%")
