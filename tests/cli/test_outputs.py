"""Where the commands write, and how they end: special files written through and never
replaced, symbolic links followed, the umask honoured, bad outputs refused before any work,
termination signals cleaned up like Ctrl-C, strict JSON, a closed stdout, undecodable stdin."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

import sirencodec
from tests import ROOT

PY = sys.executable


def _cli(name: str, *args, **kw) -> subprocess.CompletedProcess:
    code = f"from sirencodec.cli import {name}; {name}()"
    return subprocess.run([PY, "-c", code, *map(str, args)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False, **kw)


def _png(path, h=16, w=16):
    y, x = np.mgrid[0:h, 0:w]
    Image.fromarray((127 + 90 * np.sin(x / 3) * np.cos(y / 4)).astype(np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def srn_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("srn") / "img.srn"
    image = np.asarray(Image.open(_png(path.with_suffix(".png"))))
    path.write_bytes(sirencodec.encode(image, lam=2e-3, latent_steps=20, device="cpu").data)
    return path


def _strict_json(text: str):
    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.skipif(os.access("/dev", os.W_OK), reason="as root a regression would replace this machine's /dev/null; "
                    "the FIFO test covers the same path")
def test_dev_null_is_written_through_not_replaced(tmp_path, srn_file):
    src = _png(tmp_path / "in.png")
    r = _cli("srnenc", src, "-o", os.devnull, "--lam", "0.002", "--latent-steps", "5", "--device", "cpu", "-q")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    r = _cli("srndec", srn_file, "-o", os.devnull, "--format", "png")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_a_fifo_receives_the_file_and_stays_a_fifo(tmp_path, srn_file):
    fifo = tmp_path / "out.png"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    r = _cli("srndec", srn_file, "-o", fifo)
    reader.join(60)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    decoded = np.asarray(Image.open(__import__("io").BytesIO(received[0])))
    assert np.array_equal(decoded, sirencodec.decode(srn_file.read_bytes()))


def test_a_symlink_is_followed_and_kept(tmp_path, srn_file):
    target = tmp_path / "real.png"
    target.write_bytes(b"old")
    link = tmp_path / "link.png"
    link.symlink_to(target)
    r = _cli("srndec", srn_file, "-o", link)
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert np.array_equal(np.asarray(Image.open(target)), sirencodec.decode(srn_file.read_bytes()))


def test_new_files_honour_the_umask_and_replaced_files_keep_their_mode(tmp_path, srn_file):
    old = os.umask(0o027)
    try:
        fresh = tmp_path / "fresh.png"
        assert _cli("srndec", srn_file, "-o", fresh).returncode == 0
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o640  # 0666 less the umask
        kept = tmp_path / "kept.png"
        kept.write_bytes(b"x")
        kept.chmod(0o604)
        assert _cli("srndec", srn_file, "-o", kept).returncode == 0
        assert stat.S_IMODE(kept.stat().st_mode) == 0o604
    finally:
        os.umask(old)


def test_bad_outputs_are_refused_before_training(tmp_path):
    src = _png(tmp_path / "in.png")
    start = time.perf_counter()
    r = _cli("srnenc", src, "-o", "missing/out.srn", "--lam", "0.002", "--latent-steps", "1000000",
             "--device", "cpu", cwd=tmp_path)
    assert time.perf_counter() - start < 60  # a million steps would take hours
    assert r.returncode == 2 and "no such directory" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = _cli("srndec", src, "-o", "missing/out.png", cwd=tmp_path)  # before decoding: the input is no .srn
    assert r.returncode == 2 and "no such directory" in r.stderr, r.stderr
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if not os.access(locked, os.W_OK):  # (root may write anywhere)
        r = _cli("srnenc", src, "-o", locked / "out.srn", "--lam", "0.002", "--latent-steps", "1000000",
                 "--device", "cpu")
        assert r.returncode == 2 and "permission denied" in r.stderr, r.stderr


def test_srndec_refuses_a_directory(tmp_path, srn_file):
    r = _cli("srndec", srn_file, "-o", tmp_path)
    assert r.returncode == 2 and "is a directory" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_termination_mid_write_leaves_no_file(tmp_path, signum):
    """A signal while the output is half written: the command unwinds as on Ctrl-C (one line,
    exit 128 + N) and neither the file nor its temporary file is left."""
    out = tmp_path / "out.srn"
    code = f"""
import os, signal
from sirencodec.cli.common import handle_errors
from sirencodec.imageio import atomic_write

@handle_errors("srnenc")
def main():
    with atomic_write({str(out)!r}) as f:
        f.write(b"half a file")
        f.flush()
        os.kill(os.getpid(), {int(signum)})
        f.write(b"never")

