import sys, hashlib, numpy as np
sys.path.insert(0, sys.argv[1])
from PIL import Image
from sirencodec.codec import encode_latent
from sirencodec.latentfit import LatentConfig
px = np.asarray(Image.open('/work/main/sample_images/cameraman256.png').convert('L'))[64:128,64:128].copy()
r = encode_latent(px, LatentConfig(steps=300, lam=1e-3), 'cpu')
print(sys.argv[1], len(r.data), hashlib.sha256(r.data).hexdigest()[:16])
