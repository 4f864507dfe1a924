"""What the three commands share: one-line errors with exit codes, reading input files."""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import threading
import warnings

import click

from ..errors import InputError, SrnError
from ..limits import MAX_FILE_BYTES


def fail(prog: str, message: str, code: int = 2):
    click.echo(f"{prog}: error: {message}", err=True)
    sys.exit(code)


class Command(click.Command):
    """A click command whose usage errors are one line too (``prog: error: ...``, exit 2)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            fail(self.name or "sirencodec", exc.format_message().splitlines()[0], exc.exit_code)
        except click.exceptions.Abort:
            fail(self.name or "sirencodec", "interrupted", 130)
        sys.exit(rv if isinstance(rv, int) else 0)


def command(name: str):
    return click.command(name, cls=Command, context_settings={"help_option_names": ["-h", "--help"]})


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised where the program is, so that it unwinds (and removes its
    temporary files) as it does on Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


RESIGNAL_S = 1.0  # a termination signal whose exception was swallowed is delivered again after this long
_resignal: threading.Timer | None = None


def _terminate(signum, frame):
    """Raise Terminated where the program is. Python swallows an exception raised inside a
    finalizer or weakref callback (torch's compiler runs some), so the signal is also sent
    again after RESIGNAL_S seconds until ``handle_errors`` has caught its exception. Warnings
    are silenced from here on: the program's last words are its one-line message, not what
    torch reports about the computation the signal broke off."""
    global _resignal
    warnings.simplefilter("ignore")
    if _resignal is None:
        _resignal = threading.Timer(RESIGNAL_S, _send_again, (signum,))
        _resignal.daemon = True
        _resignal.start()
    raise Terminated(signum)


def _interrupt(signum, frame):
    """Ctrl-C: KeyboardInterrupt, as Python's own handler raises it, with warnings silenced
    as for a termination signal."""
    warnings.simplefilter("ignore")
    raise KeyboardInterrupt


def _cancel_resignal() -> None:
    global _resignal
    if _resignal is not None:
        _resignal.cancel()
        _resignal = None


def _send_again(signum: int) -> None:
    global _resignal
    _resignal = None
    os.kill(os.getpid(), signum)


def _unraisable(previous):
    """sys.unraisablehook that drops a swallowed Terminated (it is raised again) and passes
    anything else to ``previous``."""
    def hook(unraisable):
        if not isinstance(unraisable.exc_value, Terminated):
            previous(unraisable)
    return hook


def handle_errors(prog: str):
    """Map the package's errors, interrupts and termination signals to a one-line message
    and an exit code (2 for bad input, 130 for Ctrl-C, 128 + N for signal N). A signal the
    process was started ignoring (``nohup`` ignores SIGHUP) stays ignored."""

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            ours = {signal.SIGTERM: (signal.SIG_DFL, _terminate), signal.SIGHUP: (signal.SIG_DFL, _terminate),
                    signal.SIGINT: (signal.default_int_handler, _interrupt)}
            previous, hook = {}, sys.unraisablehook
            if threading.current_thread() is threading.main_thread():
                previous = {s: signal.signal(s, new) for s, (default, new) in ours.items()
                            if signal.getsignal(s) is default}
                sys.unraisablehook = _unraisable(hook)
            try:
                with warnings.catch_warnings():
                    return fn(*args, **kwargs)
            except SrnError as exc:
                fail(prog, str(exc))
            except KeyboardInterrupt:
                fail(prog, "interrupted", 130)
            except Terminated as exc:
                _cancel_resignal()
                fail(prog, f"terminated by {signal.Signals(exc.signum).name}", 128 + exc.signum)
            except MemoryError:
                fail(prog, "out of memory", 1)
            finally:
                for s, handler in previous.items():
                    signal.signal(s, handler)
                sys.unraisablehook = hook
        return inner

    return wrap


def write_stdout(data: bytes) -> None:
    """``data`` to standard output; InputError (not a traceback) when it is closed or gone."""
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except (AttributeError, OSError, ValueError) as exc:
        reason = "it is closed" if isinstance(exc, (AttributeError, ValueError)) else exc.strerror or exc
        raise InputError(f"cannot write to standard output: {reason}") from None


def json_line(report: dict) -> str:
    """``report`` as one line of strict JSON (an infinite PSNR becomes null)."""
    from ..result import json_safe

    return json.dumps(json_safe(report), allow_nan=False)


def read_input(path: str) -> bytes:
    """Read a file (or stdin for '-') up to the format's size cap."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{path} is larger than the {MAX_FILE_BYTES}-byte limit of a .srn file")
    return data


def parse_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"--size must look like WIDTHxHEIGHT (e.g. 512x512), got '{text}'") from None
    if w < 1 or h < 1:
        raise InputError(f"--size must be positive, got '{text}'")
    return w, h
