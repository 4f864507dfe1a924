"""Inputs that crashed or stalled the decoder (``tests/format/regressions/``, each described in
its README.md): every one must decode to a uint8 image or raise FormatError within 5 s.

Each file is decoded in a child process (the decode itself timed there with
``time.perf_counter``, start-up excluded) that is killed after 30 s, and whose address space is
capped, so that a regression can fail this test but never hang the suite or exhaust the
machine.  The time of every file is printed at the end of the module's tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent / "regressions"
FILES = sorted(HERE.glob("*.srn"))
BOUND_S = 5.0  # the contract: an answer within this
GUARD_S = 30.0  # the child is killed after this
MEMORY_MIB = 4096  # address space the child may add to its own size before decoding

CHILD = r"""
import json, resource, sys, time, traceback
import numpy as np
import sirencodec

data = open(sys.argv[1], "rb").read()
with open("/proc/self/status") as f:
    vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
hard = resource.getrlimit(resource.RLIMIT_AS)[1]
resource.setrlimit(resource.RLIMIT_AS, (vm + int(sys.argv[2]) * 1024 * 1024, hard))
t = time.perf_counter()
try:
    img = sirencodec.decode(data)
    ok = isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim in (2, 3)
    out = {"outcome": "decoded" if ok else "bad output", "detail": repr(getattr(img, "shape", type(img)))}
except sirencodec.FormatError as exc:
    out = {"outcome": "FormatError", "detail": str(exc)}
except BaseException as exc:
    fr = traceback.extract_tb(exc.__traceback__)[-1]
    out = {"outcome": type(exc).__name__, "detail": f"{exc} ({fr.filename}:{fr.lineno} in {fr.name})"}
out["seconds"] = time.perf_counter() - t
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def timings(request):
    """Collects (seconds, outcome) per file; prints them when the module's tests are done."""
    times: dict[str, tuple[float, str]] = {}
    yield times
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not times:
        return
    with capture.global_and_fixture_disabled():  # past the test's output capture, to the terminal
        reporter.write_line("")
        reporter.write_sep("-", f"regression inputs: decode time (bound {BOUND_S:.0f} s)")
        for name, (sec, outcome) in sorted(times.items()):
            flag = "  OVER" if sec > BOUND_S else ""
            reporter.write_line(f"{sec:7.2f} s  {name}: {outcome}{flag}")


def decode_in_child(path: Path) -> dict:
    """{"outcome", "detail", "seconds"} of decoding ``path`` in a child process; "killed" when it
    runs past GUARD_S."""
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, str(path), str(MEMORY_MIB)], cwd=ROOT,
                              capture_output=True, text=True, timeout=GUARD_S, check=False)
    except subprocess.TimeoutExpired:
        return {"outcome": "killed", "detail": f"still decoding after {GUARD_S:.0f} s", "seconds": GUARD_S}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"outcome": f"child exit {proc.returncode}", "detail": proc.stderr.strip()[-500:],
                "seconds": 0.0}
    return json.loads(lines[-1])


def test_folder_has_inputs_and_a_readme():
    readme = (HERE / "README.md").read_text()
    assert FILES
    for path in FILES:
        assert f"`{path.name}`" in readme, f"{path.name} is not described in regressions/README.md"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_regression_input_decodes_or_raises_in_time(path, timings, record_property):
    result = decode_in_child(path)
    timings[path.name] = (result["seconds"], f'{result["outcome"]}: {result["detail"]}'[:140])
    record_property("decode_seconds", round(result["seconds"], 3))
    what = f'{path.name}: {result["outcome"]}: {result["detail"]}'
    assert result["outcome"] in ("decoded", "FormatError"), what
    assert "\n" not in result["detail"]
    assert result["seconds"] <= BOUND_S, f'{path.name}: {result["seconds"]:.1f} s (bound {BOUND_S:.0f} s)'
