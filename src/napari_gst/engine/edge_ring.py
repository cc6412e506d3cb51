"""The ring of density cells along a whole image's edge, and the gain calibration gives it.

Training crops give a cell that a crop's edge cuts the share of its Gaussian inside the crop
(``TransportKernel.crop``), so the network learns to count half a cell as half a count; at
an image's own edge, the annotation counts a dot inside the image as 1. A model therefore
counts the outermost cells of an image low (on VGG cells 0.58 of their dots; the next ring
is already right: docs/parts/bench-accuracy.md, "The image's edge"). Calibration measures one
gain for this ring on the training images; prediction applies it after tiling and views,
because only the whole image has this edge.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from ..models import EDGE_GAIN

EDGE_CELLS = 1
"""Width of the edge ring in density cells (the ring that needed a gain on VGG cells)."""


def cells_to_edge(grid_shape: tuple[int, int]) -> np.ndarray:
    """Return the (h, w) integer distance of each cell to the grid's border (0 on it)."""
    height, width = grid_shape
    rows = np.arange(height)[:, None]
    cols = np.arange(width)[None, :]
    return np.minimum(np.minimum(rows, height - 1 - rows), np.minimum(cols, width - 1 - cols))


def edge_mask(grid_shape: tuple[int, int], cells: int = EDGE_CELLS) -> np.ndarray:
    """Return a boolean (h, w) mask of the cells within ``cells`` of the grid's border."""
    return cells_to_edge(grid_shape) < cells


def edge_gain_of(model: nn.Module) -> float:
    """Return ``model``'s edge gain (1 for a network without one)."""
    buffer = getattr(model, EDGE_GAIN, None)
    return 1.0 if buffer is None else float(buffer)


def split_counts(density: np.ndarray) -> tuple[float, float]:
    """Return (inside, edge ring) sums of an (h, w) density."""
    mask = edge_mask(density.shape)
    edge = float(density[mask].sum(dtype=np.float64))
    return float(density.sum(dtype=np.float64)) - edge, edge


def split_points(points: np.ndarray, grid_shape: tuple[int, int], stride: int) -> tuple[int, int]:
    """Return the numbers of (row, col) pixel ``points`` (inside, in the edge ring's cells)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    rows = np.clip(np.floor(points[:, 0] / stride).astype(int), 0, grid_shape[0] - 1)
    cols = np.clip(np.floor(points[:, 1] / stride).astype(int), 0, grid_shape[1] - 1)
    edge = int(edge_mask(grid_shape)[rows, cols].sum())
    return len(points) - edge, edge


def apply_edge_gain(density: np.ndarray, gain: float) -> np.ndarray:
    """Return a (C, h, w) whole-image density with its edge ring multiplied by ``gain``."""
    if gain == 1.0:
        return density
    scaled = density.copy()
    scaled[:, edge_mask(density.shape[1:])] *= gain
    return scaled
