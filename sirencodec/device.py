"""The torch device an encoder trains on."""

from __future__ import annotations

from .errors import InputError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto"):
    """A ``torch.device``: 'auto' picks CUDA when present; 'cuda' without a GPU is an input error."""
    import torch

    if name not in DEVICES:
        raise InputError(f"device must be auto, cpu or cuda, got '{name}'")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda requested but no CUDA device is available")
    return torch.device(name)
