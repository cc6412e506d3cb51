"""Crops and flips of a transport kernel: exact row selections of K plus the points' new masses."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from ..errors import GSTError
from .geometry import Gaussians, cell_boxes, ellipse_cells, grid_shape_for

if TYPE_CHECKING:  # pragma: no cover
    from .kernel import TransportKernel

# How a crop sets the target mass of a point near its edge: "fraction" gives it the share of
# its Gaussian inside the crop; "centre" gives it its whole mass when the annotated centre lies
# in the crop and drops it otherwise, the convention by which whole images are counted (an
# image's own edge cuts cells too, and their dots still count 1).
CROP_MASSES = ("fraction", "centre")


def check_crop_mass(crop_mass: object) -> str:
    """Return ``crop_mass`` if it names a rule of :data:`CROP_MASSES`, else raise GSTError."""
    if crop_mass not in CROP_MASSES:
        raise GSTError(f"crop_mass must be one of {CROP_MASSES}, got {crop_mass!r}")
    return str(crop_mass)


def centres_inside(points: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Return 1.0 for each (row, col) point whose pixel lies in the box, else 0.0.

    Pixel centres sit at integer coordinates, so the box's pixels cover
    [top - 0.5, top + height - 0.5) x [left - 0.5, left + width - 0.5).
    """
    top, left, height, width = box
    rows, cols = points[:, 0], points[:, 1]
    inside = (
        (rows >= top - 0.5) & (rows < top + height - 0.5)
        & (cols >= left - 0.5) & (cols < left + width - 0.5)
    )  # fmt: skip
    return inside.astype(np.float64)


def check_box(
    box: tuple[int, int, int, int], image_shape: tuple[int, int], stride: int
) -> tuple[int, int, int, int]:
    """Return the crop box as ints, or raise GSTError if it leaves the image or the stride grid."""
    names = ("top", "left", "height", "width")
    values = []
    for name, value in zip(names, box, strict=True):
        if isinstance(value, bool) or not float(value).is_integer():
            raise GSTError(f"crop {name} must be an integer number of pixels, got {value!r}")
        values.append(int(value))
    top, left, height, width = values
    if height < 1 or width < 1:
        raise GSTError(f"crop height and width must be positive, got {height} x {width}")
    for name, start, size, extent in (
        ("top", top, height, image_shape[0]),
        ("left", left, width, image_shape[1]),
    ):
        if start < 0 or start + size > extent:
            raise GSTError(
                f"crop box ({top}, {left}, {height}, {width}) leaves the image of shape "
                f"{image_shape[0]} x {image_shape[1]}"
            )
        if start % stride:
            raise GSTError(f"crop {name} ({start}) must be a multiple of the stride ({stride})")
        if size % stride and start + size != extent:
            raise GSTError(
                f"crop size {height} x {width} must be a multiple of the stride ({stride}) "
                "unless the box reaches the image edge"
            )
    return top, left, height, width


