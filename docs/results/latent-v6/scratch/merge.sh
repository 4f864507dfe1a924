#!/bin/bash
# merge.sh OUT DIR1 DIR2 ... : copy srnbench runs into OUT (later ones override) and merge their results.csv
set -e
cd /work/main  # the paths given: relative to it, or absolute
out=$1; shift
rm -rf $out; mkdir -p $out
for d in "$@"; do
  for sub in $d/*/; do cp -r $sub $out/; done
done
.venv/bin/python - "$out" "$@" <<'PY'
import sys
from pathlib import Path
from sirencodec.bench.run import read_results, write_results
out, dirs = Path(sys.argv[1]), sys.argv[2:]
rows = {}
for d in dirs:
    rows.update(read_results(Path(d) / "results.csv"))
write_results(out / "results.csv", list(rows.values()))
print(len(rows), "rows")
PY
