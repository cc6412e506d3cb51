"""Data-driven start of the fit: scales from point spacing, colours from the image, the region.

All three depend only on the image and the points, so a fit is deterministic.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import map_coordinates
from scipy.spatial import cKDTree

#: Neighbours used for the spacing estimate (method.md: the 3 nearest other points).
NEIGHBOURS = 3
#: sigma_0 = spacing / SPACING_PER_SIGMA, so the 3-sigma disc of a point reaches half-way to
#: its neighbours (the authors' choice for their fitting mask).
SPACING_PER_SIGMA = 6.0
#: The region is the union of discs of REGION_SIGMAS x the starting scale (half the spacing).
REGION_SIGMAS = 3.0
#: Smallest scale the parametrisation allows (method.md: sigma >= 1 px).
MIN_SIGMA = 1.0


def neighbour_spacing(points: np.ndarray) -> np.ndarray:
    """Return (N,) mean distance of each point to its (up to) 3 nearest other distinct points.

    Duplicate points are merged first, so a point repeated twice gets the spacing of its real
    neighbours rather than 0. Returns NaN where there is no other distinct point.
    """
    if len(points) == 0:
        return np.zeros(0)
    unique, inverse = np.unique(points, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    if len(unique) < 2:
        return np.full(len(points), np.nan)
    neighbours = min(NEIGHBOURS, len(unique) - 1)
    distances, _ = cKDTree(unique).query(unique, k=neighbours + 1)
    spacing = distances[:, 1:].mean(axis=1)  # column 0 is the point itself
    return spacing[inverse]


def initial_sigmas(points: np.ndarray, default_sigma: float) -> np.ndarray:
    """Return (N,) starting scales: spacing / 6, or ``default_sigma`` for a point on its own."""
    spacing = neighbour_spacing(points)
    sigmas = np.where(np.isfinite(spacing), spacing / SPACING_PER_SIGMA, default_sigma)
    return np.maximum(sigmas, MIN_SIGMA)


def sample_colours(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Return (N, C) colours of ``image`` (H, W, C) at ``points`` (row, col), bilinear.

    Points on the half-pixel border take the value of the nearest pixel.
    """
    coordinates = np.asarray(points, dtype=np.float64).T  # (2, N): rows then cols
    channels = [
        map_coordinates(image[:, :, channel], coordinates, order=1, mode="nearest")
        for channel in range(image.shape[2])
    ]
    return np.stack(channels, axis=-1).astype(np.float32).reshape(len(points), image.shape[2])


def region_mask(points: np.ndarray, radii: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Return the (H, W) bool union of discs of ``radii`` (N,) around ``points`` (N, 2)."""
    height, width = shape
    mask = np.zeros((height, width), dtype=bool)
    for (row, col), radius in zip(points, radii, strict=True):
        top, bottom = (
            max(int(np.floor(row - radius)), 0),
            min(int(np.ceil(row + radius)), height - 1),
        )
        left, right = (
            max(int(np.floor(col - radius)), 0),
            min(int(np.ceil(col + radius)), width - 1),
        )
        if top > bottom or left > right:
            continue
        rows = np.arange(top, bottom + 1)[:, None] - row
        cols = np.arange(left, right + 1)[None, :] - col
        mask[top : bottom + 1, left : right + 1] |= rows * rows + cols * cols <= radius * radius
    return mask


def fit_region(points: np.ndarray, shape: tuple[int, int], default_sigma: float) -> np.ndarray:
    """Return the (H, W) bool region the fit is scored on: the 3-sigma discs of the start.

    The radius is 3 x the starting scale, i.e. half the spacing to the nearest neighbours.
    """
    return region_mask(points, REGION_SIGMAS * initial_sigmas(points, default_sigma), shape)
