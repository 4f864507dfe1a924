#!/usr/bin/env bash
# The GPU benchmark in one call, on a machine without network access (see device_run.py).
#
#   mkdir -p .whl .data && cp ../shared/device/wheels/* .whl/ && cp -r ../shared/data/kodak .data/
#   benchmarks/device_run.sh OUTDIR            # the device tool: carry .whl and .data, OUTDIR=$OUT
#
# constriction is installed from .whl/ with no index into a temporary folder; the checkout is
# imported through PYTHONPATH (the machine's own torch is used, whatever the project pins).
set -euo pipefail
out=${1:?usage: benchmarks/device_run.sh OUTDIR [device_run.py options]}
shift
here=$(cd "$(dirname "$0")/.." && pwd)
site=$(mktemp -d)
if ! python3 -c "import constriction" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --target "$site" "$here"/.whl/*.whl
fi
export PYTHONPATH="$here:$site${PYTHONPATH:+:$PYTHONPATH}"
exec python3 "$here/benchmarks/device_run.py" --out "$out" --kodak "$here/.data/kodak" "$@"
