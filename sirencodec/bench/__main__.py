"""``python -m sirencodec.bench``: same as the ``srnbench`` command."""

import sys

from .cli import main

sys.exit(main())
