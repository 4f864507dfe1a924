"""The command-line tools: ``srnenc`` (encode), ``srndec`` (decode), ``srninfo`` (inspect).

Each command parses options, calls the library, prints; any SrnError becomes one line on
stderr and exit code 2, an interrupt exit code 130.  Output files are written atomically.
(``srnbench`` is ``sirencodec.bench.cli``.)
"""

from .srndec import srndec
from .srnenc import srnenc
from .srninfo import srninfo

__all__ = ["srnenc", "srndec", "srninfo"]
