import pickle, sys, numpy as np
sys.path.insert(0, ".")  # run from the checkout measured
from sirencodec import latentrate as lr
from sirencodec.latentfit import export
f = pickle.load(open(sys.argv[1], "rb"))
for ab in (8, 9, 10, 11, 12, 13, 14, 16):
    for sb in (8,):
        net = export(f, [sb, sb, sb, ab, ab, ab])
        print(ab, len(lr.quick_pack(net)))
