"""Read points out of a density map: one per unit of mass, placed in its basin, in pixels.

Landmark read-outs (one refined peak per channel) live in ``napari_gst.landmarks``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.feature import peak_local_max
from skimage.segmentation import watershed

from .._validation import as_stride

DETECTION_METHODS = ("basins", "peaks")


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


def _apportion(masses: np.ndarray, total: int) -> np.ndarray:
    """Return integers summing to ``total`` in proportion to ``masses`` (largest remainders)."""
    masses = np.clip(np.asarray(masses, dtype=np.float64), 0.0, None)
    if total <= 0 or masses.sum() <= 0:
        return np.zeros(len(masses), dtype=np.int64)
    quotas = masses * (total / masses.sum())
    counts = np.floor(quotas).astype(np.int64)
    # Stable sort: equal remainders go to the earlier (stronger) basin.
    order = np.argsort(-(quotas - counts), kind="stable")
    counts[order[: total - int(counts.sum())]] += 1
    return counts


def _place(coords: np.ndarray, weights: np.ndarray, n: int, iterations: int = 25) -> np.ndarray:
    """Return ``n`` weighted k-means centres of one basin's cells (its centroid when n = 1)."""
    if not weights.sum() > 0:  # densities so faint that their powers underflow
        weights = np.ones_like(weights)
    if n == 1 or len(coords) <= n:
        if len(coords) <= n and n > 1:
            # Fewer cells than objects: every cell holds one, the rest stack on the heaviest.
            extra = coords[np.argsort(-weights, kind="stable")[: n - len(coords)]]
            return np.concatenate([coords, extra])
        return (coords * weights[:, None]).sum(axis=0, keepdims=True) / weights.sum()
    # Start from the n heaviest cells; Lloyd iterations then spread the centres over the basin.
    centres = coords[np.argsort(-weights, kind="stable")[:n]].copy()
    for _ in range(iterations):
        nearest = ((coords[:, None, :] - centres[None]) ** 2).sum(axis=-1).argmin(axis=1)
        mass = np.bincount(nearest, weights, minlength=n)
        moved = centres.copy()
        filled = mass > 0
        for axis in range(2):
            sums = np.bincount(nearest, weights * coords[:, axis], minlength=n)
            moved[filled, axis] = sums[filled] / mass[filled]
        if np.allclose(moved, centres):
            break
        centres = moved
    return centres


def count_guided_peaks(
    density: object,
    stride: int = 1,
    *,
    count: float | None = None,
    min_distance: int = 1,
    threshold: float = 0.05,
    sharpness: float = 2.0,
    method: str = "basins",
) -> np.ndarray:
    """Return round(count) points of a density map, one per unit of mass, in image pixels.

    ``method="basins"`` (default): each local maximum claims the cells that drain to it (a
    watershed of the density); the count is shared among these basins by their mass, and a
    basin holding k objects gets k points, the weighted k-means centres of its cells.
    Touching objects that merge into one peak (common at stride 4 and above) so still get a
    point each. ``method="peaks"``: at most round(count) local maxima, each moved to the
    mass centre of its 3 x 3 cells: fewer, surer points (VGG cells, GST: precision 0.93,
    recall 0.45, against 0.86 and 0.87 for basins; docs/parts/bench-accuracy.md).

    Parameters
    ----------
    density : (h, w) array
        Density map at ``stride`` (one value per stride x stride cell).
    stride : int
        Pixels per density cell.
    count : float, optional
        Expected number of objects; default ``density.sum()``.
    min_distance : int
        Smallest separation between maxima that start basins, in cells.
    threshold : float
        Maxima must exceed this fraction of the map's maximum: drops the flat low-density
        background's plateau maxima (measured on the demo model: F1 0.61 -> 0.71 at 1e-3 -> 0.05).
    sharpness : float
        Basins: cells weigh density ** sharpness when points are placed, so the bright
        cores, not the tails, decide where they go (VGG cells, validation images, GST model
        of draw 0: F1 0.81 at 1, 0.86 at 2, 0.84 at 3; docs/parts/bench-accuracy.md).
    method : "basins" or "peaks".

    Returns
    -------
    (K, 2) float64 array of (row, col) in image pixels, the strongest basin's first.

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
    if isinstance(sharpness, bool) or not isinstance(sharpness, (int, float)) or sharpness <= 0:
        raise ValueError(f"sharpness must be a positive number, got {sharpness!r}")
    if method not in DETECTION_METHODS:
        raise ValueError(f"method must be one of {', '.join(DETECTION_METHODS)}, got {method!r}")
    wanted = int(round(total))
    peak_value = float(density.max())
    if wanted == 0 or peak_value <= 0:
        return np.zeros((0, 2), dtype=np.float64)
    peaks = peak_local_max(
        density,
        min_distance=max(int(min_distance), 1),
        threshold_abs=threshold * peak_value,
        num_peaks=wanted if method == "peaks" else np.inf,
        exclude_border=False,
    )
    if method == "peaks":
        return cells_to_pixels(_refine(density, peaks), stride)
    return cells_to_pixels(_basin_points(density, peaks, wanted, sharpness), stride)


def _basin_points(density: np.ndarray, peaks: np.ndarray, wanted: int, sharpness: float):
    """Return ``wanted`` points (cell units) shared among the peaks' watershed basins by mass."""
    if len(peaks) == 0:
        return np.zeros((0, 2), dtype=np.float64)
    markers = np.zeros(density.shape, dtype=np.int64)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    basins = watershed(-density, markers, mask=density > 0)
    positive = np.clip(density, 0.0, None)
    labels = np.arange(1, len(peaks) + 1)
    counts = _apportion(ndimage.sum_labels(positive, basins, labels), wanted)
    points = []
    boxes = ndimage.find_objects(basins, max_label=len(peaks))
    for label, (box, n) in enumerate(zip(boxes, counts, strict=True), start=1):
        if n == 0 or box is None:
            continue
        rows, cols = np.nonzero(basins[box] == label)
        coords = np.column_stack([rows + box[0].start, cols + box[1].start]).astype(np.float64)
        weights = positive[box][rows, cols] ** sharpness
        points.append(_place(coords, weights, int(n)))
    return np.concatenate(points) if points else np.zeros((0, 2), dtype=np.float64)
