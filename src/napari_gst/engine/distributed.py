"""Data-parallel training helpers over torch.distributed (gloo on CPU, nccl on CUDA).

Launch with ``torchrun --nproc_per_node=K -m napari_gst.cli train ...``: torchrun sets
RANK/WORLD_SIZE/MASTER_ADDR, and :func:`init_from_environment` joins the process group.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def init_from_environment(device: torch.device) -> bool:
    """Join the process group described by torchrun's variables; return True if distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size() > 1
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return dist.get_world_size() > 1


def is_distributed() -> bool:
    """Return True inside a process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """Return this process's rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Return the number of processes (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def local_device(device: torch.device) -> torch.device:
    """Return the GPU of this process's local rank for CUDA, else ``device``."""
    if device.type == "cuda" and is_distributed():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """Return ``model`` wrapped in DistributedDataParallel when distributed, else unchanged."""
    if not is_distributed():
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def any_rank(flag: bool, device: torch.device) -> bool:
    """Return True on every process if ``flag`` is True on any (e.g. a stop request)."""
    if not is_distributed():
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def mean_over_ranks(value: float, device: torch.device) -> float:
    """Return the mean of ``value`` over all processes (the value itself when alone)."""
    if not is_distributed():
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return float(tensor.item()) / world_size()


def barrier() -> None:
    """Wait for every process (no-op when not distributed)."""
    if is_distributed():
        dist.barrier()
