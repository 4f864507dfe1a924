"""What the three commands share: one-line errors with exit codes, reading input files."""

from __future__ import annotations

import functools
import sys

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


def handle_errors(prog: str):
    """Map the package's errors and interrupts to a one-line message and an exit code."""

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except SrnError as exc:
                fail(prog, str(exc))
            except KeyboardInterrupt:
                fail(prog, "interrupted", 130)
            except MemoryError:
                fail(prog, "out of memory", 1)
        return inner

    return wrap


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
