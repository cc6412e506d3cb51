"""build_cropped_kernel: the kernel of one crop, built from the fit alone, not the whole image."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._validation import as_shape
from ..errors import GSTError
from .build import DEFAULT_CUTOFF, kernel_frame
from .crop import (
    cell_window,
    centres_inside,
    check_box,
    check_crop_mass,
    merge_columns,
    pad_grid_rows,
    window_fractions,
)
from .geometry import EllipseCells, Gaussians, ellipse_cells, grid_shape_for
from .kernel import DEFAULT_MIN_FRACTION, TransportKernel


def build_cropped_kernel(
    fit: object,
    shape: tuple[int, int],
    stride: int,
    box: tuple[int, int, int, int],
    *,
    frame_shape: tuple[int, int] | None = None,
    min_fraction: float = DEFAULT_MIN_FRACTION,
    crop_mass: str = "fraction",
    sigma_range: tuple[float, float] | None = None,
    scale: float = 1.0,
    background: bool = True,
    beta: float = 0.015,
    background_distance: float = 3.0,
    cutoff: float = DEFAULT_CUTOFF,
) -> TransportKernel:
    """Return the kernel of the pixel ``box`` of an image, evaluating only the box's cells.

    The result equals ``build_kernel(fit, shape, stride, ...)``, padded at the bottom/right
    to ``frame_shape`` (padding cells are background) and then ``.crop(*box,
    min_fraction=...)``, up to float rounding of the crop masses; but its cost is that of the
    box, not of the image. Training on small random crops of large images builds one such
    kernel per sample, so this is what makes GST's per-sample kernels cheap.

    Parameters
    ----------
    fit, shape, stride, sigma_range, scale, background, beta, background_distance, cutoff :
        as for :func:`napari_gst.transport.build_kernel`.
    box : (top, left, height, width) in the (padded) frame, in pixels; ``top`` and ``left``
        multiples of the stride (see ``TransportKernel.crop``).
    frame_shape : (H, W) of the padded frame the box lies in (default: ``shape``, no padding).
    min_fraction : points with less of their Gaussian inside the box are dropped (their
        column joins the background), as in ``TransportKernel.crop``.
    crop_mass : "fraction" or "centre": how a point near the box's edge gets its target
        mass, as in ``TransportKernel.crop``.
    """
    frame = kernel_frame(fit, shape, stride, sigma_range, scale, background, beta,
                     background_distance, cutoff)  # fmt: skip
    padded = frame.shape if frame_shape is None else as_shape(frame_shape, "frame_shape")
    if padded[0] < frame.shape[0] or padded[1] < frame.shape[1]:
        raise GSTError(f"frame_shape {padded} is smaller than the image shape {frame.shape}")
    if not 0.0 <= float(min_fraction) <= 1.0:
        raise GSTError(f"min_fraction must lie in [0, 1], got {min_fraction!r}")
    check_crop_mass(crop_mass)
    top, left, height, width = check_box(box, padded, frame.stride)
    padded_grid = grid_shape_for(padded, frame.stride)
    window = cell_window((top, left, height, width), padded_grid, frame.stride)
    rows = _window_rows(frame, window)
    if crop_mass == "centre":
        mass = centres_inside(frame.points, (top, left, height, width))
    else:
        # Crop masses as TransportKernel.crop computes them: over the padded frame's cells,
        # with the Gaussians rebuilt from the stored covariances.
        gaussians = Gaussians.from_covariances(frame.gaussians.covariances)
        mass = window_fractions(
            frame.points, gaussians, padded_grid, frame.stride, frame.cutoff, window
        )
    keep = (mass >= min_fraction) & (mass > 0)
    return TransportKernel(
        matrix=merge_columns(rows, keep),
        grid_shape=grid_shape_for((height, width), frame.stride),
        stride=frame.stride,
        image_shape=(height, width),
        points=frame.points[keep] - np.array([top, left], dtype=np.float64),
        mass=mass[keep],
        covariances=frame.gaussians.covariances[keep],
        ids=np.flatnonzero(keep).astype(np.int64),
        settings=frame.settings,
    )


def _window_rows(frame, window: tuple[int, int, int, int]) -> sp.csr_array:
    """Return K's rows for the cells of ``window`` (all N + 1 columns), in window order."""
    r0, r1, c0, c1 = window
    # The part of the window on the image's own grid; the rest is padding (background).
    image_r1, image_c1 = min(r1, frame.grid[0]), min(c1, frame.grid[1])
    n_columns = len(frame.points) + 1
    if r0 >= image_r1 or c0 >= image_c1:
        n_cells = (r1 - r0) * (c1 - c0)
        return sp.csr_array(
            (np.ones(n_cells, dtype=np.float32), np.full(n_cells, n_columns - 1),
             np.arange(n_cells + 1)),
            shape=(n_cells, n_columns),
        )  # fmt: skip
    inner = (image_r1 - r0, image_c1 - c0)
    entries = ellipse_cells(
        frame.points, frame.gaussians, frame.grid, frame.stride, frame.cutoff,
        window=(r0, image_r1, c0, image_c1),
    )  # fmt: skip
    row, col = np.divmod(entries.cell, frame.grid[1])
    local = ((row - r0) * inner[1] + (col - c0)).astype(entries.cell.dtype)
    rows = frame.posterior(EllipseCells(entries.counts, local, entries.m2), inner[0] * inner[1])
    if inner != (r1 - r0, c1 - c0):
        rows = pad_grid_rows(rows, inner, (r1 - r0, c1 - c0))
    return rows
