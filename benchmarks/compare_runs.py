"""Rate-distortion runs compared: a lever's before/after BD-rate, probe points against a run,
or the table of each sirencodec codec against the anchors (``sirencodec.bench.compare``).

    .venv/bin/python benchmarks/compare_runs.py BEFORE_DIR AFTER_DIR [--codec latent] [--bd-range 0.4,1.6]
    .venv/bin/python benchmarks/compare_runs.py --table docs/results/latent docs/results/siren --bd-range 0.4,1.6
"""

import sys

from sirencodec.bench.compare import main

if __name__ == "__main__":
    sys.exit(main())
