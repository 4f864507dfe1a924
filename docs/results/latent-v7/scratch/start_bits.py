import pickle, sys, time, numpy as np
sys.path.insert(0, ".")  # run from the checkout measured
from sirencodec import latentrate as lr
from sirencodec.latentfit import export, choose_bits
from PIL import Image
img = np.asarray(Image.open("sample_images/cameraman256.png").convert("L"))
f = pickle.load(open(sys.argv[1], "rb"))
from sirencodec.metrics import psnr
for start in (8, 10, 12):
    t = time.time()
    w, net, data = choose_bits(f, img, f.lam, lr.quick_pack, start=start)
    print(start, w, len(data), round(psnr(img, net.render()), 3), round(time.time() - t, 2))
