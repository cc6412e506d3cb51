"""Read points out of a density map: count-guided peaks, in image pixels.

Landmark read-outs (one refined peak per channel) live in ``napari_gst.landmarks``.
"""

from __future__ import annotations

import numpy as np
from skimage.feature import peak_local_max

from .._validation import as_stride


def _as_density(density: object) -> np.ndarray:
    """Return ``density`` as a finite 2-D float64 array, or raise a ValueError naming it."""
    array = np.asarray(density, dtype=np.float64)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"density must be a non-empty 2D (h, w) map, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("density contains NaN or infinite values")
    return array


def cells_to_pixels(cells: np.ndarray, stride: int) -> np.ndarray:
    """Return (row, col) image-pixel coordinates of (fractional) density-cell coordinates.

    Cell (r, c) covers pixels [r*s, (r+1)*s), so its centre is at pixel r*s + (s-1)/2.
    """
    cells = np.asarray(cells, dtype=np.float64).reshape(-1, 2)
    return cells * stride + (stride - 1) / 2.0


def _refine(density: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Return the peaks moved to the mass centroid of their 3 x 3 neighbourhood (cell units)."""
    # A centroid over the clipped 3 x 3 window gives sub-cell positions, which matters at
    # stride 8 where one cell spans 8 pixels.
    padded = np.pad(density, 1)
    offsets = np.array([-1, 0, 1], dtype=np.float64)
    refined = peaks.astype(np.float64).copy()
    for index, (row, col) in enumerate(peaks):
        window = np.clip(padded[row : row + 3, col : col + 3], 0.0, None)
        total = window.sum()
        if total > 0:
            refined[index, 0] += float(offsets @ window.sum(axis=1)) / total
            refined[index, 1] += float(offsets @ window.sum(axis=0)) / total
    return refined


def count_guided_peaks(
    density: object,
    stride: int = 1,
    *,
    count: float | None = None,
    min_distance: int = 1,
    threshold: float = 0.05,
) -> np.ndarray:
    """Return up to round(count) local maxima of a density map as (row, col) image pixels.

    The count (default: the density's sum) caps the number of peaks, so detections agree with
    the predicted count where the density has that many separate maxima.

    Parameters
    ----------
    density : (h, w) array
        Density map at ``stride`` (one value per stride x stride cell).
    stride : int
        Pixels per density cell.
    count : float, optional
        Expected number of objects; default ``density.sum()``.
    min_distance : int
        Smallest separation between peaks, in cells.
    threshold : float
        Peaks must exceed this fraction of the map's maximum: drops the flat low-density
        background's plateau maxima (measured on the demo model: F1 0.61 -> 0.71 at 1e-3 -> 0.05).

    Returns
    -------
    (K, 2) float64 array of (row, col) in image pixels, strongest peak first.

    Examples
    --------
    >>> density = np.zeros((8, 8)); density[2, 3] = 1.0; density[6, 6] = 0.9
    >>> count_guided_peaks(density, stride=1)
    array([[2., 3.],
           [6., 6.]])
    """
    density = _as_density(density)
    stride = as_stride(stride)
    total = float(density.sum()) if count is None else float(count)
    if not np.isfinite(total) or total < 0:
        raise ValueError(f"count must be a non-negative number, got {count!r}")
    wanted = int(round(total))
    peak_value = float(density.max())
    if wanted == 0 or peak_value <= 0:
        return np.zeros((0, 2), dtype=np.float64)
    peaks = peak_local_max(
        density,
        min_distance=max(int(min_distance), 1),
        threshold_abs=threshold * peak_value,
        num_peaks=wanted,
        exclude_border=False,
    )
    return cells_to_pixels(_refine(density, peaks), stride)
