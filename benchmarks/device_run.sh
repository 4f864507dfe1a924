#!/usr/bin/env bash
# The GPU benchmark in one call, on a machine without network access (see device_run.py).
#
# Prepare on a machine with the package index, then carry .whl and .data with the device tool:
#   mkdir -p .whl .data && cp ../shared/device/wheels/*.whl .whl/ && cp -r ../shared/data/kodak ../shared/data/thesis .data/
#   .venv/bin/pip download pytest pluggy iniconfig pygments packaging --no-deps -d .whl/   # for pytest -m cuda
#   benchmarks/device_run.sh "$OUT"            # on the device; PYTHON overrides python3
#   benchmarks/device_run.sh "$OUT" --only thesis   # the thesis's full experiments: a call of their own
#
# constriction (and pytest, where the machine lacks it) is installed from .whl/ with no index
# into a temporary folder; the checkout is imported through PYTHONPATH, so the machine's own
# torch is used whatever the project pins.
set -euo pipefail
out=${1:?usage: benchmarks/device_run.sh OUTDIR [device_run.py options]}
shift
py=${PYTHON:-python3}
here=$(cd "$(dirname "$0")/.." && pwd)
site=$(mktemp -d)
wheels=()
"$py" -c "import constriction" 2>/dev/null || wheels+=("$here"/.whl/constriction-*.whl)
if ! "$py" -c "import pytest" 2>/dev/null; then
  for name in pytest pluggy iniconfig pygments; do wheels+=("$here"/.whl/"$name"-*.whl); done
  "$py" -c "import packaging, sys; sys.exit(int(packaging.__version__.split('.')[0]) < 24)" 2>/dev/null \
    || wheels+=("$here"/.whl/packaging-*.whl)
fi
if ((${#wheels[@]})); then
  "$py" -m pip install -q --no-index --no-deps --target "$site" "${wheels[@]}"
fi
export PYTHONPATH="$here:$site${PYTHONPATH:+:$PYTHONPATH}"
# The latents' compiled decoder (setup.py); without a C compiler, decoding falls back to numpy.
(cd "$here" && "$py" setup.py -q build_ext --inplace >/dev/null 2>&1) \
  || echo "device_run.sh: the compiled latents decoder did not build; decoding with numpy" >&2
exec "$py" "$here/benchmarks/device_run.py" --out "$out" --kodak "$here/.data/kodak" "$@"
