import cProfile, pstats, numpy as np
from PIL import Image
from sirencodec import latentrate as lr
from sirencodec.latentfit import LatentConfig
px = np.asarray(Image.open('sample_images/cameraman256.png').convert('L'))[64:160,64:160].copy()
cProfile.run("r = lr.encode_target_bpp(px, 0.7, LatentConfig(steps=500), 'cpu')", '/tmp/s10/p2.out')
print([ (e['stage'], e.get('bytes')) for e in r.report['search'] if e['stage']!='control'])
pstats.Stats('/tmp/s10/p2.out').sort_stats('cumulative').print_stats(30)
