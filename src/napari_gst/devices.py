"""Device choice for the whole core: "auto" picks CUDA when torch can use it, else the CPU."""

from __future__ import annotations

import torch

from .errors import GSTError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Return the torch device for ``device`` ("auto", "cpu", "cuda" or "cuda:N").

    Raises
    ------
    GSTError
        For an unknown name, or "cuda" on a machine where torch sees no GPU.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise GSTError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {device!r}")
    name = device.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise GSTError(f"device {device!r} was requested but torch sees no CUDA GPU")
        return torch.device(name)
    raise GSTError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {device!r}")


def describe_device(device: torch.device) -> str:
    """Return a short human label for a device, e.g. "cpu (2 threads)" or "cuda:0 (H100)"."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return f"cpu ({torch.get_num_threads()} threads)"