main()
"""
    # (the signal's default disposition in the child, whatever the runner inherited: nohup ignores SIGHUP)
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=60, check=False,
                       env={**os.environ, "PYTHONPATH": str(ROOT)},
                       preexec_fn=lambda: signal.signal(signum, signal.SIG_DFL))
    assert r.returncode == 128 + signum, r.stderr
    assert r.stderr.strip() == f"srnenc: error: terminated by {signal.Signals(signum).name}"
    assert list(tmp_path.iterdir()) == []


def test_sigterm_during_training(tmp_path):
    src = _png(tmp_path / "in.png", 64, 64)
    code = "from sirencodec.cli import srnenc; srnenc()"
    proc = subprocess.Popen([PY, "-c", code, str(src), "-o", str(tmp_path / "out.srn"), "--lam", "0.002",
                             "--latent-steps", "1000000", "--device", "cpu"], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    time.sleep(8)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM and err.strip() == "srnenc: error: terminated by SIGTERM", err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_sigterm_swallowed_in_a_finalizer_still_terminates():
    """A termination signal whose exception Python swallows (raised inside a finalizer, as in
    torch's compiler's weakref callbacks) is delivered again: the program still ends with its
    one line and exit code, and prints nothing about the swallowed exception."""
    code = """
import os, signal, time
from sirencodec.cli.common import handle_errors

class Finalized:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)  # the handler runs in here, and its exception is swallowed

@handle_errors("prog")
def work():
    Finalized()
    time.sleep(10)
    print("not terminated")

work()
"""
    start = time.perf_counter()
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 128 + signal.SIGTERM and r.stderr.strip() == "prog: error: terminated by SIGTERM", r.stderr
    assert r.stdout == "" and time.perf_counter() - start < 8


@pytest.mark.parametrize("signum, line, code", [(signal.SIGTERM, "terminated by SIGTERM", 143),
                                                 (signal.SIGINT, "interrupted", 130)])
def test_a_signal_in_an_anomaly_checked_backward_prints_only_its_line(signum, line, code):
    """torch's compiler traces the backward pass with anomaly detection on, which reports an
    exception raised inside it as a warning with a stack trace. A signal that lands there still
    ends the program with its one line."""
    src = f"""
import os, signal, time, warnings
import torch
from sirencodec.cli.common import handle_errors
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
warnings.filterwarnings("ignore", "Anomaly Detection has been enabled")

class Signalled(torch.autograd.Function):
    forward = staticmethod(lambda ctx, x: x * 2)

    @staticmethod
    def backward(ctx, g):
        os.kill(os.getpid(), {int(signum)})
        time.sleep(10)
        return g * 2

@handle_errors("prog")
def work():
    with torch.autograd.detect_anomaly(check_nan=False):
        x = torch.ones(3, requires_grad=True)
        Signalled.apply(x).view(-1).sum().backward()
    print("not stopped")

work()
"""
    r = subprocess.run([PY, "-c", src], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (r.returncode, r.stderr, r.stdout) == (code, f"prog: error: {line}\n", "")


def test_a_signal_the_process_ignores_stays_ignored():
    """Under nohup, SIGHUP is ignored from the start; the command must not undo that."""
    src = """
import os, signal, time
from sirencodec.cli.common import handle_errors
signal.signal(signal.SIGHUP, signal.SIG_IGN)

@handle_errors("prog")
def work():
    os.kill(os.getpid(), signal.SIGHUP)
    time.sleep(0.5)
    print("finished")

work()
"""
    r = subprocess.run([PY, "-c", src], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (r.returncode, r.stdout, r.stderr) == (0, "finished\n", "")


def test_json_is_strict_for_an_exact_decode(tmp_path):
    """A 1 x 1 image decodes exactly: its PSNR is infinite, which JSON writes as null."""
    src = tmp_path / "one.png"
    Image.fromarray(np.full((1, 1), 77, np.uint8)).save(src)
    r = _cli("srnenc", src, "-o", tmp_path / "one.srn", "--lam", "0.002", "--latent-steps", "50", "--json",
             "--device", "cpu")
    assert r.returncode == 0, r.stderr
    report = _strict_json(r.stdout)
    decoded = sirencodec.decode((tmp_path / "one.srn").read_bytes())
    assert (report["psnr"] is None) == bool(decoded[0, 0] == 77)


def test_closed_stdout_is_one_line(srn_file):
    code = f"import os; os.close(1); from sirencodec.cli import srndec; srndec([{str(srn_file)!r}, '-o', '-'])"
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=60, check=False,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 2 and r.stderr.startswith("srndec: error: cannot write to standard output"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_garbage_on_stdin_is_named_plainly(tmp_path):
    r = _cli("srnenc", "-", "-o", tmp_path / "x.srn", "--device", "cpu", input="not an image at all")
    assert r.returncode == 2 and "BytesIO" not in r.stderr and " at 0x" not in r.stderr, r.stderr
    assert "the input data is not in a format Pillow reads" in r.stderr


def test_latent_file_refuses_an_oversized_render_before_rendering(srn_file):
    start = time.perf_counter()
    with pytest.raises(sirencodec.FormatError, match="outside"):
        sirencodec.decode(srn_file.read_bytes(), size=(100000, 100000))
    assert time.perf_counter() - start < 1.0


def test_a_one_row_image_reports_no_ssim_rather_than_nan(tmp_path):
    """SSIM has no window on an image under 3 pixels on a side: the summary says n/a."""
    from click.testing import CliRunner
    from PIL import Image

    from sirencodec.cli import srnenc

    src = tmp_path / "row.png"
    Image.fromarray(np.arange(0, 240, 4, dtype=np.uint8)[None, :]).save(src)
    r = CliRunner().invoke(srnenc, [str(src), "-o", str(tmp_path / "row.srn"), "--latent-steps", "5", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "SSIM n/a" in r.output and "nan" not in r.output.lower()
