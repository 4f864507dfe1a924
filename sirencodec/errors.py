"""The package's exception types.

Every problem with a `.srn` file raises :class:`FormatError`; every problem with a
user-supplied image or option raises :class:`InputError`.  Both are ``ValueError``
subclasses so callers may catch either the specific or the generic type.  The CLIs turn
any :class:`SrnError` into a one-line message on stderr and exit code 2.
"""


class SrnError(ValueError):
    """Base class of all errors sirencodec raises on purpose."""


class FormatError(SrnError):
    """A `.srn` byte string is malformed, truncated, corrupt or exceeds a decoder limit."""


class InputError(SrnError):
    """An input image or an option cannot be used (unreadable, empty, out of range)."""