def cell_window(
    box: tuple[int, int, int, int], grid_shape: tuple[int, int], stride: int
) -> tuple[int, int, int, int]:
    """Return the crop's cell range (r0, r1, c0, c1), end-exclusive and clipped to the grid."""
    top, left, height, width = box
    r1 = min(-(-(top + height) // stride), grid_shape[0])
    c1 = min(-(-(left + width) // stride), grid_shape[1])
    return top // stride, r1, left // stride, c1


def gaussian_fractions(kernel: TransportKernel, window: tuple[int, int, int, int]) -> np.ndarray:
    """Return per point the fraction of its Gaussian mass (over this frame's cells) in ``window``.

    The Gaussian mass is the sum of exp(-m^2 / 2) over the frame's cell centres within the
    cut-off. Points whose cut-off box is wholly inside (outside) the window get 1 (0) without
    evaluating it; only points that straddle an edge are summed.
    """
    return window_fractions(
        kernel.points,
        Gaussians.from_covariances(kernel.covariances),
        kernel.grid_shape,
        kernel.stride,
        float(kernel.settings["cutoff"]),
        window,
    )


def window_fractions(
    points: np.ndarray,
    gaussians: Gaussians,
    grid_shape: tuple[int, int],
    stride: int,
    cutoff: float,
    window: tuple[int, int, int, int],
) -> np.ndarray:
    """Return per point the fraction of its Gaussian mass over the grid's cells in ``window``.

    The frame-free form of :func:`gaussian_fractions` (used before any kernel exists).
    """
    r0, r1, c0, c1 = window
    gh, gw = grid_shape
    first_r, count_r, first_c, count_c = cell_boxes(points, gaussians, stride, cutoff)
    # The part of each box inside this frame's grid, as end-exclusive cell ranges.
    lo_r, hi_r = np.maximum(first_r, 0), np.minimum(first_r + count_r, gh)
    lo_c, hi_c = np.maximum(first_c, 0), np.minimum(first_c + count_c, gw)
    inside = (lo_r >= r0) & (hi_r <= r1) & (lo_c >= c0) & (hi_c <= c1)
    outside = (hi_r <= r0) | (lo_r >= r1) | (hi_c <= c0) | (lo_c >= c1)
    fractions = np.where(inside, 1.0, 0.0)
    straddle = np.flatnonzero(~inside & ~outside)
    if len(straddle) == 0:
        return fractions
    entries = ellipse_cells(
        points[straddle], gaussians.subset(straddle), grid_shape, stride, cutoff
    )
    point = entries.point
    weight = np.exp(-0.5 * entries.m2)
    row, col = np.divmod(entries.cell, gw)
    in_window = (row >= r0) & (row < r1) & (col >= c0) & (col < c1)
    total = np.bincount(point, weights=weight, minlength=len(straddle))
    kept = np.bincount(point, weights=weight * in_window, minlength=len(straddle))
    fractions[straddle] = np.divide(kept, total, out=np.zeros_like(kept), where=total > 0)
    return fractions


def pad_grid_rows(
    matrix: sp.csr_array, grid_shape: tuple[int, int], padded_grid: tuple[int, int]
) -> sp.csr_array:
    """Return K's rows moved into a grid extended at the bottom/right; new cells are background.

    Cells of the original grid keep their rows exactly (padding at the far edges moves no
    cell); cells that exist only in the padding send everything to the last (background)
    column, since zero padding holds nothing to count.
    """
    old_rows, old_cols = grid_shape
    coo = matrix.tocoo()
    cell_row, cell_col = np.divmod(coo.row, old_cols)
    new_row = cell_row * padded_grid[1] + cell_col
    rows, cols = np.mgrid[: padded_grid[0], : padded_grid[1]]
    outside = ((rows >= old_rows) | (cols >= old_cols)).ravel()
    background_rows = np.flatnonzero(outside)
    n_columns = matrix.shape[1]
    padded = sp.csr_array(
        (
            np.concatenate([coo.data, np.ones(len(background_rows), dtype=coo.data.dtype)]),
            (
                np.concatenate([new_row, background_rows]),
                np.concatenate([coo.col, np.full(len(background_rows), n_columns - 1)]),
            ),
        ),
        shape=(padded_grid[0] * padded_grid[1], n_columns),
    )
    padded.sort_indices()
    return padded


def merge_columns(rows: sp.csr_array, keep: np.ndarray) -> sp.csr_array:
    """Return ``rows`` with the columns of dropped points added to the background column."""
    n_points = len(keep)
    n_kept = int(keep.sum())
    column_map = np.full(n_points + 1, n_kept, dtype=np.int32)
    column_map[:n_points][keep] = np.arange(n_kept, dtype=np.int32)
    merged = sp.csr_array(
        (rows.data, column_map[rows.indices], rows.indptr), shape=(rows.shape[0], n_kept + 1)
    )
    merged.sum_duplicates()
    return merged


def crop_kernel_parts(
    kernel: TransportKernel,
    box: tuple[int, int, int, int],
    min_fraction: float,
    crop_mass: str = "fraction",
) -> dict:
    """Return the changed fields of ``kernel`` cropped to ``box`` (see TransportKernel.crop)."""
    if not 0.0 <= float(min_fraction) <= 1.0:
        raise GSTError(f"min_fraction must lie in [0, 1], got {min_fraction!r}")
    check_crop_mass(crop_mass)
    top, left, height, width = check_box(box, kernel.image_shape, kernel.stride)
    window = cell_window((top, left, height, width), kernel.grid_shape, kernel.stride)
    r0, r1, c0, c1 = window
    gw = kernel.grid_shape[1]
    rows = (np.arange(r0, r1)[:, None] * gw + np.arange(c0, c1)[None, :]).ravel()
    if crop_mass == "centre":
        mass = kernel.mass * centres_inside(kernel.points, (top, left, height, width))
    else:
        mass = kernel.mass * gaussian_fractions(kernel, window)
    # The threshold applies to the mass (the fraction of the whole Gaussian), not to the
    # fraction of this frame, so a crop of a crop keeps the same points as the direct crop.
    keep = (mass >= min_fraction) & (mass > 0)
    return {
        "matrix": merge_columns(kernel.matrix[rows], keep),
        "grid_shape": grid_shape_for((height, width), kernel.stride),
        "image_shape": (height, width),
        "points": kernel.points[keep] - np.array([top, left], dtype=np.float64),
        "mass": mass[keep],
        "covariances": kernel.covariances[keep],
        "ids": kernel.ids[keep],
    }


def flip_rows(kernel: TransportKernel, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (row permutation of K, mirrored points) for a flip along image ``axis``."""
    if axis not in (0, 1):
        raise GSTError(f"flip axis must be 0 (rows) or 1 (columns), got {axis!r}")
    extent = kernel.image_shape[axis]
    if extent % kernel.stride:
        raise GSTError(
            f"cannot flip along axis {axis}: the image extent ({extent}) is not a multiple of "
            f"the stride ({kernel.stride}); crop or pad it to a multiple first"
        )
    gh, gw = kernel.grid_shape
    r = np.arange(gh)[:, None]
    c = np.arange(gw)[None, :]
    rows = ((gh - 1 - r) * gw + c) if axis == 0 else (r * gw + (gw - 1 - c))
    points = kernel.points.copy()
    points[:, axis] = extent - 1 - points[:, axis]
    return rows.ravel(), points


def transpose_rows(kernel: TransportKernel) -> tuple[np.ndarray, np.ndarray]:
    """Return (row permutation of K, swapped points) for swapping the image's rows and columns.

    Cell (r, c) of the transposed grid is cell (c, r) of this one; every extent is a whole
    number of cells in both frames, so no stride condition applies.
    """
    gh, gw = kernel.grid_shape
    r = np.arange(gw)[:, None]  # rows of the transposed grid
    c = np.arange(gh)[None, :]
    return (c * gw + r).ravel(), kernel.points[:, ::-1].copy()
