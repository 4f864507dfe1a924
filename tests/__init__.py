"""sirencodec's test suite, laid out like the package (format/, siren/, latent/, cli/, bench/)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository's root
GOLDEN = ROOT / "tests" / "format" / "golden"  # the golden vectors (format_spec.md section 9)
