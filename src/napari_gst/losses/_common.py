"""Checks and geometry shared by the losses: batch shapes, per-channel targets, cell centres."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import GSTError
from ..transport.geometry import cell_centres, grid_shape_for

_TARGET_FIELDS = ("points", "mass", "image_shape", "stride")


def check_density(density: object, targets: object) -> Sequence:
    """Return ``targets`` as a sequence after checking it matches ``density`` (B, C, h, w)."""
    if not isinstance(density, torch.Tensor):
        raise GSTError(f"density must be a torch.Tensor, got {type(density).__name__}")
    if density.ndim != 4:
        raise GSTError(f"density must have shape (B, C, h, w), got {tuple(density.shape)}")
    if not density.is_floating_point():
        raise GSTError(f"density must be a floating-point tensor, got {density.dtype}")
    if isinstance(targets, (str, bytes)) or not isinstance(targets, Sequence):
        raise GSTError(f"targets must be a sequence of B targets, got {type(targets).__name__}")
    if len(targets) != density.shape[0]:
        raise GSTError(
            f"targets has {len(targets)} entries but density a batch of {density.shape[0]}"
        )
    return targets


def channel_targets(target: object, n_channels: int, index: int) -> list:
    """Return one target per channel: the target itself (C == 1) or its C entries."""
    if isinstance(target, (list, tuple)):
        if len(target) != n_channels:
            raise GSTError(
                f"target {index} has {len(target)} channel targets but density has "
                f"{n_channels} channels"
            )
        items = list(target)
    elif n_channels == 1:
        items = [target]
    else:
        raise GSTError(
            f"density has {n_channels} channels: target {index} must be a sequence of "
            f"{n_channels} targets, one per channel"
        )
    for item in items:
        missing = [name for name in _TARGET_FIELDS if not hasattr(item, name)]
        if missing:
            raise GSTError(
                f"target {index} ({type(item).__name__}) lacks {', '.join(missing)}: use a "
                "TransportKernel or a PointTarget"
            )
    return items


def check_grid(target: object, density_map: torch.Tensor, index: int) -> tuple[int, int]:
    """Return the target's grid shape, or raise GSTError when the density map's differs."""
    grid = grid_shape_for(tuple(target.image_shape), int(target.stride))  # type: ignore[attr-defined]
    if tuple(density_map.shape[-2:]) != grid:
        raise GSTError(
            f"density map {index} is {tuple(density_map.shape[-2:])} but its target (image "
            f"{tuple(target.image_shape)}, stride {target.stride}) needs {grid}"  # type: ignore[attr-defined]
        )
    return grid


def centres_tensor(
    grid: tuple[int, int], stride: int, like: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the cell-centre coordinates (rows (h,), cols (w,)) on ``like``'s device/dtype."""
    rows = torch.as_tensor(cell_centres(grid[0], stride), dtype=like.dtype, device=like.device)
    cols = torch.as_tensor(cell_centres(grid[1], stride), dtype=like.dtype, device=like.device)
    return rows, cols


def points_tensor(target: object, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (points (N, 2), mass (N,)) of a target as tensors on ``like``'s device/dtype."""
    points = np.asarray(target.points, dtype=np.float64).reshape(-1, 2)  # type: ignore[attr-defined]
    mass = np.asarray(target.mass, dtype=np.float64).reshape(-1)  # type: ignore[attr-defined]
    return (
        torch.as_tensor(points, dtype=like.dtype, device=like.device),
        torch.as_tensor(mass, dtype=like.dtype, device=like.device),
    )


def squared_distances(points: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Return the dense (N, h * w) squared pixel distances of points to cell centres."""
    d_rows = (points[:, 0, None] - rows[None, :]) ** 2
    d_cols = (points[:, 1, None] - cols[None, :]) ** 2
    return (d_rows[:, :, None] + d_cols[:, None, :]).reshape(len(points), -1)


class PerImageLoss(nn.Module):
    """A loss defined per image and channel: ``forward`` sums ``image_loss`` over the batch.

    Subclasses implement ``image_loss(density_map, target)`` for one (h, w) map; the batch
    value is the sum over images and channels divided by the batch size.
    """

    def image_loss(self, density_map: torch.Tensor, target: object) -> torch.Tensor:
        """Return the loss of one (h, w) density map against one target."""
        raise NotImplementedError

    def forward(self, density: torch.Tensor, targets) -> torch.Tensor:
        """Return the batch-mean loss of ``density`` (B, C, h, w) against ``targets``."""
        targets = check_density(density, targets)
        total = density.new_zeros(())
        for index, target in enumerate(targets):
            for channel, item in enumerate(channel_targets(target, density.shape[1], index)):
                check_grid(item, density[index, channel], index)
                total = total + self.image_loss(density[index, channel], item)
        return total / density.shape[0]
