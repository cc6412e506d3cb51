"""Time each training loss (forward + backward) on synthetic cell images of given sizes.

This is the quick comparison behind ``napari-gst bench``: the GST loss applies a sparse
kernel built once per crop, the Bayesian loss builds a dense N x P posterior every step and
the OT loss runs Sinkhorn iterations, so their costs grow differently with image size.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

LOSS_NAMES = ("gst", "l2", "bayesian", "ot")
STRIDE = 4
# A short fit is enough here: only the kernel's sparsity pattern affects the timing.
_FIT_ITERATIONS = 30


def _target(size: int, seed: int):
    """Return (kernel, number of points) for a synthetic size x size cells image."""
    from ..data import make_cells
    from ..splat import fit_gaussians
    from ..transport import build_kernel

    image, points = make_cells((size, size), seed=seed)
    fit = fit_gaussians(image, points, iterations=_FIT_ITERATIONS, device="cpu")
    return build_kernel(fit, (size, size), STRIDE), len(points)


def _time_loss(loss, density: torch.Tensor, targets: list, repeats: int) -> float:
    """Return the median milliseconds of one forward + backward pass."""
    timings = []
    for _ in range(repeats + 1):  # the first pass warms caches and is not counted
        density.grad = None
        start = time.perf_counter()
        loss(density, targets).backward()
        timings.append(1000 * (time.perf_counter() - start))
    return sorted(timings[1:])[len(timings[1:]) // 2]


def time_losses(
    sizes: Sequence[int], *, repeats: int = 5, losses: Sequence[str] = LOSS_NAMES
) -> list[dict]:
    """Return one row per (loss, size): {"loss", "size", "n_points", "ms"} (CPU, median)."""
    from ..losses import make_loss

    rows = []
    for size in sizes:
        kernel, n_points = _target(int(size), seed=int(size))
        grid = kernel.grid_shape
        generator = torch.Generator().manual_seed(0)
        density = (torch.rand((1, 1, *grid), generator=generator) * 0.01).requires_grad_()
        for name in losses:
            ms = _time_loss(make_loss(name), density, [kernel], repeats)
            rows.append({"loss": name, "size": int(size), "n_points": n_points, "ms": ms})
    return rows
