"""Training progress, one type for both codecs, and the two ways it is shown.

An encoder calls ``progress(stage, step, total, psnr)`` after training steps: ``stage`` names
what is training ("fit", "prune", "qat" for a SIREN, "latent" for the latent network; rate
control prefixes its tries, e.g. "q3 fit"), ``psnr`` is the training batch's PSNR in dB when
it was read back (not every step: a read-back synchronises a GPU), else None.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Progress = Callable[[str, int, int, "float | None"], None]


def prefixed(progress: Progress | None, prefix: str) -> Progress | None:
    """``progress`` with ``prefix`` before every stage name (None stays None)."""
    if progress is None:
        return None
    return lambda stage, step, total, psnr: progress(f"{prefix} {stage}", step, total, psnr)


class ProgressBars:
    """One tqdm bar per training stage, with the live PSNR; a no-op when disabled."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.stage = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()

    def update(self, stage: str, step: int, total: int, psnr: float | None) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if stage != self.stage or self.bar is None:
            if self.bar is not None:
                self.bar.close()
            self.bar = tqdm(total=total, desc=f"{stage:>5}", unit="step", leave=True, dynamic_ncols=True)
            self.stage = stage
        if psnr is not None:
            self.bar.set_postfix_str(f"PSNR {psnr:.2f} dB", refresh=False)
        self.bar.update(step - self.bar.n)  # tqdm redraws at most every 0.1 s


class ThrottledLines:
    """Progress as an occasional line (at most one per ``every`` seconds) through ``echo``:
    for logs, where a bar would be noise."""

    def __init__(self, echo: Callable[[str], None], every: float = 60.0) -> None:
        self.echo, self.every = echo, every
        self.last = time.monotonic()

    def __call__(self, stage: str, step: int, total: int, psnr: float | None) -> None:
        now = time.monotonic()
        if psnr is not None and now - self.last >= self.every:
            self.last = now
            self.echo(f"    {stage} {step}/{total}: {psnr:.2f} dB (training batch)")
