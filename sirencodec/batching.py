"""Encoding many images: which networks train together, and finishing their files in parallel.

Networks of one kind and shape train in one batch (``latent.fit.fit_latent_batch``): on a GPU
one network leaves the device almost idle, so a batch is where its throughput comes from; on
a CPU a batch runs at least as fast as its networks in turn (docs/results/batching/).  A
batch is limited by memory: training takes about ``TRAIN_BYTES_PER_PIXEL`` per pixel and
network.  After training, each file's bit widths are chosen on real files, written, decoded
and measured (numpy, one core each): ``Finisher`` spreads that over worker processes, which
on a GPU finish one batch's files while the next batch trains.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

# Peak memory of latent training per pixel and network (float32 activations, gradients,
# Adam state), gray or RGB (docs/results/batching/README.md); the SIREN's is
# siren.encode.SIREN_BYTES_PER_UNIT per pixel and hidden unit.
TRAIN_BYTES_PER_PIXEL = 1100
CPU_MEMORY_SHARE = 0.25  # a CPU batch uses at most this share of the machine's memory ...
GPU_MEMORY_SHARE = 0.6  # ... a GPU batch this share of the device's free memory


def memory_budget(device) -> int:
    """Bytes a training batch may take on ``device`` (a torch.device)."""
    if device.type == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return int(GPU_MEMORY_SHARE * free)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return int(CPU_MEMORY_SHARE * total)


def batch_limit(height: int, width: int, device, limit: int | None = None,
                bytes_per_pixel: int = TRAIN_BYTES_PER_PIXEL) -> int:
    """How many networks training on H x W pixels fit one batch on ``device``: as many as
    memory holds at ``bytes_per_pixel`` each (at least one), at most ``limit`` when given."""
    fits = max(1, memory_budget(device) // (bytes_per_pixel * height * width))
    return fits if limit is None else max(1, min(fits, limit))


def batches(shapes: Sequence[tuple], limit: Callable[[tuple], int]) -> list[list[int]]:
    """Indices of ``shapes`` grouped by shape (first appearance order), each group cut into
    batches of at most ``limit(shape)``."""
    groups: dict[tuple, list[int]] = {}
    for index, shape in enumerate(shapes):
        groups.setdefault(tuple(shape), []).append(index)
    out = []
    for shape, indices in groups.items():
        size = limit(shape)
        out += [indices[i: i + size] for i in range(0, len(indices), size)]
    return out


def default_workers(jobs: int) -> int:
    """Worker processes for finishing ``jobs`` files: one per core, at most one per file."""
    return max(1, min(jobs, os.cpu_count() or 1))


class Finisher:
    """Runs ``finish(*job)`` calls on ``workers`` forked processes when more than one and the
    platform forks (else at once, in the caller). Each worker runs torch on one thread, as
    PyTorch's own data-loader workers do after a fork, so that it does not wait on the
    parent's thread pool; workers never touch a GPU, so the parent may go on training on one
    while they finish files."""

    def __init__(self, workers: int = 1):
        import multiprocessing

        self.pool = None
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                            initializer=_one_thread)

    def submit(self, finish: Callable[..., Any], *job: Any) -> Future:
        if self.pool is not None:
            return self.pool.submit(finish, *job)
        done: Future = Future()
        done.set_result(finish(*job))
        return done

    def __enter__(self) -> Finisher:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=exc[0] is None, cancel_futures=exc[0] is not None)


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)
